/**
 * The sharded jit front end (JAX's `jit(fn, in_shardings=..., out_shardings=...)`, once
 * `pjit`): traces `fn` with layer 3 on the global shapes, fixes the given shardings on the
 * program's inputs and outputs, and runs sharding propagation so that every value has a
 * sharding. The SPMD partitioner (./partitioner/) turns the result into a per-core
 * SpmdProgram; `lower` is the step both share.
 */
import { Tensor, trace } from '../program/tracer.js';
import type { Program } from '../program/ir.js';
import type { AbstractValue } from '../tpu/tensor.js';
import { type ShardingLike, toHloSharding } from './annotations.js';
import { dumpShardedProgram } from './dump.js';
import { type CompiledSpmd, compileLowering } from './partitioner/compile.js';
import { ShardingError } from './errors.js';
import type { Mesh } from './mesh.js';
import { type PropagationResult, propagateShardings } from './propagation.js';
import { type HloSharding, NamedSharding, PartitionSpec } from './sharding.js';

/** A sharding, or a PartitionSpec over the jit's mesh, or null/undefined to leave it free. */
export type ShardingArg = ShardingLike | PartitionSpec | null | undefined;

export interface ShardedJitOptions {
  /** The mesh PartitionSpecs refer to (JAX's `with mesh:`). */
  readonly mesh?: Mesh;
  readonly inShardings?: readonly ShardingArg[];
  readonly outShardings?: readonly ShardingArg[];
  /** The computation's name in dumps. */
  readonly name?: string;
}

export interface ShardedLowering {
  /** The traced global program. */
  readonly program: Program;
  readonly mesh: Mesh | undefined;
  readonly propagation: PropagationResult;
  /** Shardings of the program inputs and outputs after propagation. */
  readonly inShardings: readonly HloSharding[];
  readonly outShardings: readonly HloSharding[];
  /** The program dump with `sharding={...}` on every line. */
  asText(): string;
}

export interface ShardedJitted {
  /** Traces for inputs of these global shapes and propagates shardings. */
  lower(...args: (Tensor | AbstractValue)[]): ShardedLowering;
  /** Lowers, then partitions over the mesh: the per-core program, its dump, and a lockstep run. */
  compile(...args: (Tensor | AbstractValue)[]): CompiledSpmd;
  readonly options: ShardedJitOptions;
}

function resolve(arg: ShardingArg, rank: number, mesh: Mesh | undefined, what: string): HloSharding | undefined {
  if (arg === null || arg === undefined) return undefined;
  if (arg instanceof PartitionSpec) {
    if (!mesh) throw new ShardingError(`${what}: a PartitionSpec needs the mesh option (or pass a NamedSharding)`);
    return new NamedSharding(mesh, arg).toHloSharding(rank);
  }
  return toHloSharding(arg, rank, what);
}

export function jit(fn: (...args: Tensor[]) => Tensor | readonly Tensor[], opts: ShardedJitOptions = {}): ShardedJitted {
  const lower = (...args: (Tensor | AbstractValue)[]): ShardedLowering => {
    const avals = args.map((a) => ({ shape: [...a.shape], dtype: a.dtype }));
    if (opts.inShardings && opts.inShardings.length !== avals.length) {
      throw new ShardingError(`inShardings: ${opts.inShardings.length} shardings for ${avals.length} arguments`);
    }
    const { program, captured } = trace((...xs) => {
      const r = fn(...xs);
      return r instanceof Tensor ? [r] : r;
    }, avals);
    if (captured.length > 0) throw new ShardingError('jit: the function closes over values of an enclosing trace; pass them as arguments');
    const inShardings = avals.map((a, i) => resolve(opts.inShardings?.[i], a.shape.length, opts.mesh, `inShardings[${i}]`));
    if (opts.outShardings && opts.outShardings.length !== program.outputs.length) {
      throw new ShardingError(`outShardings: ${opts.outShardings.length} shardings for ${program.outputs.length} outputs`);
    }
    const outShardings = program.outputs.map((a, i) => resolve(opts.outShardings?.[i], a.aval.shape.length, opts.mesh, `outShardings[${i}]`));
    const propagation = propagateShardings(program, { inShardings, outShardings });
    const name = opts.name ?? (fn.name || 'main');
    return {
      program,
      mesh: opts.mesh,
      propagation,
      inShardings: program.inputs.map((v) => propagation.shardingOf(v)),
      outShardings: program.outputs.map((a) => propagation.shardingOf(a)),
      asText: () => dumpShardedProgram(program, propagation, { name }),
    };
  };
  const compile = (...args: (Tensor | AbstractValue)[]): CompiledSpmd =>
    compileLowering(lower(...args), opts.mesh, opts.name ?? (fn.name || 'main'));
  return { lower, compile, options: opts };
}
