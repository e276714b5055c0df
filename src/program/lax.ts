/**
 * `jax.lax` for tpusim: one thin typed wrapper per layer-1 primitive (src/tpu/ops.ts), plus
 * the conveniences lax offers on top of them (string padding, conv dimension-number strings).
 *
 * Wrappers do no broadcasting and no dtype promotion: operands must already agree, exactly as
 * the primitive requires (that is jax.numpy's job, in ./numpy/). Every wrapper goes through
 * `bind`, so it evaluates eagerly, records under jit, and differentiates under grad.
 */
import type { DType } from '../tpu/dtype.js';
import type {
  ApproxTopKParams,
  BinaryOp,
  CompareOp,
  ConvDimensionNumbers,
  GatherDimensionNumbers,
  PadConfig,
  ScatterDimensionNumbers,
  UnaryOp,
  WindowParams,
} from '../tpu/ops.js';
import { type Tensor, bind, bind1 } from './tracer.js';

// ---- element-wise ---------------------------------------------------------------------------

const unary =
  (op: UnaryOp) =>
  (x: Tensor): Tensor =>
    bind1(op, [x], {});
const binary =
  (op: BinaryOp) =>
  (x: Tensor, y: Tensor): Tensor =>
    bind1(op, [x, y], {});
const compare =
  (op: CompareOp) =>
  (x: Tensor, y: Tensor): Tensor =>
    bind1(op, [x, y], {});

export const neg = unary('neg');
export const abs = unary('abs');
export const sign = unary('sign');
export const floor = unary('floor');
export const ceil = unary('ceil');
export const round = unary('round');
export const isFinite = unary('is_finite');
export const exp = unary('exp');
export const exp2 = unary('exp2');
export const log = unary('log');
export const log1p = unary('log1p');
export const expm1 = unary('expm1');
export const tanh = unary('tanh');
export const logistic = unary('logistic');
export const sqrt = unary('sqrt');
export const rsqrt = unary('rsqrt');
export const cbrt = unary('cbrt');
export const erf = unary('erf');
export const erfInv = unary('erf_inv');
export const sin = unary('sin');
export const cos = unary('cos');
export const tan = unary('tan');
export const asin = unary('asin');
export const acos = unary('acos');
export const atan = unary('atan');
export const sinh = unary('sinh');
export const cosh = unary('cosh');
export const asinh = unary('asinh');
export const acosh = unary('acosh');
export const atanh = unary('atanh');
export const square = unary('square');
export const reciprocal = unary('reciprocal');
export const bitwiseNot = unary('not');
export const populationCount = unary('population_count');
export const clz = unary('clz');

export const add = binary('add');
export const sub = binary('sub');
export const mul = binary('mul');
export const div = binary('div');
export const rem = binary('rem');
export const pow = binary('pow');
export const max = binary('max');
export const min = binary('min');
export const atan2 = binary('atan2');
export const nextafter = binary('nextafter');
export const bitwiseAnd = binary('and');
export const bitwiseOr = binary('or');
export const bitwiseXor = binary('xor');
export const shiftLeft = binary('shift_left');
export const shiftRightLogical = binary('shift_right_logical');
export const shiftRightArithmetic = binary('shift_right_arithmetic');

export const eq = compare('eq');
export const ne = compare('ne');
export const lt = compare('lt');
export const le = compare('le');
export const gt = compare('gt');
export const ge = compare('ge');

export function integerPow(x: Tensor, y: number): Tensor {
  return bind1('integer_pow', [x], { y });
}

/** pred ? onTrue : onFalse, element-wise (lax.select). */
export function select(pred: Tensor, onTrue: Tensor, onFalse: Tensor): Tensor {
  return bind1('select', [pred, onTrue, onFalse], {});
}

export function clamp(lo: Tensor, x: Tensor, hi: Tensor): Tensor {
  return bind1('clamp', [lo, x, hi], {});
}

export function convertElementType(x: Tensor, newDtype: DType): Tensor {
  return x.dtype === newDtype ? x : bind1('convert_element_type', [x], { newDtype });
}

export function bitcastConvertType(x: Tensor, newDtype: DType): Tensor {
  return bind1('bitcast_convert_type', [x], { newDtype });
}

// ---- layout ---------------------------------------------------------------------------------

export function iota(dtype: DType, shape: readonly number[], dimension = 0): Tensor {
  return bind1('iota', [], { dtype, shape: [...shape], dimension });
}

export function broadcastInDim(x: Tensor, shape: readonly number[], broadcastDimensions: readonly number[]): Tensor {
  return bind1('broadcast_in_dim', [x], { shape: [...shape], broadcastDimensions: [...broadcastDimensions] });
}

export function reshape(x: Tensor, newSizes: readonly number[]): Tensor {
  return bind1('reshape', [x], { newSizes: [...newSizes] });
}

export function transpose(x: Tensor, permutation: readonly number[]): Tensor {
  return bind1('transpose', [x], { permutation: [...permutation] });
}

export function slice(
  x: Tensor,
  startIndices: readonly number[],
  limitIndices: readonly number[],
  strides?: readonly number[],
): Tensor {
  return bind1('slice', [x], {
    startIndices: [...startIndices],
    limitIndices: [...limitIndices],
    ...(strides ? { strides: [...strides] } : {}),
  });
}

/** Slice of `sliceSizes` at `startIndices` (i32 scalars), clamped into range as XLA does. */
export function dynamicSlice(x: Tensor, startIndices: readonly Tensor[], sliceSizes: readonly number[]): Tensor {
  return bind1('dynamic_slice', [x, ...startIndices], { sliceSizes: [...sliceSizes] });
}

export function dynamicUpdateSlice(x: Tensor, update: Tensor, startIndices: readonly Tensor[]): Tensor {
  return bind1('dynamic_update_slice', [x, update, ...startIndices], {});
}

export function pad(x: Tensor, paddingValue: Tensor, paddingConfig: PadConfig): Tensor {
  return bind1('pad', [x, paddingValue], { paddingConfig });
}

export function concatenate(xs: readonly Tensor[], dimension: number): Tensor {
  return bind1('concatenate', xs, { dimension });
}

export function rev(x: Tensor, dimensions: readonly number[]): Tensor {
  return bind1('rev', [x], { dimensions: [...dimensions] });
}

// ---- reductions -----------------------------------------------------------------------------

export function reduceSum(x: Tensor, axes: readonly number[]): Tensor {
  return bind1('reduce_sum', [x], { axes: [...axes] });
}
export function reduceMax(x: Tensor, axes: readonly number[]): Tensor {
  return bind1('reduce_max', [x], { axes: [...axes] });
}
export function reduceMin(x: Tensor, axes: readonly number[]): Tensor {
  return bind1('reduce_min', [x], { axes: [...axes] });
}
export function reduceProd(x: Tensor, axes: readonly number[]): Tensor {
  return bind1('reduce_prod', [x], { axes: [...axes] });
}
export function reduceAnd(x: Tensor, axes: readonly number[]): Tensor {
  return bind1('reduce_and', [x], { axes: [...axes] });
}
export function reduceOr(x: Tensor, axes: readonly number[]): Tensor {
  return bind1('reduce_or', [x], { axes: [...axes] });
}
export function argmax(x: Tensor, axis: number, indexDtype: DType = 'i32'): Tensor {
  return bind1('argmax', [x], { axis, indexDtype });
}
export function argmin(x: Tensor, axis: number, indexDtype: DType = 'i32'): Tensor {
  return bind1('argmin', [x], { axis, indexDtype });
}

export function cumsum(x: Tensor, axis: number, reverse = false): Tensor {
  return bind1('cumsum', [x], { axis, reverse });
}
export function cumprod(x: Tensor, axis: number, reverse = false): Tensor {
  return bind1('cumprod', [x], { axis, reverse });
}
export function cummax(x: Tensor, axis: number, reverse = false): Tensor {
  return bind1('cummax', [x], { axis, reverse });
}
export function cummin(x: Tensor, axis: number, reverse = false): Tensor {
  return bind1('cummin', [x], { axis, reverse });
}

// ---- padding helpers ------------------------------------------------------------------------

export type Padding = 'SAME' | 'VALID' | readonly (readonly [number, number])[];

/**
 * [low, high] padding per spatial dim (lax.padtype_to_pads). 'SAME' gives ceil(in / stride)
 * outputs, with any odd padding on the high side; 'VALID' pads nothing.
 */
export function padtypeToPads(
  inShape: readonly number[],
  windowShape: readonly number[],
  strides: readonly number[],
  padding: Padding,
): [number, number][] {
  if (padding === 'VALID') return inShape.map(() => [0, 0]);
  if (padding === 'SAME') {
    return inShape.map((n, i) => {
      const s = strides[i]!;
      const out = Math.ceil(n / s);
      const total = Math.max((out - 1) * s + windowShape[i]! - n, 0);
      const lo = Math.floor(total / 2);
      return [lo, total - lo];
    });
  }
  if (!Array.isArray(padding)) throw new Error(`padding must be 'SAME', 'VALID' or [low, high] pairs, got ${JSON.stringify(padding)}`);
  if (padding.length !== inShape.length) {
    throw new Error(`padding has ${padding.length} pairs for ${inShape.length} spatial dims`);
  }
  return padding.map(([lo, hi]) => [lo, hi]);
}

// ---- windowed reductions ----------------------------------------------------------------------

export interface ReduceWindowOptions {
  readonly windowDimensions: readonly number[];
  readonly windowStrides?: readonly number[];
  readonly padding?: Padding;
  readonly baseDilation?: readonly number[];
  readonly windowDilation?: readonly number[];
}

function windowParams(x: Tensor, o: ReduceWindowOptions): WindowParams {
  const rank = o.windowDimensions.length;
  const strides = o.windowStrides ?? new Array<number>(rank).fill(1);
  const wd = o.windowDilation ?? new Array<number>(rank).fill(1);
  const bd = o.baseDilation ?? new Array<number>(rank).fill(1);
  const effWindow = o.windowDimensions.map((k, i) => (k - 1) * wd[i]! + 1);
  const effBase = x.shape.map((n, i) => (n === 0 ? 0 : (n - 1) * (bd[i] ?? 1) + 1));
  return {
    windowDimensions: [...o.windowDimensions],
    windowStrides: [...strides],
    padding: padtypeToPads(effBase, effWindow, strides, o.padding ?? 'VALID'),
    ...(o.baseDilation ? { baseDilation: [...o.baseDilation] } : {}),
    ...(o.windowDilation ? { windowDilation: [...o.windowDilation] } : {}),
  };
}

/** lax.reduce_window with a named monoid: 'sum', 'max' or 'min'. */
export function reduceWindow(x: Tensor, computation: 'sum' | 'max' | 'min', options: ReduceWindowOptions): Tensor {
  const op = computation === 'sum' ? 'reduce_window_sum' : computation === 'max' ? 'reduce_window_max' : 'reduce_window_min';
  return bind1(op, [x], windowParams(x, options));
}
export function reduceWindowSum(x: Tensor, options: ReduceWindowOptions): Tensor {
  return reduceWindow(x, 'sum', options);
}
export function reduceWindowMax(x: Tensor, options: ReduceWindowOptions): Tensor {
  return reduceWindow(x, 'max', options);
}
export function reduceWindowMin(x: Tensor, options: ReduceWindowOptions): Tensor {
  return reduceWindow(x, 'min', options);
}

/** The VJP of reduce_window_max: each window's `source` element added where `operand`'s window max is. */
export function selectAndScatterAdd(source: Tensor, operand: Tensor, params: WindowParams): Tensor {
  return bind1('select_and_scatter_add', [source, operand], params);
}

// ---- contractions ---------------------------------------------------------------------------

export interface DotDimensionNumbers {
  readonly contractingDims: readonly [readonly number[], readonly number[]];
  readonly batchDims?: readonly [readonly number[], readonly number[]];
}

/** lax.dot_general: output dims are batch, lhs free, rhs free. */
export function dotGeneral(
  lhs: Tensor,
  rhs: Tensor,
  dims: DotDimensionNumbers,
  preferredElementType?: DType,
): Tensor {
  return bind1('dot_general', [lhs, rhs], {
    contractingDims: [[...dims.contractingDims[0]], [...dims.contractingDims[1]]],
    batchDims: dims.batchDims ? [[...dims.batchDims[0]], [...dims.batchDims[1]]] : [[], []],
    ...(preferredElementType ? { preferredElementType } : {}),
  });
}

/** lax.dot for vectors and matrices: contracts the last dim of lhs with the first of rhs. */
export function dot(lhs: Tensor, rhs: Tensor, preferredElementType?: DType): Tensor {
  if (lhs.ndim < 1 || lhs.ndim > 2 || rhs.ndim < 1 || rhs.ndim > 2) {
    throw new Error(`dot: operands must be vectors or matrices, got ${lhs} and ${rhs}; use dotGeneral`);
  }
  return dotGeneral(lhs, rhs, { contractingDims: [[lhs.ndim - 1], [0]] }, preferredElementType);
}

/** Dimension numbers as lax writes them: strings like ('NHWC', 'HWIO', 'NHWC') or index specs. */
export type ConvDimensionSpec = readonly [string, string, string] | ConvDimensionNumbers;

/**
 * lax.conv_dimension_numbers for string specs: N/C (O/I for the kernel) locate batch and
 * feature; spatial dims of lhs and out are ordered as their letters appear in the kernel spec.
 */
export function convDimensionNumbers(rank: number, spec?: ConvDimensionSpec): ConvDimensionNumbers {
  if (spec === undefined) {
    const iota = Array.from({ length: rank }, (_, i) => i);
    return { lhsSpec: iota, rhsSpec: iota, outSpec: iota };
  }
  if (!Array.isArray(spec)) return spec as ConvDimensionNumbers;
  const [lhs, rhs, out] = spec as readonly [string, string, string];
  for (const s of [lhs, rhs, out]) {
    if (s.length !== rank) throw new Error(`conv dimension spec ${JSON.stringify(s)} does not have rank ${rank}`);
  }
  const perm = (s: string, batch: string, feature: string): number[] => {
    const b = s.indexOf(batch);
    const f = s.indexOf(feature);
    if (b < 0 || f < 0) throw new Error(`conv dimension spec ${JSON.stringify(s)} lacks ${batch} or ${feature}`);
    const spatial = [...s].map((_, i) => i).filter((i) => i !== b && i !== f);
    if (s !== rhs) spatial.sort((i, j) => rhs.indexOf(s[i]!) - rhs.indexOf(s[j]!));
    return [b, f, ...spatial];
  };
  return { lhsSpec: perm(lhs, 'N', 'C'), rhsSpec: perm(rhs, 'O', 'I'), outSpec: perm(out, 'N', 'C') };
}

export interface ConvOptions {
  readonly windowStrides?: readonly number[];
  readonly padding?: Padding;
  readonly lhsDilation?: readonly number[];
  readonly rhsDilation?: readonly number[];
  readonly dimensionNumbers?: ConvDimensionSpec;
  readonly featureGroupCount?: number;
  readonly batchGroupCount?: number;
  readonly preferredElementType?: DType;
}

/** lax.conv_general_dilated. Without dimension numbers the layout is NCHW / OIHW / NCHW. */
export function convGeneralDilated(lhs: Tensor, rhs: Tensor, options: ConvOptions = {}): Tensor {
  const dn = convDimensionNumbers(lhs.ndim, options.dimensionNumbers);
  const nSpatial = lhs.ndim - 2;
  const ones = new Array<number>(nSpatial).fill(1);
  const strides = options.windowStrides ?? ones;
  const rhsDilation = options.rhsDilation ?? ones;
  const lhsDilation = options.lhsDilation ?? ones;
  const spatialIn = dn.lhsSpec.slice(2).map((d) => lhs.shape[d]!);
  const spatialK = dn.rhsSpec.slice(2).map((d, i) => (rhs.shape[d]! - 1) * rhsDilation[i]! + 1);
  return bind1('conv_general_dilated', [lhs, rhs], {
    windowStrides: [...strides],
    padding: padtypeToPads(spatialIn, spatialK, strides, options.padding ?? 'VALID'),
    lhsDilation: [...lhsDilation],
    rhsDilation: [...rhsDilation],
    dimensionNumbers: dn,
    featureGroupCount: options.featureGroupCount ?? 1,
    batchGroupCount: options.batchGroupCount ?? 1,
    ...(options.preferredElementType ? { preferredElementType: options.preferredElementType } : {}),
  });
}

/** lax.conv: NCHW input, OIHW kernel, no dilation. */
export function conv(lhs: Tensor, rhs: Tensor, windowStrides: readonly number[], padding: Padding): Tensor {
  return convGeneralDilated(lhs, rhs, { windowStrides, padding });
}

// ---- sorting and selection ------------------------------------------------------------------

/** lax.sort: sorts every operand along `dimension` by the first `numKeys` operands. */
export function sort(operands: readonly Tensor[], dimension: number, { isStable = true, numKeys = 1 } = {}): Tensor[] {
  return bind('sort', operands, { dimension, isStable, numKeys });
}

/** lax.sort_key_val: values reordered by sorting keys along `dimension`. */
export function sortKeyVal(keys: Tensor, values: Tensor, dimension: number): [Tensor, Tensor] {
  const [k, v] = sort([keys, values], dimension);
  return [k!, v!];
}

/** lax.top_k along the last axis: [values, indices], descending. */
export function topK(x: Tensor, k: number): [Tensor, Tensor] {
  const [values, indices] = bind('top_k', [x], { k });
  return [values!, indices!];
}

export interface ApproxTopKOptions {
  readonly reductionDimension?: number;
  readonly recallTarget?: number;
  readonly reductionInputSizeOverride?: number;
  readonly aggregateToTopk?: boolean;
}

function approxParams(x: Tensor, k: number, o: ApproxTopKOptions): ApproxTopKParams {
  const dim = o.reductionDimension ?? -1;
  return {
    k,
    reductionDimension: dim < 0 ? dim + x.ndim : dim,
    recallTarget: o.recallTarget ?? 0.95,
    reductionInputSizeOverride: o.reductionInputSizeOverride ?? -1,
    aggregateToTopk: o.aggregateToTopk ?? true,
  };
}

/** lax.approx_max_k (TPU-KNN PartialReduce): [values, indices]. */
export function approxMaxK(x: Tensor, k: number, options: ApproxTopKOptions = {}): [Tensor, Tensor] {
  const [values, indices] = bind('approx_max_k', [x], approxParams(x, k, options));
  return [values!, indices!];
}

export function approxMinK(x: Tensor, k: number, options: ApproxTopKOptions = {}): [Tensor, Tensor] {
  const [values, indices] = bind('approx_min_k', [x], approxParams(x, k, options));
  return [values!, indices!];
}

// ---- gather / scatter -----------------------------------------------------------------------

/** lax.gather with index_vector_dim the last dim of `startIndices`; out-of-range starts are clamped. */
export function gather(
  operand: Tensor,
  startIndices: Tensor,
  dimensionNumbers: GatherDimensionNumbers,
  sliceSizes: readonly number[],
): Tensor {
  return bind1('gather', [operand, startIndices], { dimensionNumbers, sliceSizes: [...sliceSizes] });
}

/** lax.scatter_add with index_vector_dim the last dim of `scatterIndices`; out-of-range windows are dropped. */
export function scatterAdd(
  operand: Tensor,
  scatterIndices: Tensor,
  updates: Tensor,
  dimensionNumbers: ScatterDimensionNumbers,
): Tensor {
  return bind1('scatter_add', [operand, scatterIndices, updates], { dimensionNumbers });
}

// ---- random bits ----------------------------------------------------------------------------

/** The Threefry-2x32 block cipher (jax.random's threefry2x32_p) on i32 words read as uint32. */
export function threefry2x32(k0: Tensor, k1: Tensor, x0: Tensor, x1: Tensor): [Tensor, Tensor] {
  const [y0, y1] = bind('threefry2x32', [k0, k1, x0, x1], {});
  return [y0!, y1!];
}
