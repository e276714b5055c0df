/**
 * A compiled sharded function: the lowering (traced program with propagated shardings)
 * partitioned into the per-core program, which can be printed per core and run on every
 * core of the mesh in lockstep in this process. The pod runs `partitioned` on its
 * worker-thread cores through the per-core executor instead.
 */
import { Tensor } from '../../program/tracer.js';
import type { TensorView } from '../../tpu/tensor.js';
import type { ShardedLowering } from '../api.js';
import { ShardingError } from '../errors.js';
import type { Mesh } from '../mesh.js';
import { type LockstepOptions, runSpmd } from '../spmd_interpreter.js';
import { dumpPartitioned } from './dump.js';
import { type PartitionedProgram, partition } from './partition.js';

export interface CompiledSpmd {
  readonly lowering: ShardedLowering;
  /** The per-core SPMD program with its input and output shardings. */
  readonly partitioned: PartitionedProgram;
  /** The partitioned program as text; with `core`, as that core sees it. */
  dump(core?: number): string;
  /** Runs every core in lockstep on global inputs; returns the assembled global outputs. */
  run(inputs: readonly (Tensor | TensorView)[], opts?: LockstepOptions): TensorView[];
}

export function compileLowering(lowering: ShardedLowering, mesh: Mesh | undefined, name = 'main'): CompiledSpmd {
  if (!mesh) throw new ShardingError('compile: the mesh option is needed to partition (jit(fn, { mesh, ... }))');
  const partitioned = partition(lowering.program, lowering.propagation.shardings, mesh, { outShardings: lowering.outShardings });
  return {
    lowering,
    partitioned,
    dump: (core?: number) => dumpPartitioned(partitioned, { name, ...(core !== undefined ? { core } : {}) }),
    run: (inputs, opts = {}) => runSpmd(partitioned, inputs.map((x) => (x instanceof Tensor ? x.value() : x)), opts).outputs,
  };
}
