/**
 * Test helpers for the partitioner: random inputs, the single-device oracle, and running a
 * partitioned program on every core in lockstep.
 */
import { expect } from 'vitest';
import { jit as shardedJit, type ShardingArg } from '../../../src/gspmd/api.js';
import type { Mesh } from '../../../src/gspmd/mesh.js';
import { type PartitionedProgram, partition } from '../../../src/gspmd/partitioner/partition.js';
import { runSpmd } from '../../../src/gspmd/spmd_interpreter.js';
import { interpret } from '../../../src/program/interpreter.js';
import type { Program } from '../../../src/program/ir.js';
import type { Tensor } from '../../../src/program/tracer.js';
import { chipSpec } from '../../../src/tpu/chips.js';
import { TensorCore } from '../../../src/tpu/core.js';
import type { DType } from '../../../src/tpu/dtype.js';
import { type AbstractValue, type TensorView, sizeOf, tensorFrom, toNumbers } from '../../../src/tpu/tensor.js';

/** A deterministic tensor of values in [-1, 1) (integers in [0, intRange) for i32). */
export function randomTensor(shape: readonly number[], seed: number, dtype: DType = 'f32', intRange = 10): TensorView {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const n = sizeOf(shape);
  const values = Array.from({ length: n }, () => (dtype === 'i32' ? Math.floor(next() * intRange) : next() * 2 - 1));
  return tensorFrom(dtype, shape, values);
}

let oracleCore: TensorCore | undefined;

/** The single-device interpreter's outputs: the oracle. */
export function runOracle(program: Program, inputs: readonly TensorView[]): TensorView[] {
  oracleCore ??= new TensorCore({ chip: chipSpec('v4'), hbmBytes: 64 * 1024 * 1024 });
  return interpret(program, inputs, oracleCore);
}

export interface Partitioned {
  readonly program: Program;
  readonly partitioned: PartitionedProgram;
}

/** Traces `fn`, propagates the given shardings and partitions over `mesh`. */
export function partitionFn(
  fn: (...args: Tensor[]) => Tensor | readonly Tensor[],
  avals: readonly AbstractValue[],
  mesh: Mesh,
  inShardings: readonly ShardingArg[],
  outShardings?: readonly ShardingArg[],
): Partitioned {
  const lowering = shardedJit(fn, { mesh, inShardings, ...(outShardings ? { outShardings } : {}) }).lower(...avals);
  const partitioned = partition(lowering.program, lowering.propagation.shardings, mesh, { outShardings: lowering.outShardings });
  return { program: lowering.program, partitioned };
}

export interface OracleOptions {
  /** Exact equality (the order of every floating-point operation is unchanged). */
  readonly bitwise?: boolean;
  /** Relative tolerance otherwise (default 1e-5, f32). */
  readonly rtol?: number;
}

/** Runs `p` on every core and checks the assembled outputs against the single-device interpreter. */
export function expectMatchesOracle(p: Partitioned, inputs: readonly TensorView[], opts: OracleOptions = {}): TensorView[] {
  const want = runOracle(p.program, inputs);
  const { outputs } = runSpmd(p.partitioned, inputs);
  expect(outputs.length).toBe(want.length);
  outputs.forEach((got, k) => {
    expect(got.shape).toEqual(want[k]!.shape);
    expect(got.dtype).toBe(want[k]!.dtype);
    const g = toNumbers(got);
    const w = toNumbers(want[k]!);
    if (opts.bitwise) {
      expect(Array.from(g)).toEqual(Array.from(w));
      return;
    }
    const rtol = opts.rtol ?? 1e-5;
    let scale = 0;
    for (const x of w) scale = Math.max(scale, Math.abs(x));
    for (let i = 0; i < g.length; i++) {
      const err = Math.abs(g[i]! - w[i]!);
      if (!(err <= rtol * Math.max(Math.abs(w[i]!), scale * 1e-2) + 1e-30)) {
        throw new Error(`output ${k} element ${i}: got ${g[i]}, want ${w[i]} (rtol ${rtol})`);
      }
    }
  });
  return outputs;
}

/** How many of each op the per-core program holds. */
export function opCounts(p: PartitionedProgram): Map<string, number> {
  const m = new Map<string, number>();
  for (const eq of p.program.equations) m.set(eq.op, (m.get(eq.op) ?? 0) + 1);
  return m;
}

/** The collective equations of the per-core program, as `op(axes)` strings in order. */
export function collectives(p: PartitionedProgram): string[] {
  const names = new Set(['psum', 'pmax', 'pmin', 'all_gather', 'psum_scatter', 'all_to_all', 'ppermute']);
  return p.program.equations
    .filter((eq) => names.has(eq.op))
    .map((eq) => `${eq.op}(${(eq.params as unknown as { axes: string[] }).axes.join(',')})`);
}
