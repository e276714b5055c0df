/**
 * Family B, approximate top-k: lax.approx_max_k / lax.approx_min_k as XLA builds them for
 * TPU (TPU-KNN, Chern et al. 2022, arXiv 2206.14286; xla/hlo/builder/lib/approx_topk.cc):
 *
 * 1. PartialReduce. The reduced dim of n elements is cut into consecutive chunks of
 *    `outputSize` (the last one short) and reduced element-wise across chunks, so element i
 *    lands in bin `i mod outputSize` (strided bins, one per output lane). Each bin keeps its
 *    best element: value and index, ties to the lower index. With a reduction-input-size
 *    override the operand is one shard of a longer dim, and outputSize shrinks so that a
 *    shard's bins hold as many elements (2^log2Reduction) as the full array's would.
 *    (PartialReduce is a TPU custom call whose kernel is not public; this strided layout is
 *    the one under which XLA's size rule and the override add up, but is unverified
 *    against the TPU kernel itself.)
 * 2. If aggregateToTopk, an exact top-k over the survivors, best first (descending for
 *    max, ascending for min), ties to the lower index. Otherwise the survivors are returned
 *    in bin order, unsorted.
 * When XLA's rule gives no reduction (n <= tile, recall 1, or log2Reduction 0), step 1 keeps
 * every element. Indices are positions along the operand's reduced dim, as i32.
 *
 * Order: the IEEE total order with NaN largest (float_order.ts), so approx_max_k ranks NaN
 * first like top_k, and approx_min_k ranks it last.
 */
import { isFloat, readElement } from '../dtype.js';
import type { ApproxTopKParams } from '../ops.js';
import { type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView } from '../tensor.js';
import { compareTotalOrder } from './float_order.js';
import { linesAlong } from './index_space.js';
import { largerFirst } from './sort.js';

type ApproxTopKName = 'approx_max_k' | 'approx_min_k';

// ---- XLA's reduced-size rule ------------------------------------------------------------

/** Lane tiling for operands of rank >= 2 (xla/hlo/builder/lib/approx_topk_shape.cc kTpuLaneTiling). */
export const TPU_LANE_TILING = 128;
/** Chunk tiling for rank-1 operands (approx_topk_shape.cc kTpuChunkTiling). */
export const TPU_CHUNK_TILING = 1024;

export interface ApproxTopKReduction {
  /** Size of the reduced dim after the op (k when aggregating). */
  readonly outputSize: number;
  /** log2 of the PartialReduce factor: 0 for no reduction, -1 when aggregating (XLA's convention). */
  readonly log2Reduction: number;
}

/** An argument XLA's ApproxTopKReductionOutputSize rejects (its InvalidArgument). */
export class ApproxTopKError extends Error {
  override name = 'ApproxTopKError';
}

/** floor(log2(v)) for a non-negative integer, 0 for 0 (approx_topk_shape.cc log2_floor), by doubling so no Math.log2 rounding. */
function log2Floor(v: number): number {
  let r = 0;
  while (2 ** (r + 1) <= v) r++;
  return r;
}

/** ceil(log2(v)) for a positive integer, 0 for 0 (approx_topk_shape.cc log2_ceil). */
function log2Ceil(v: number): number {
  if (v === 0) return 0;
  const f = log2Floor(v);
  return 2 ** f === v ? f : f + 1;
}

/**
 * XLA's ApproxTopKReductionOutputSize (xla/hlo/builder/lib/approx_topk_shape.cc), line for
 * line, including its C++ types: recall_target is a float (so 0.95 is compared and logged
 * as Math.fround(0.95)), sizes are uint64 (integer division floors). Throws ApproxTopKError
 * where XLA returns InvalidArgument.
 */
export function approxTopKReductionOutputSize(
  inputSize: number,
  rank: number,
  topK: number,
  recallTarget: number,
  aggregateToTopk: boolean,
  inputSizeOverride = -1,
): ApproxTopKReduction {
  if (aggregateToTopk) return { outputSize: topK, log2Reduction: -1 };
  const tiling = rank === 1 ? TPU_CHUNK_TILING : TPU_LANE_TILING;
  if (inputSize <= tiling) return { outputSize: inputSize, log2Reduction: 0 };
  if (inputSizeOverride >= 0 && inputSize > inputSizeOverride) {
    throw new ApproxTopKError(
      `reduction_input_size_override: ${inputSizeOverride} should be greater equals to operands[reduction_dim]: ${inputSize}`,
    );
  }
  const logicalInputSize = inputSizeOverride >= 0 ? inputSizeOverride : inputSize;
  // Reduce to the tiling size when k == 1.
  if (topK === 1) {
    return { outputSize: tiling, log2Reduction: log2Ceil(Math.ceil(logicalInputSize / tiling)) };
  }
  const recall = Math.fround(recallTarget);
  if (recall === 1.0) return { outputSize: inputSize, log2Reduction: 0 };
  if (!(recall > 0 && recall <= 1.0)) throw new ApproxTopKError('recall_target should range in (0,1]');
  if (!(topK > 1)) throw new ApproxTopKError(`top_k ${topK} must be positive`); // the uint64 cast below needs (1 - k) < 0
  // m = (1 - K) / ln(recall): the bin count whose expected recall ~ exp((1 - K) / m) is the target.
  const m = Math.min(Math.max(Math.floor((1.0 - topK) / Math.log(recall)), tiling), inputSize);
  let log2Reduction = log2Floor(Math.floor(logicalInputSize / m));
  if (log2Reduction === 0) return { outputSize: inputSize, log2Reduction: 0 };
  // Do not reduce too much when the logical input is too large.
  log2Reduction = Math.min(log2Reduction, log2Ceil(Math.floor(inputSize / tiling)));
  const outputSize = Math.ceil(Math.ceil(inputSize / tiling) / 2 ** log2Reduction) * tiling;
  return { outputSize, log2Reduction };
}

/**
 * Expected recall of PartialReduce when the true top K fall into L bins uniformly at random:
 * ((L - 1) / L)^(K - 1) (TPU-KNN; a pessimistic bound, Samaga et al. 2025, arXiv 2506.04165).
 */
export function approxTopKExpectedRecall(numBins: number, k: number): number {
  return ((numBins - 1) / numBins) ** (k - 1);
}

// ---- shape rule -------------------------------------------------------------------------

/** The PartialReduce the kernel runs: the bin count, or null when every element survives. */
function partialReduceBins(op: ApproxTopKName, inputs: readonly AbstractValue[], p: ApproxTopKParams): number | null {
  const x = inputs[0]!;
  const n = x.shape[p.reductionDimension]!;
  let rule: ApproxTopKReduction;
  try {
    rule = approxTopKReductionOutputSize(n, x.shape.length, p.k, p.recallTarget, false, p.reductionInputSizeOverride);
  } catch (e) {
    if (e instanceof ApproxTopKError) throw new ShapeError(op, inputs, e.message);
    throw e;
  }
  if (rule.log2Reduction === 0) {
    // XLA clamps log2Reduction after its zero check, so a small shard with a large override
    // can get log2Reduction 0 with an output size != n; JAX then fails to compile.
    if (rule.outputSize !== n) {
      throw new ShapeError(op, inputs, `reductionInputSizeOverride ${p.reductionInputSizeOverride} gives no reduction but output size ${rule.outputSize} != ${n}`);
    }
    return null;
  }
  return rule.outputSize;
}

function approxTopKShape(op: ApproxTopKName) {
  return (inputs: readonly AbstractValue[], p: ApproxTopKParams): AbstractValue[] => {
    if (inputs.length !== 1) throw new ShapeError(op, inputs, `expects 1 operand, got ${inputs.length}`);
    const x = inputs[0]!;
    const rank = x.shape.length;
    if (rank < 1) throw new ShapeError(op, inputs, 'operand must have rank >= 1');
    if (!isFloat(x.dtype)) throw new ShapeError(op, inputs, `operand must be a floating type, got ${x.dtype}`);
    if (!Number.isInteger(p.reductionDimension) || p.reductionDimension < 0 || p.reductionDimension >= rank) {
      throw new ShapeError(op, inputs, `reductionDimension ${p.reductionDimension} is out of range for rank ${rank}`);
    }
    const n = x.shape[p.reductionDimension]!;
    if (!Number.isInteger(p.k) || p.k < 1 || p.k > n) {
      throw new ShapeError(op, inputs, `k ${p.k} must be in [1, ${n}] (the reduction dimension's size)`);
    }
    if (!(p.recallTarget > 0 && p.recallTarget <= 1)) {
      throw new ShapeError(op, inputs, `recallTarget ${p.recallTarget} must be in (0, 1]`);
    }
    if (!Number.isInteger(p.reductionInputSizeOverride) || p.reductionInputSizeOverride < -1) {
      throw new ShapeError(op, inputs, `reductionInputSizeOverride ${p.reductionInputSizeOverride} must be -1 or a size`);
    }
    const bins = partialReduceBins(op, inputs, p);
    const survivors = bins ?? n;
    if (p.aggregateToTopk && survivors < p.k) {
      throw new ShapeError(op, inputs, `k ${p.k} exceeds the ${survivors} elements left by the reduction (raise recallTarget)`);
    }
    const shape = [...x.shape];
    shape[p.reductionDimension] = p.aggregateToTopk ? p.k : survivors;
    return [
      { shape, dtype: x.dtype },
      { shape: [...shape], dtype: 'i32' },
    ];
  };
}

// ---- reference kernel -------------------------------------------------------------------

/** Ascending under the total order (NaN last): the comparator for "smaller is better". */
function smallerFirst(a: number, b: number): number {
  return compareTotalOrder(a, b);
}

/**
 * PartialReduce of one line: for each bin b in [0, bins), the position of the best element
 * among positions b, b + bins, b + 2 bins, ... (ties to the lower position).
 */
export function partialReduceLine(
  line: ArrayLike<number>,
  bins: number,
  compare: (a: number, b: number) => number,
): number[] {
  const best = new Array<number>(bins);
  for (let b = 0; b < bins; b++) {
    let winner = b;
    for (let i = b + bins; i < line.length; i += bins) {
      if (compare(line[i]!, line[winner]!) < 0) winner = i;
    }
    best[b] = winner;
  }
  return best;
}

function approxTopKReference(op: ApproxTopKName) {
  const compare = op === 'approx_max_k' ? largerFirst : smallerFirst;
  return (inputs: readonly TensorView[], outputs: readonly TensorView[], p: ApproxTopKParams): void => {
    const x = inputs[0]!;
    const [values, indices] = outputs as [TensorView, TensorView];
    const bins = partialReduceBins(op, inputs, p);
    const { outer, size, inner } = linesAlong(x.shape, p.reductionDimension);
    const outSize = values.shape[p.reductionDimension]!;
    const line = new Float64Array(size);
    for (let o = 0; o < outer; o++) {
      for (let n = 0; n < inner; n++) {
        const inBase = o * size * inner + n;
        for (let i = 0; i < size; i++) line[i] = readElement(x.dtype, x.data, inBase + i * inner);
        let kept = bins === null ? Array.from({ length: size }, (_, i) => i) : partialReduceLine(line, bins, compare);
        if (p.aggregateToTopk) {
          // Exact top-k of the survivors; ties go to the lower position in the line.
          kept = kept.sort((i, j) => compare(line[i]!, line[j]!) || i - j).slice(0, p.k);
        }
        const outBase = o * outSize * inner + n;
        for (let j = 0; j < outSize; j++) {
          values.data[outBase + j * inner] = x.data[inBase + kept[j]! * inner]!;
          indices.data[outBase + j * inner] = kept[j]!;
        }
      }
    }
  };
}

export const APPROX_TOPK_PRIMS: PrimitiveDefs<ApproxTopKName> = {
  approx_max_k: { name: 'approx_max_k', shape: approxTopKShape('approx_max_k'), reference: approxTopKReference('approx_max_k') },
  approx_min_k: { name: 'approx_min_k', shape: approxTopKShape('approx_min_k'), reference: approxTopKReference('approx_min_k') },
};
