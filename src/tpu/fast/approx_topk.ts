/**
 * lax.approx_max_k along the last axis, f32 and bf16: the same PartialReduce and
 * aggregation as the reference kernel (src/tpu/prims/approx_topk.ts), bit for bit, in one
 * streaming pass per row.
 *
 * The reference reads each row into doubles and walks every bin's stride with a comparator;
 * here the row is read once in memory order, chunk after chunk of `bins` elements, and each
 * element is compared with its bin's running best (a plain `>`, falling back to the total
 * order only for NaN and signed-zero ties). The survivors' exact top-k keeps a sorted list
 * of k (value, index) pairs, ranked like the reference: total order, then lower index.
 * Scratch grows once and is reused, so a call allocates nothing in its loops.
 */
import { bf16BitsToF32 } from '../dtype.js';
import type { ApproxTopKParams } from '../ops.js';
import { approxTopKReductionOutputSize } from '../prims/approx_topk.js';
import { compareTotalOrder } from '../prims/float_order.js';
import type { KernelBackend } from './backend.js';
import type { FastKernel } from './types.js';

let bf16Table: Float32Array | null = null;

/** The f32 value of every bf16 bit pattern, built on first use (256 KiB). */
function bf16Values(): Float32Array {
  if (bf16Table === null) {
    bf16Table = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) bf16Table[b] = bf16BitsToF32(b);
  }
  return bf16Table;
}

// Grow-only scratch: a row's widened values (bf16 only), the bins' running best, the top-k list.
let rowScratch = new Float32Array(0);
let binValue = new Float32Array(0);
let binIndex = new Int32Array(0);
let topValue = new Float64Array(0);
let topIndex = new Int32Array(0);

function ensureScratch(n: number, bins: number, k: number, widen: boolean): void {
  if (widen && rowScratch.length < n) rowScratch = new Float32Array(n);
  if (binValue.length < bins) {
    binValue = new Float32Array(bins);
    binIndex = new Int32Array(bins);
  }
  if (topValue.length < k) {
    topValue = new Float64Array(k);
    topIndex = new Int32Array(k);
  }
}

/** Whether (v, i) ranks above (w, j): larger under the IEEE total order, then lower index. */
function ranksAbove(v: number, i: number, w: number, j: number): boolean {
  if (v > w) return true;
  if (v < w) return false;
  const c = compareTotalOrder(v, w); // equal, NaN or a signed-zero pair
  return c > 0 || (c === 0 && i < j);
}

/** Offers (v, i) to the sorted top list of `count` entries (capacity k); returns the new count. */
function offer(v: number, i: number, count: number, k: number): number {
  if (count === k) {
    if (!ranksAbove(v, i, topValue[k - 1]!, topIndex[k - 1]!)) return count;
    count--;
  }
  let p = count;
  while (p > 0 && ranksAbove(v, i, topValue[p - 1]!, topIndex[p - 1]!)) {
    topValue[p] = topValue[p - 1]!;
    topIndex[p] = topIndex[p - 1]!;
    p--;
  }
  topValue[p] = v;
  topIndex[p] = i;
  return count + 1;
}

/**
 * PartialReduce of row[0..n) into `bins` strided bins: bin b keeps the best of positions
 * b, b + bins, b + 2·bins, ..., ties to the lower position (the earlier chunk).
 */
function partialReduce(row: Float32Array, base: number, n: number, bins: number, best: Float32Array, at: Int32Array): void {
  const first = Math.min(bins, n);
  for (let b = 0; b < first; b++) {
    best[b] = row[base + b]!;
    at[b] = b;
  }
  for (let c = bins; c < n; c += bins) {
    const lim = Math.min(bins, n - c);
    const off = base + c;
    for (let b = 0; b < lim; b++) {
      const v = row[off + b]!;
      const cur = best[b]!;
      if (v > cur) {
        best[b] = v;
        at[b] = c + b;
      } else if ((v !== v || v === cur) && compareTotalOrder(v, cur) > 0) {
        // NaN (largest) or +0 over -0: the total order's cases that `>` misses
        best[b] = v;
        at[b] = c + b;
      }
    }
  }
}

/** The kernel on `backend`: its native PartialReduce where it has one, the loop above otherwise. */
export function makeApproxMaxK(backend?: KernelBackend): FastKernel<'approx_max_k'> {
  return (inputs, outputs, params: ApproxTopKParams) => {
    const x = inputs[0];
    const values = outputs[0];
    const indices = outputs[1];
    if (x === undefined || values === undefined || indices === undefined) return false;
    if ((x.dtype !== 'f32' && x.dtype !== 'bf16') || values.dtype !== x.dtype || indices.dtype !== 'i32') return false;
    const rank = x.shape.length;
    if (rank < 1 || params.reductionDimension !== rank - 1) return false;
    const n = x.shape[rank - 1]!;
    const rows = n === 0 ? 0 : x.data.length / n;
    const k = params.k;
    const rule = approxTopKReductionOutputSize(n, rank, k, params.recallTarget, false, params.reductionInputSizeOverride);
    const bins = rule.log2Reduction === 0 ? 0 : rule.outputSize;
    const survivors = bins === 0 ? n : bins;
    const outSize = params.aggregateToTopk ? k : survivors;
    if (values.data.length !== rows * outSize || indices.data.length !== rows * outSize) return false;

    const widen = x.dtype === 'bf16';
    ensureScratch(n, bins, params.aggregateToTopk ? k : 0, widen);
    const table = widen ? bf16Values() : null;
    const src = x.data;
    const outValues = values.data;
    const outIndices = indices.data as Int32Array;
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      // f32 rows are read in place; bf16 rows are widened once into scratch.
      let row: Float32Array;
      let rowBase: number;
      if (table !== null) {
        for (let i = 0; i < n; i++) rowScratch[i] = table[src[base + i]!]!;
        row = rowScratch;
        rowBase = 0;
      } else {
        row = src as Float32Array;
        rowBase = base;
      }
      if (bins > 0 && !backend?.partialReduce?.(row, rowBase, n, bins, binValue, binIndex)) {
        partialReduce(row, rowBase, n, bins, binValue, binIndex);
      }
      const outBase = r * outSize;
      if (!params.aggregateToTopk) {
        // The survivors in bin order, unsorted (every element, in order, when nothing was reduced).
        for (let j = 0; j < outSize; j++) {
          const i = bins > 0 ? binIndex[j]! : j;
          outValues[outBase + j] = src[base + i]!;
          outIndices[outBase + j] = i;
        }
        continue;
      }
      let count = 0;
      if (bins > 0) {
        for (let b = 0; b < bins; b++) count = offer(binValue[b]!, binIndex[b]!, count, k);
      } else {
        for (let i = 0; i < n; i++) count = offer(row[rowBase + i]!, i, count, k);
      }
      for (let j = 0; j < k; j++) {
        const i = topIndex[j]!;
        outValues[outBase + j] = src[base + i]!; // the raw element: bf16 bits pass through
        outIndices[outBase + j] = i;
      }
    }
    return true;
  };
}
