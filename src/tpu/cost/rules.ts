/**
 * The cost model's table: one cost rule per primitive (a missing entry is a compile error,
 * and test/tpu/cost/rules.test.ts checks coverage at run time).
 *
 * Accounting, per unit:
 * - MXU: dot_general and conv_general_dilated (via its im2col-equivalent dot). The
 *   stationary operand is padded to the MXU tile on both of its dims (K and N), the
 *   streamed rows (M) to 8 sublanes: mxuFlops = 2·B·ceil8(M)·ceilT(K)·ceilT(N). XLA picks
 *   which operand is stationary, so we take the cheaper orientation. f32 dots are priced
 *   like bf16 (JAX's DEFAULT precision on TPU is one bf16 pass).
 * - VPU: one ALU op per element for simple element-wise ops, compares, selects and
 *   reductions; ops that track (value, index) pairs (argmax, PartialReduce) cost compare +
 *   two selects; transcendentals are counted apart and priced by the chip table. Sorting
 *   is a bitonic network, which is how TPUs sort: ceil-pow2(n)/2 · log2(P)(log2(P)+1)/2
 *   compare-exchanges per row, each a compare (2·numKeys−1 for lexicographic keys) plus two
 *   selects per operand. top_k is sort-based; approx_max_k is PartialReduce (compare + 2
 *   selects per input element, as TPU-KNN counts it) plus a sort-based top-k over the
 *   survivors.
 * - HBM: bytes of the inputs read plus the outputs written, by dtype; slices read only the
 *   slice. Layout ops (reshape, transpose, broadcast, concatenate, pad...) have no VPU
 *   work, so they are HBM-bound.
 */
import type { ChipSpec } from '../chips.js';
import { itemsize } from '../dtype.js';
import {
  type BinaryOp,
  type CompareOp,
  type PrimitiveName,
  type UnaryOp,
  BINARY_OPS,
  COMPARE_OPS,
  UNARY_OPS,
} from '../ops.js';
import { type AbstractValue, sizeOf } from '../tensor.js';
import { approxTopKReductionOutputSize } from '../prims/approx_topk.js';
import type { CostRule, CostTable, OpCost } from './types.js';

// ---- helpers ----------------------------------------------------------------------------

export function bytesOf(v: AbstractValue): number {
  return sizeOf(v.shape) * itemsize(v.dtype);
}

function sumBytes(vs: readonly AbstractValue[]): number {
  let b = 0;
  for (const v of vs) b += bytesOf(v);
  return b;
}

function ioBytes(inputs: readonly AbstractValue[], outputs: readonly AbstractValue[]): number {
  return sumBytes(inputs) + sumBytes(outputs);
}

function elements(v: AbstractValue | undefined): number {
  return v ? sizeOf(v.shape) : 0;
}

function product(xs: readonly number[]): number {
  let p = 1;
  for (const x of xs) p *= x;
  return p;
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

function nextPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

/** Pure VPU op: `opsPerElement` ALU ops and `transcendentalPerElement` transcendentals per element of `n`. */
function vpuCost(
  inputs: readonly AbstractValue[],
  outputs: readonly AbstractValue[],
  n: number,
  opsPerElement: number,
  transcendentalPerElement = 0,
): OpCost {
  return {
    flops: 0,
    mxuFlops: 0,
    vpuOps: n * opsPerElement,
    transcendentalOps: n * transcendentalPerElement,
    hbmBytes: ioBytes(inputs, outputs),
  };
}

/** Data movement only: HBM-bound. `readBytes` defaults to every input. */
function layoutCost(inputs: readonly AbstractValue[], outputs: readonly AbstractValue[], readBytes = sumBytes(inputs)): OpCost {
  return { flops: 0, mxuFlops: 0, vpuOps: 0, hbmBytes: readBytes + sumBytes(outputs) };
}

/**
 * FLOPs the MXU spends on `batch` independent [rows x k] @ [k x cols] products: the
 * stationary [k x cols] operand padded to the tile on both dims, the streamed rows to the
 * sublane granule. XLA chooses the orientation; we take the cheaper.
 */
export function mxuPaddedFlops(batch: number, m: number, k: number, n: number, chip: ChipSpec): number {
  if (batch === 0 || m === 0 || k === 0 || n === 0) return 0;
  const t = chip.mxuTile;
  const g = chip.mxuRowGranule;
  const kPad = roundUp(k, t);
  const asRows = roundUp(m, g) * kPad * roundUp(n, t);
  const asCols = roundUp(n, g) * kPad * roundUp(m, t);
  return 2 * batch * Math.min(asRows, asCols);
}

function matmulCost(
  inputs: readonly AbstractValue[],
  outputs: readonly AbstractValue[],
  batch: number,
  m: number,
  k: number,
  n: number,
  chip: ChipSpec,
): OpCost {
  return {
    flops: 2 * batch * m * k * n,
    mxuFlops: mxuPaddedFlops(batch, m, k, n, chip),
    vpuOps: 0,
    hbmBytes: ioBytes(inputs, outputs),
  };
}

/** Compare-exchanges of a bitonic sorting network over `n` elements (padded to a power of two). */
export function bitonicCompareExchanges(n: number): number {
  if (n <= 1) return 0;
  const p = nextPowerOfTwo(n);
  const log = Math.log2(p);
  return (p / 2) * ((log * (log + 1)) / 2);
}

/** VPU ops of one compare-exchange: the key comparison(s) plus a select pair (min, max) per operand. */
export function compareExchangeOps(numKeys: number, numOperands: number): number {
  return 2 * numKeys - 1 + 2 * numOperands;
}

/** VPU ops of a sort-based top-k over `rows` rows of `n`: a bitonic sort of (value, index) pairs plus the index iota. */
export function sortTopKVpuOps(rows: number, n: number): number {
  return rows * (bitonicCompareExchanges(n) * compareExchangeOps(1, 2) + n);
}

/** VPU ops per input element of PartialReduce: compare, select value, select index (TPU-KNN). */
export const PARTIAL_REDUCE_OPS_PER_ELEMENT = 3;

// ---- element-wise classes ----------------------------------------------------------------

/**
 * [VPU ops, transcendentals] per element. 'Native' transcendentals (exp, log, rsqrt,
 * reciprocal, tanh, logistic...) are one unit evaluation; the composite ones (trig,
 * inverse trig, erf, cbrt...) are priced as two evaluations plus a few ALU ops for range
 * reduction and combination: an ASSUMPTION, like the unit's cost in the chip table.
 */
const COMPOSITE: readonly [number, number] = [4, 2];
const UNARY_WORK: { readonly [K in UnaryOp]: readonly [number, number] } = {
  neg: [1, 0], abs: [1, 0], sign: [2, 0], floor: [1, 0], ceil: [1, 0], round: [2, 0], is_finite: [1, 0],
  exp: [0, 1], exp2: [0, 1], log: [0, 1], log1p: [1, 1], expm1: [1, 1], tanh: [0, 1], logistic: [1, 2],
  sqrt: [0, 1], rsqrt: [0, 1], cbrt: COMPOSITE, erf: COMPOSITE, erf_inv: COMPOSITE,
  sin: COMPOSITE, cos: COMPOSITE, tan: COMPOSITE, asin: COMPOSITE, acos: COMPOSITE, atan: COMPOSITE,
  sinh: COMPOSITE, cosh: COMPOSITE, asinh: COMPOSITE, acosh: COMPOSITE, atanh: COMPOSITE,
  square: [1, 0], reciprocal: [0, 1], not: [1, 0], population_count: [1, 0], clz: [1, 0],
};

/** Divide = reciprocal + multiply; rem = divide, truncate, multiply, subtract; pow = exp(y·log x). */
const BINARY_WORK: { readonly [K in BinaryOp]: readonly [number, number] } = {
  add: [1, 0], sub: [1, 0], mul: [1, 0], div: [1, 1], rem: [4, 1], pow: [1, 2], max: [1, 0], min: [1, 0],
  atan2: COMPOSITE, nextafter: [4, 0], and: [1, 0], or: [1, 0], xor: [1, 0],
  shift_left: [1, 0], shift_right_logical: [1, 0], shift_right_arithmetic: [1, 0],
};

function elementwiseRule(work: readonly [number, number]): CostRule<PrimitiveName> {
  return (inputs, outputs) => vpuCost(inputs, outputs, elements(outputs[0]), work[0], work[1]);
}

function reduceRule(opsPerElement: number): CostRule<PrimitiveName> {
  return (inputs, outputs) => vpuCost(inputs, outputs, elements(inputs[0]), opsPerElement);
}

/** Parallel prefix (Hillis-Steele): ceil(log2 len) ops per element. */
function cumulativeRule(): CostRule<'cumsum' | 'cumprod' | 'cummax' | 'cummin'> {
  return (inputs, outputs, params) => {
    const len = inputs[0]!.shape[params.axis] ?? 1;
    return vpuCost(inputs, outputs, elements(inputs[0]), Math.max(1, Math.ceil(Math.log2(Math.max(len, 1)))));
  };
}

function windowRule(): CostRule<'reduce_window_sum' | 'reduce_window_max' | 'reduce_window_min'> {
  return (inputs, outputs, params) => vpuCost(inputs, outputs, elements(outputs[0]), product(params.windowDimensions));
}

/** Threefry-2x32, 20 rounds: each round add, rotate (shl, shr, or), xor = 5 ops; 5 key injections of 3 adds. */
const THREEFRY_OPS_PER_PAIR = 20 * 5 + 5 * 3;

function approxTopKCost(
  inputs: readonly AbstractValue[],
  outputs: readonly AbstractValue[],
  params: { k: number; reductionDimension: number; recallTarget: number; reductionInputSizeOverride: number; aggregateToTopk: boolean },
): OpCost {
  const x = inputs[0]!;
  const n = x.shape[params.reductionDimension] ?? 1;
  const rows = n === 0 ? 0 : sizeOf(x.shape) / n;
  const reduction = approxTopKReductionOutputSize(
    n, x.shape.length, params.k, params.recallTarget, false, params.reductionInputSizeOverride,
  );
  let vpuOps = reduction.log2Reduction > 0 ? rows * n * PARTIAL_REDUCE_OPS_PER_ELEMENT : 0;
  const survivors = reduction.log2Reduction > 0 ? reduction.outputSize : n;
  if (params.aggregateToTopk) vpuOps += sortTopKVpuOps(rows, survivors);
  return { flops: 0, mxuFlops: 0, vpuOps, hbmBytes: ioBytes(inputs, outputs) };
}

// ---- the table ---------------------------------------------------------------------------

const unaryRules = Object.fromEntries(UNARY_OPS.map((op) => [op, elementwiseRule(UNARY_WORK[op])])) as {
  [K in UnaryOp]: CostRule<K>;
};
const binaryRules = Object.fromEntries(BINARY_OPS.map((op) => [op, elementwiseRule(BINARY_WORK[op])])) as {
  [K in BinaryOp]: CostRule<K>;
};
const compareRules = Object.fromEntries(COMPARE_OPS.map((op) => [op, elementwiseRule([1, 0])])) as {
  [K in CompareOp]: CostRule<K>;
};

export const COST_RULES: CostTable = {
  ...unaryRules,
  ...binaryRules,
  ...compareRules,

  integer_pow: (inputs, outputs, { y }) => {
    // Square-and-multiply: floor(log2|y|) squarings + (popcount(|y|) - 1) multiplies; a negative power adds a reciprocal.
    const a = Math.abs(y);
    const mults = a <= 1 ? 0 : Math.floor(Math.log2(a)) + a.toString(2).split('1').length - 2;
    return vpuCost(inputs, outputs, elements(outputs[0]), Math.max(1, mults), y < 0 ? 1 : 0);
  },
  select: elementwiseRule([1, 0]),
  clamp: elementwiseRule([2, 0]),
  convert_element_type: elementwiseRule([1, 0]),
  bitcast_convert_type: (inputs, outputs) => layoutCost(inputs, outputs),
  iota: (inputs, outputs) => vpuCost(inputs, outputs, elements(outputs[0]), 1),

  broadcast_in_dim: (inputs, outputs) => layoutCost(inputs, outputs),
  reshape: (inputs, outputs) => layoutCost(inputs, outputs),
  transpose: (inputs, outputs) => layoutCost(inputs, outputs),
  slice: (inputs, outputs) => layoutCost(inputs, outputs, sumBytes(outputs)),
  dynamic_slice: (inputs, outputs) => layoutCost(inputs, outputs, sumBytes(outputs) + sumBytes(inputs.slice(1))),
  dynamic_update_slice: (inputs, outputs) => layoutCost(inputs, outputs),
  pad: (inputs, outputs) => layoutCost(inputs, outputs),
  concatenate: (inputs, outputs) => layoutCost(inputs, outputs),
  rev: (inputs, outputs) => layoutCost(inputs, outputs),

  reduce_sum: reduceRule(1),
  reduce_max: reduceRule(1),
  reduce_min: reduceRule(1),
  reduce_prod: reduceRule(1),
  reduce_and: reduceRule(1),
  reduce_or: reduceRule(1),
  argmax: reduceRule(PARTIAL_REDUCE_OPS_PER_ELEMENT),
  argmin: reduceRule(PARTIAL_REDUCE_OPS_PER_ELEMENT),

  reduce_window_sum: windowRule(),
  reduce_window_max: windowRule(),
  reduce_window_min: windowRule(),
  select_and_scatter_add: (inputs, outputs, params) => {
    // Per source element: an argmax over its window (compare + 2 selects per element), then one add.
    const window = product(params.windowDimensions);
    const sources = elements(inputs[0]);
    return vpuCost(inputs, outputs, sources, window * PARTIAL_REDUCE_OPS_PER_ELEMENT + 1);
  },

  cumsum: cumulativeRule(),
  cumprod: cumulativeRule(),
  cummax: cumulativeRule(),
  cummin: cumulativeRule(),

  dot_general: (inputs, outputs, params, chip) => {
    const [lhs, rhs] = [inputs[0]!, inputs[1]!];
    const [lc, rc] = params.contractingDims;
    const [lb, rb] = params.batchDims;
    const batch = product(lb.map((d) => lhs.shape[d]!));
    const k = product(lc.map((d) => lhs.shape[d]!));
    const m = product(lhs.shape.filter((_, d) => !lc.includes(d) && !lb.includes(d)));
    const n = product(rhs.shape.filter((_, d) => !rc.includes(d) && !rb.includes(d)));
    return matmulCost(inputs, outputs, batch, m, k, n, chip);
  },

  conv_general_dilated: (inputs, outputs, params, chip) => {
    // im2col: rows = output batch x output positions, K = in-features per group x kernel
    // positions, cols = out-features per group; one such dot per feature/batch group.
    const rhs = inputs[1]!;
    const out = outputs[0]!;
    const { rhsSpec, outSpec } = params.dimensionNumbers;
    const groups = params.featureGroupCount * params.batchGroupCount;
    const outFeatures = rhs.shape[rhsSpec[0]!]!;
    const inFeaturesPerGroup = rhs.shape[rhsSpec[1]!]!;
    const kernelPositions = product(rhsSpec.slice(2).map((d) => rhs.shape[d]!));
    const outPositions = product(outSpec.slice(2).map((d) => out.shape[d]!));
    const rows = out.shape[outSpec[0]!]! * outPositions;
    return matmulCost(inputs, outputs, groups, rows, inFeaturesPerGroup * kernelPositions, outFeatures / groups, chip);
  },

  sort: (inputs, outputs, params) => {
    const x = inputs[0]!;
    const n = x.shape[params.dimension] ?? 1;
    const rows = n === 0 ? 0 : sizeOf(x.shape) / n;
    const perCE = compareExchangeOps(params.numKeys, inputs.length);
    return { flops: 0, mxuFlops: 0, vpuOps: rows * bitonicCompareExchanges(n) * perCE, hbmBytes: ioBytes(inputs, outputs) };
  },
  top_k: (inputs, outputs) => {
    const x = inputs[0]!;
    const n = x.shape[x.shape.length - 1] ?? 1;
    const rows = n === 0 ? 0 : sizeOf(x.shape) / n;
    return { flops: 0, mxuFlops: 0, vpuOps: sortTopKVpuOps(rows, n), hbmBytes: ioBytes(inputs, outputs) };
  },
  approx_max_k: (inputs, outputs, params) => approxTopKCost(inputs, outputs, params),
  approx_min_k: (inputs, outputs, params) => approxTopKCost(inputs, outputs, params),

  gather: (inputs, outputs) =>
    // Reads the gathered windows (the output's size in the operand's dtype) and the indices.
    layoutCost(inputs, outputs, elements(outputs[0]) * itemsize(inputs[0]!.dtype) + bytesOf(inputs[1]!)),
  scatter_add: (inputs, outputs) => vpuCost(inputs, outputs, elements(inputs[2]), 1),

  threefry2x32: (inputs, outputs) => vpuCost(inputs, outputs, elements(outputs[0]), THREEFRY_OPS_PER_PAIR),
};

/** The cost of one primitive application. */
export function opCost<N extends PrimitiveName>(
  name: N,
  inputs: readonly AbstractValue[],
  outputs: readonly AbstractValue[],
  params: Parameters<CostRule<N>>[2],
  chip: ChipSpec,
): OpCost {
  const rule = COST_RULES[name] as CostRule<N> | undefined;
  if (!rule) throw new Error(`no cost rule for primitive ${JSON.stringify(name)}`);
  return rule(inputs, outputs, params, chip);
}
