/**
 * What each collective computes, as JAX defines it (jax.lax psum / all_gather /
 * psum_scatter / all_to_all / ppermute; REFERENCES.md "JAX names to mirror"): the output
 * shape, parameter checks, and the canonical layout every algorithm moves bytes in.
 *
 * Layouts. Each op is seen as p chunks in "chunk-major" order, chunk j being the part that
 * rank j owns (reduce-scatter, all-gather) or that goes to / comes from rank j
 * (all-to-all). A chunk is a strided slab of a row-major buffer: `outer` rows of `blk`
 * contiguous elements, rows `p * blk` apart. Expand/squeeze of a size-1 or size-p dim is
 * free in row-major order, so tiled and untiled variants share one layout.
 */
import type { DType } from '../tpu/dtype.js';
import { sizeOf } from '../tpu/tensor.js';
import { CollectiveUsageError } from './errors.js';

export type ReduceOp = 'sum' | 'max' | 'min';

/** XLA's HLO names of the collectives. */
export type CollectiveOpName =
  | 'all-reduce'
  | 'all-gather'
  | 'reduce-scatter'
  | 'all-to-all'
  | 'collective-permute'
  | 'broadcast'
  | 'barrier';

export const COLLECTIVE_OPS: readonly CollectiveOpName[] = [
  'all-reduce',
  'all-gather',
  'reduce-scatter',
  'all-to-all',
  'collective-permute',
  'broadcast',
  'barrier',
];

export interface AllReduceParams {
  readonly op: ReduceOp;
}
/** `jax.lax.all_gather(x, axis_name, axis=0, tiled=False)`. */
export interface AllGatherParams {
  readonly axis: number;
  readonly tiled: boolean;
}
/** `jax.lax.psum_scatter(x, axis_name, scatter_dimension=0, tiled=False)`. */
export interface ReduceScatterParams {
  readonly scatterDimension: number;
  readonly tiled: boolean;
  readonly op: ReduceOp;
}
/** `jax.lax.all_to_all(x, axis_name, split_axis, concat_axis, tiled=False)`. */
export interface AllToAllParams {
  readonly splitAxis: number;
  readonly concatAxis: number;
  readonly tiled: boolean;
}
/** `jax.lax.ppermute(x, axis_name, perm)`: (source, destination) pairs of axis indices. */
export interface PermuteParams {
  readonly perm: readonly (readonly [number, number])[];
}
/** XLA collective-broadcast: every rank gets rank `root`'s operand. */
export interface BroadcastParams {
  readonly root: number;
}

export type CollectiveParams =
  | { readonly kind: 'all-reduce'; readonly params: AllReduceParams }
  | { readonly kind: 'all-gather'; readonly params: AllGatherParams }
  | { readonly kind: 'reduce-scatter'; readonly params: ReduceScatterParams }
  | { readonly kind: 'all-to-all'; readonly params: AllToAllParams }
  | { readonly kind: 'collective-permute'; readonly params: PermuteParams }
  | { readonly kind: 'broadcast'; readonly params: BroadcastParams }
  | { readonly kind: 'barrier'; readonly params: Record<string, never> };

/** Strided chunk layout: chunk j, element e sits at `(e / blk | 0) * p * blk + j * blk + e % blk`. */
export interface ChunkedLayout {
  readonly outer: number;
  readonly blk: number;
}

function checkAxisIndex(what: string, axis: number, rank: number): void {
  if (!Number.isSafeInteger(axis) || axis < 0 || axis >= rank) {
    throw new CollectiveUsageError(`${what} must be in [0, ${rank}), got ${axis}`);
  }
}

function prod(xs: readonly number[]): number {
  return sizeOf(xs);
}

export function checkReduceDType(op: string, dtype: DType): void {
  if (dtype === 'bool') {
    throw new CollectiveUsageError(`${op}: reductions take f32, bf16 or i32, got bool (convert first, as jax.lax.psum does)`);
  }
}

export function allGatherShape(shape: readonly number[], p: number, q: AllGatherParams): number[] {
  if (q.tiled) {
    checkAxisIndex('all_gather: axis', q.axis, shape.length);
    return shape.map((d, i) => (i === q.axis ? d * p : d));
  }
  checkAxisIndex('all_gather: axis', q.axis, shape.length + 1);
  return [...shape.slice(0, q.axis), p, ...shape.slice(q.axis)];
}

/** Output layout of all_gather: chunk j is rank j's operand. */
export function allGatherLayout(shape: readonly number[], q: AllGatherParams): ChunkedLayout {
  const outer = prod(shape.slice(0, q.axis));
  return { outer, blk: outer === 0 ? 0 : prod(shape) / outer };
}

export function reduceScatterShape(shape: readonly number[], p: number, q: ReduceScatterParams): number[] {
  checkAxisIndex('psum_scatter: scatter_dimension', q.scatterDimension, shape.length);
  const d = shape[q.scatterDimension]!;
  if (q.tiled) {
    if (d % p !== 0) {
      throw new CollectiveUsageError(`psum_scatter: dim ${q.scatterDimension} of size ${d} is not divisible by the axis size ${p}`);
    }
    return shape.map((x, i) => (i === q.scatterDimension ? x / p : x));
  }
  if (d !== p) {
    throw new CollectiveUsageError(
      `psum_scatter: untiled scatter_dimension ${q.scatterDimension} must have the axis size ${p}, got ${d}`,
    );
  }
  return shape.filter((_, i) => i !== q.scatterDimension);
}

/** Input layout of psum_scatter: chunk j is what rank j keeps. */
export function reduceScatterLayout(shape: readonly number[], p: number, q: ReduceScatterParams): ChunkedLayout {
  const outer = prod(shape.slice(0, q.scatterDimension));
  const n = prod(shape);
  return { outer, blk: n === 0 ? 0 : n / outer / p };
}

/** The tiled form of an all_to_all call (JAX lowers untiled to tiled with an expand_dims and a squeeze). */
interface TiledAllToAll {
  readonly shape: readonly number[];
  readonly split: number;
  readonly concat: number;
  readonly outShape: readonly number[];
}

function tiledAllToAll(shape: readonly number[], p: number, q: AllToAllParams): TiledAllToAll {
  checkAxisIndex('all_to_all: split_axis', q.splitAxis, shape.length);
  checkAxisIndex('all_to_all: concat_axis', q.concatAxis, shape.length);
  let split = q.splitAxis;
  let concat = q.concatAxis;
  let x = [...shape];
  if (q.tiled) {
    if (x[split]! % p !== 0) {
      throw new CollectiveUsageError(`all_to_all: split_axis ${split} of size ${x[split]} is not divisible by the axis size ${p}`);
    }
  } else {
    if (x[split] !== p) {
      throw new CollectiveUsageError(`all_to_all: split_axis ${split} must have the axis size ${p}, got ${x[split]}`);
    }
    // As jax.lax.all_to_all: concat_axis is a position in the output, where split_axis is gone.
    if (split < concat) {
      concat += 1;
      x.splice(concat, 0, 1);
    } else if (concat < split) {
      x.splice(concat, 0, 1);
      split += 1;
    }
  }
  const out = x.map((d, i) => (i === split ? d / p : d));
  out[concat] = out[concat]! * p;
  return { shape: x, split, concat, outShape: out };
}

export function allToAllShape(shape: readonly number[], p: number, q: AllToAllParams): number[] {
  const t = tiledAllToAll(shape, p, q);
  const out = [...t.outShape];
  if (!q.tiled && t.split !== t.concat) out.splice(t.split, 1);
  return out;
}

/** Input chunk j (sent to rank j) and output chunk j (received from rank j) of all_to_all. */
export function allToAllLayouts(shape: readonly number[], p: number, q: AllToAllParams): { in: ChunkedLayout; out: ChunkedLayout } {
  const t = tiledAllToAll(shape, p, q);
  const n = prod(shape);
  const inOuter = prod(t.shape.slice(0, t.split));
  const outOuter = prod(t.outShape.slice(0, t.concat));
  return {
    in: { outer: inOuter, blk: n === 0 ? 0 : n / inOuter / p },
    out: { outer: outOuter, blk: n === 0 ? 0 : n / outOuter / p },
  };
}

export function checkPerm(perm: readonly (readonly [number, number])[], p: number): void {
  const srcs = new Set<number>();
  const dsts = new Set<number>();
  for (const pair of perm) {
    const [s, d] = pair;
    for (const x of [s, d]) {
      if (!Number.isSafeInteger(x) || x < 0 || x >= p) {
        throw new CollectiveUsageError(`ppermute: perm pair (${s}, ${d}) names an index outside [0, ${p})`);
      }
    }
    if (srcs.has(s)) throw new CollectiveUsageError(`ppermute: source ${s} appears twice in perm`);
    if (dsts.has(d)) throw new CollectiveUsageError(`ppermute: destination ${d} appears twice in perm`);
    srcs.add(s);
    dsts.add(d);
  }
}

export function checkRoot(root: number, p: number): void {
  if (!Number.isSafeInteger(root) || root < 0 || root >= p) {
    throw new CollectiveUsageError(`broadcast: root must be in [0, ${p}), got ${root}`);
  }
}

/** Output shape of a collective over a group of `p` ranks, after checking its parameters. */
export function collectiveOutputShape(c: CollectiveParams, shape: readonly number[], dtype: DType, p: number): number[] {
  switch (c.kind) {
    case 'all-reduce':
      checkReduceDType('psum', dtype);
      return [...shape];
    case 'all-gather':
      return allGatherShape(shape, p, c.params);
    case 'reduce-scatter':
      checkReduceDType('psum_scatter', dtype);
      return reduceScatterShape(shape, p, c.params);
    case 'all-to-all':
      return allToAllShape(shape, p, c.params);
    case 'collective-permute':
      checkPerm(c.params.perm, p);
      return [...shape];
    case 'broadcast':
      checkRoot(c.params.root, p);
      return [...shape];
    case 'barrier':
      return [];
  }
}
