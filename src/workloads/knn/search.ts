/**
 * The TPU-KNN search step as primitive calls on one TensorCore, in three fused kernels:
 *
 * 1. shard step (per core): scores = one dot_general of the queries with the core's rows,
 *    plus the per-row bias when there is one; then approx_max_k (PartialReduce with
 *    reduction_input_size_override = the whole database's rows, as JAX passes it under
 *    SPMD, so a shard keeps as many bins per row as the unsharded op would) or, in exact
 *    mode, the sort-based lax.top_k; then local rows mapped to global slots.
 * 2. merge (after an all-gather of every shard's candidates): an exact top-k over the
 *    candidates, ranked by score and then by lower slot, so the result does not depend on
 *    which shard a candidate came from.
 * 3. hits: how many results are in the ground truth (recall@k on the core).
 *
 * Why the bias is an add and not an extra column: folding −‖x‖²/2 (and −inf for empty
 * slots) into the dot as a (D+1)-th dim would cost a second 128-wide MXU pass when D is a
 * multiple of 128, doubling MXU time; the add costs one VPU op per score, inside the few
 * ops per score a TensorCore can spend while the MXU computes it. It is skipped when there
 * is nothing to add (MIPS or cosine over a full database).
 *
 * Rows are dealt to shards cyclically: global slot g lives on shard g mod p at local row
 * ⌊g / p⌋. PartialReduce puts element i of an n-wide row in bin i mod L, so when each shard
 * gets L/p bins (XLA's rule does this once a shard holds at least (1−k)/ln(r) rows and a
 * multiple of 128·2^reduction), the shards' bins are exactly the single core's bins and the
 * sharded search returns the single-core result bit for bit.
 *
 * The builders are generic in the value type: TensorViews to execute, AbstractValues to
 * price the same kernels without data (cost.ts).
 */
import type { TensorCore } from '../../tpu/core.js';
import type { PrimitiveCall } from '../../tpu/core.js';
import type { DeviceTensor } from '../../tpu/arena.js';
import type { DType } from '../../tpu/dtype.js';
import type { PrimitiveName, PrimitiveParams } from '../../tpu/ops.js';
import { inferShapes } from '../../tpu/primitives.js';
import { type AbstractValue, type TensorView, tensorFrom } from '../../tpu/tensor.js';

export type SearchMode = 'approx' | 'exact';

/** Output `output` (default 0) of call `call` of the same step. */
export interface CallRef {
  readonly call: number;
  readonly output?: number;
}

export type StepCall<V, N extends PrimitiveName = PrimitiveName> = N extends PrimitiveName
  ? { readonly op: N; readonly params: PrimitiveParams[N]; readonly inputs: readonly (V | CallRef)[] }
  : never;

/** A fused kernel: its calls, and the outputs it materializes in HBM. */
export interface Step<V> {
  readonly calls: readonly StepCall<V>[];
  readonly keep: readonly CallRef[];
}

/** Makes a scalar constant of the value type (a host tensor to execute, an abstract value to price). */
export type ScalarFactory<V> = (dtype: DType, value: number) => V;

export const hostScalar: ScalarFactory<TensorView> = (dtype, value) => tensorFrom(dtype, [], [value]);
export const abstractScalar: ScalarFactory<AbstractValue> = (dtype) => ({ dtype, shape: [] });

export interface ShardStepParams {
  readonly k: number;
  readonly recallTarget: number;
  readonly mode: SearchMode;
  /** approx_max_k's aggregate_to_topk: false returns every bin's survivor for the merge to rank. */
  readonly aggregateToTopk: boolean;
  /** Rows of the whole database (every shard's), approx_max_k's reduction_input_size_override. */
  readonly totalRows: number;
  /** Shards along the database axis, and this one's index. */
  readonly numShards: number;
  readonly shardIndex: number;
  /** Add the per-row bias (−‖x‖²/2 for L2, −inf for empty slots) to the scores. */
  readonly addBias: boolean;
}

/** A growing call list with typed references to earlier outputs. */
class StepBuilder<V> {
  readonly calls: StepCall<V>[] = [];
  add<N extends PrimitiveName>(op: N, params: PrimitiveParams[N], inputs: readonly (V | CallRef)[]): number {
    this.calls.push({ op, params, inputs } as unknown as StepCall<V>);
    return this.calls.length - 1;
  }
}

function scoreTopKParams(p: ShardStepParams): PrimitiveParams['approx_max_k'] {
  return {
    k: p.k,
    reductionDimension: 1,
    recallTarget: p.recallTarget,
    reductionInputSizeOverride: p.totalRows,
    aggregateToTopk: p.aggregateToTopk,
  };
}

/**
 * Per-core step: queries [B, D] and the shard's rows [n, D] (f32 or bf16) and bias [n] f32
 * to candidates: values [B, c] f32 and global slots [B, c] i32 (c = k, or the bin count
 * when not aggregating).
 */
export function shardStep<V extends AbstractValue>(queries: V, rows: V, bias: V, p: ShardStepParams, scalar: ScalarFactory<V>): Step<V> {
  const [b] = queries.shape as [number, number];
  const [n] = rows.shape as [number, number];
  const s = new StepBuilder<V>();
  let scores = s.add('dot_general', { contractingDims: [[1], [1]], batchDims: [[], []], preferredElementType: 'f32' }, [queries, rows]);
  if (p.addBias) {
    const row = s.add('broadcast_in_dim', { shape: [b, n], broadcastDimensions: [1] }, [bias]);
    scores = s.add('add', {}, [{ call: scores }, { call: row }]);
  }
  const scoreAval: AbstractValue = { dtype: 'f32', shape: [b, n] };
  let top: number;
  let outShape: readonly number[];
  if (p.mode === 'approx') {
    const params = scoreTopKParams(p);
    top = s.add('approx_max_k', params, [{ call: scores }]);
    outShape = inferShapes('approx_max_k', [scoreAval], params)[0]!.shape;
  } else {
    top = s.add('top_k', { k: p.k }, [{ call: scores }]);
    outShape = [b, p.k];
  }
  let slots: CallRef = { call: top, output: 1 };
  if (p.numShards > 1) {
    // local row j of shard s is global slot s + j·p
    const stride = s.add('broadcast_in_dim', { shape: outShape, broadcastDimensions: [] }, [scalar('i32', p.numShards)]);
    const scaled = s.add('mul', {}, [slots, { call: stride }]);
    const offset = s.add('broadcast_in_dim', { shape: outShape, broadcastDimensions: [] }, [scalar('i32', p.shardIndex)]);
    slots = { call: s.add('add', {}, [{ call: scaled }, { call: offset }]) };
  }
  return { calls: s.calls, keep: [{ call: top, output: 0 }, slots] };
}

/**
 * Merge: candidates values [B, m] f32 and slots [B, m] i32 (every shard's, gathered) to the
 * best k, best first: an ascending sort on (−score, slot), so ties go to the lower slot
 * whichever shard a candidate came from. (lax.sort treats −0 and +0 as equal keys, where
 * approx_max_k's total order ranks +0 first; scores of exactly −0 do not arise from a dot
 * whose accumulator starts at +0.)
 */
export function mergeStep<V extends AbstractValue>(values: V, slots: V, k: number): Step<V> {
  const rows = values.shape[0]!;
  const s = new StepBuilder<V>();
  const negated = s.add('neg', {}, [values]);
  const sorted = s.add('sort', { dimension: 1, isStable: true, numKeys: 2 }, [{ call: negated }, slots, values]);
  const take = { startIndices: [0, 0], limitIndices: [rows, k] };
  const bestValues = s.add('slice', take, [{ call: sorted, output: 2 }]);
  const bestSlots = s.add('slice', take, [{ call: sorted, output: 1 }]);
  return { calls: s.calls, keep: [{ call: bestValues }, { call: bestSlots }] };
}

/**
 * Hits: how many of the result slots [B, k] are in their row of the ground truth [B, k']
 * (an f32 scalar). Each row's results and truth are sorted together; as neither repeats a
 * slot, every equal neighbour pair in the sorted row is one hit (O(k log k) per row, not
 * the O(k·k') of comparing every pair).
 */
export function hitsStep<V extends AbstractValue>(found: V, truth: V): Step<V> {
  const b = found.shape[0]!;
  const width = found.shape[1]! + truth.shape[1]!;
  const s = new StepBuilder<V>();
  const both = s.add('concatenate', { dimension: 1 }, [found, truth]);
  const sorted = s.add('sort', { dimension: 1, isStable: true, numKeys: 1 }, [{ call: both }]);
  const left = s.add('slice', { startIndices: [0, 0], limitIndices: [b, width - 1] }, [{ call: sorted }]);
  const right = s.add('slice', { startIndices: [0, 1], limitIndices: [b, width] }, [{ call: sorted }]);
  const same = s.add('eq', {}, [{ call: left }, { call: right }]);
  const asFloat = s.add('convert_element_type', { newDtype: 'f32' }, [{ call: same }]);
  const total = s.add('reduce_sum', { axes: [0, 1] }, [{ call: asFloat }]);
  return { calls: s.calls, keep: [{ call: total }] };
}

/** Runs a step on `core` as one fused kernel; returns its kept outputs (the caller releases them). */
export function runStep(core: TensorCore, step: Step<TensorView>): DeviceTensor[] {
  return core.executeSequence(step.calls as readonly PrimitiveCall[], { fusion: true, keep: step.keep })[0]!;
}

/**
 * Arena bytes a shard step holds per query row at its peak: the f32 score row, and with the
 * bias also its broadcast row and their sum (each op of the sequence materializes its
 * output; the fused pricing does not charge HBM for them).
 */
export function stepBytesPerQuery(rowsPerShard: number, addBias: boolean): number {
  return (addBias ? 3 : 1) * rowsPerShard * 4;
}

/** The largest query tile (a multiple of the 8-row MXU granule, at most `batch`) whose step fits in `freeBytes`. */
export function queryTileRows(batch: number, rowsPerShard: number, addBias: boolean, freeBytes: number): number {
  const fit = Math.floor(freeBytes / stepBytesPerQuery(rowsPerShard, addBias));
  const tile = Math.min(batch, fit >= 8 ? fit - (fit % 8) : fit);
  if (tile < 1) {
    throw new RangeError(
      `knn: one query's scores over ${rowsPerShard} rows per shard need ${stepBytesPerQuery(rowsPerShard, addBias)} bytes, ${freeBytes} are free per core (use more cores or more HBM per core)`,
    );
  }
  return tile;
}

/** [start, end) row ranges of `batch` queries in tiles of `tile`. */
export function queryTiles(batch: number, tile: number): (readonly [number, number])[] {
  const out: (readonly [number, number])[] = [];
  for (let s = 0; s < batch; s += tile) out.push([s, Math.min(batch, s + tile)]);
  return out;
}

/** Rows [start, end) of a row-major [rows, cols] tensor, as a view (no copy). */
export function rowSlice(t: TensorView, start: number, end: number): TensorView {
  const cols = t.shape[1]!;
  return { dtype: t.dtype, shape: [end - start, cols], data: t.data.subarray(start * cols, end * cols) };
}
