import { type DType, allocHostArray, f32ToBf16Bits } from '../../src/tpu/dtype.js';
import { type TensorView, sizeOf } from '../../src/tpu/tensor.js';
import { type BufferTable, runTransfers } from '../../src/collectives/execute.js';
import type { CollectivePlan } from '../../src/collectives/plan.js';
import { type Span } from '../../src/collectives/movement.js';
import type { CollectiveParams } from '../../src/collectives/semantics.js';
import {
  referenceAllGather,
  referenceAllReduce,
  referenceAllToAll,
  referenceBroadcast,
  referencePermute,
  referenceReduceScatter,
} from '../../src/collectives/reference.js';
import { mulberry32 as rng } from '../../src/tpu/host_rng.js';

export { rng };

/** Integer-valued data small enough that every partial sum is exact in the dtype (bf16: |x| <= 4). */
export function integerTensor(dtype: DType, shape: readonly number[], seed: number): TensorView {
  const r = rng(seed);
  const n = sizeOf(shape);
  const data = allocHostArray(dtype, n);
  for (let i = 0; i < n; i++) {
    if (dtype === 'i32') data[i] = Math.floor(r() * 2 ** 32) | 0;
    else if (dtype === 'bf16') data[i] = f32ToBf16Bits(Math.floor(r() * 9) - 4);
    else if (dtype === 'bool') data[i] = r() < 0.5 ? 1 : 0;
    else data[i] = Math.floor(r() * 2001) - 1000;
  }
  return { dtype, shape: [...shape], data };
}

/** Uniform floats in [-1, 1): sums round differently in different orders. */
export function floatTensor(dtype: 'f32' | 'bf16', shape: readonly number[], seed: number): TensorView {
  const r = rng(seed);
  const n = sizeOf(shape);
  const data = allocHostArray(dtype, n);
  for (let i = 0; i < n; i++) data[i] = dtype === 'f32' ? Math.fround(r() * 2 - 1) : f32ToBf16Bits(r() * 2 - 1);
  return { dtype, shape: [...shape], data };
}

export function referenceFor(c: CollectiveParams, xs: readonly TensorView[]): TensorView[] {
  switch (c.kind) {
    case 'all-reduce':
      return referenceAllReduce(xs, c.params.op);
    case 'all-gather':
      return referenceAllGather(xs, c.params);
    case 'reduce-scatter':
      return referenceReduceScatter(xs, c.params);
    case 'all-to-all':
      return referenceAllToAll(xs, c.params);
    case 'collective-permute':
      return referencePermute(xs, c.params.perm);
    case 'broadcast':
      return referenceBroadcast(xs, c.params.root);
    case 'barrier':
      return xs.map((x) => ({ dtype: x.dtype, shape: [], data: allocHostArray(x.dtype, 1) }));
  }
}

/**
 * Runs a plan on host buffers in one thread, one whole step of one rank at a time, in a
 * random order that respects the plan's waits. A schedule that relied on timing rather than
 * on its waits gives a wrong answer for some order.
 */
export function simulate(plan: CollectivePlan, inputs: readonly TensorView[], seed: number): TensorView[] {
  const p = inputs.length;
  const dtype = inputs[0]!.dtype;
  const outN = sizeOf(plan.outShape);
  const outs = inputs.map(() => ({ dtype, shape: [...plan.outShape], data: allocHostArray(dtype, outN) }));
  const table: BufferTable = { arrays: [], bases: [] };
  for (let r = 0; r < p; r++) {
    table.arrays.push(inputs[r]!.data, outs[r]!.data, allocHostArray(dtype, plan.schedule.scratchElements));
    table.bases.push(0, 0, 0);
  }
  const progress = new Array<number>(p).fill(0);
  const random = rng(seed);
  const K = plan.schedule.numSteps;
  for (;;) {
    const runnable: number[] = [];
    for (let r = 0; r < p; r++) {
      const k = progress[r]!;
      if (k < K && plan.sync[r]!.waitOn[k]!.every((q) => progress[q]! >= k)) runnable.push(r);
    }
    if (runnable.length === 0) break;
    const r = runnable[Math.floor(random() * runnable.length)]!;
    runTransfers(plan.schedule.steps[r]![progress[r]!]!, dtype, plan.reduceOp, table);
    progress[r]!++;
  }
  if (progress.some((k) => k !== K)) throw new Error(`simulate: deadlock at progress [${progress}] of ${K}`);
  return outs;
}

/** Element intervals [start, end) that a span of `count` elements covers. */
export function spanIntervals(s: Span, count: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let row = s.base;
  let col = s.startCol;
  let k = 0;
  while (k < count) {
    const run = Math.min(count - k, s.rowLen - col);
    out.push([row + col, row + col + run]);
    k += run;
    col += run;
    if (col === s.rowLen) {
      col = 0;
      row += s.rowStride;
    }
  }
  return out;
}

/** Same-step hazards: a rank reading, in step k, elements that their owner writes in step k. */
export function sameStepHazards(plan: CollectivePlan): string[] {
  const problems: string[] = [];
  const { steps, numSteps, p } = plan.schedule;
  for (let k = 0; k < numSteps; k++) {
    const writes = new Map<string, Array<[number, number]>>();
    for (let r = 0; r < p; r++) {
      for (const t of steps[r]![k]!) {
        const key = `${r}:${t.dst.buf}`;
        writes.set(key, [...(writes.get(key) ?? []), ...spanIntervals(t.dst.span, t.count)]);
      }
    }
    for (let r = 0; r < p; r++) {
      for (const t of steps[r]![k]!) {
        const reads = t.kind === 'copy' ? [t.src] : t.kind === 'reduce' ? [t.a, t.b] : [];
        for (const op of reads) {
          if (op.owner === r) continue;
          const w = writes.get(`${op.owner}:${op.buf}`) ?? [];
          for (const [a, b] of spanIntervals(op.span, t.count)) {
            if (w.some(([c, d]) => a < d && c < b)) problems.push(`step ${k}: rank ${r} reads ${op.owner}:${op.buf} [${a},${b}) while it is written`);
          }
        }
      }
    }
  }
  return problems;
}

export function bitsEqual(a: TensorView, b: TensorView): boolean {
  if (a.dtype !== b.dtype || a.shape.join(',') !== b.shape.join(',') || a.data.length !== b.data.length) return false;
  const x = a.dtype === 'f32' ? new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length) : a.data;
  const y = b.dtype === 'f32' ? new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length) : b.data;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export interface OpCase {
  readonly name: string;
  readonly c: CollectiveParams;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** Every op, with dtypes, layouts and parameters that exercise uneven chunks, strides, tiling and partial perms. */
export function opCases(p: number): OpCase[] {
  const cases: OpCase[] = [
    { name: 'psum f32 uneven', c: { kind: 'all-reduce', params: { op: 'sum' } }, shape: [p * 3 + 1], dtype: 'f32' },
    { name: 'psum f32 2d', c: { kind: 'all-reduce', params: { op: 'sum' } }, shape: [2, 5], dtype: 'f32' },
    { name: 'psum i32', c: { kind: 'all-reduce', params: { op: 'sum' } }, shape: [p * 4], dtype: 'i32' },
    { name: 'psum bf16', c: { kind: 'all-reduce', params: { op: 'sum' } }, shape: [3, p + 1], dtype: 'bf16' },
    { name: 'psum scalar', c: { kind: 'all-reduce', params: { op: 'sum' } }, shape: [], dtype: 'f32' },
    { name: 'pmax f32', c: { kind: 'all-reduce', params: { op: 'max' } }, shape: [p * 2 + 3], dtype: 'f32' },
    { name: 'pmin i32', c: { kind: 'all-reduce', params: { op: 'min' } }, shape: [p * 2], dtype: 'i32' },
    { name: 'pmax bf16', c: { kind: 'all-reduce', params: { op: 'max' } }, shape: [5], dtype: 'bf16' },
    { name: 'all_gather axis 0', c: { kind: 'all-gather', params: { axis: 0, tiled: false } }, shape: [3], dtype: 'f32' },
    { name: 'all_gather axis 1 tiled', c: { kind: 'all-gather', params: { axis: 1, tiled: true } }, shape: [2, 3], dtype: 'i32' },
    { name: 'all_gather axis 1 bf16', c: { kind: 'all-gather', params: { axis: 1, tiled: false } }, shape: [2, 3], dtype: 'bf16' },
    { name: 'all_gather axis 2 untiled', c: { kind: 'all-gather', params: { axis: 2, tiled: false } }, shape: [2, 3], dtype: 'f32' },
    { name: 'psum_scatter dim 0 tiled', c: { kind: 'reduce-scatter', params: { scatterDimension: 0, tiled: true, op: 'sum' } }, shape: [p * 2, 3], dtype: 'f32' },
    { name: 'psum_scatter dim 1 tiled i32', c: { kind: 'reduce-scatter', params: { scatterDimension: 1, tiled: true, op: 'sum' } }, shape: [3, p * 2], dtype: 'i32' },
    { name: 'psum_scatter dim 0 untiled', c: { kind: 'reduce-scatter', params: { scatterDimension: 0, tiled: false, op: 'sum' } }, shape: [p, 2], dtype: 'f32' },
    { name: 'psum_scatter dim 1 bf16', c: { kind: 'reduce-scatter', params: { scatterDimension: 1, tiled: false, op: 'sum' } }, shape: [2, p], dtype: 'bf16' },
    { name: 'reduce_scatter max', c: { kind: 'reduce-scatter', params: { scatterDimension: 0, tiled: true, op: 'max' } }, shape: [p], dtype: 'f32' },
    { name: 'all_to_all tiled 0->1', c: { kind: 'all-to-all', params: { splitAxis: 0, concatAxis: 1, tiled: true } }, shape: [p * 2, 3], dtype: 'f32' },
    { name: 'all_to_all tiled 1->0', c: { kind: 'all-to-all', params: { splitAxis: 1, concatAxis: 0, tiled: true } }, shape: [2, p * 3], dtype: 'i32' },
    { name: 'all_to_all tiled 0->0', c: { kind: 'all-to-all', params: { splitAxis: 0, concatAxis: 0, tiled: true } }, shape: [p * 2, 3], dtype: 'bf16' },
    { name: 'all_to_all untiled 0->1', c: { kind: 'all-to-all', params: { splitAxis: 0, concatAxis: 1, tiled: false } }, shape: [p, 3], dtype: 'f32' },
    { name: 'all_to_all untiled 1->0', c: { kind: 'all-to-all', params: { splitAxis: 1, concatAxis: 0, tiled: false } }, shape: [2, p, 3], dtype: 'f32' },
    { name: 'ppermute shift', c: { kind: 'collective-permute', params: { perm: Array.from({ length: p }, (_, i) => [i, (i + 1) % p] as const) } }, shape: [4, 2], dtype: 'f32' },
    { name: 'ppermute partial', c: { kind: 'collective-permute', params: { perm: [[0, p - 1]] } }, shape: [5], dtype: 'i32' },
    { name: 'broadcast root last', c: { kind: 'broadcast', params: { root: p - 1 } }, shape: [7], dtype: 'f32' },
    { name: 'broadcast bf16', c: { kind: 'broadcast', params: { root: 0 } }, shape: [2, p + 3], dtype: 'bf16' },
    { name: 'barrier', c: { kind: 'barrier', params: {} }, shape: [], dtype: 'f32' },
  ];
  return cases;
}
