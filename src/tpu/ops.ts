/**
 * The primitive op set of the emulated TensorCore: an HLO-like IR named after `jax.lax`.
 *
 * This file is the contract between the layers: every primitive's name and parameters.
 * Each layer keeps one table keyed by these names (layer 1: shape rule, reference kernel,
 * cost; layer 3: VJP/JVP; layer 4: sharding and partition rules), and each layer has a
 * test that its table covers every name in PRIMITIVES.
 *
 * Conventions (all as in XLA/JAX):
 * - Tensors are dense and row-major. Axes are non-negative ints in params (callers
 *   normalise negative axes before building an op).
 * - Element-wise binary ops take operands of identical shape and dtype (the tracer inserts
 *   broadcast_in_dim / convert_element_type first, as jax.numpy does).
 * - Index operands (dynamic_slice starts, gather/scatter indices) are i32.
 * - Every primitive returns a list of outputs; most return one.
 */
import type { DType } from './dtype.js';

type NoParams = Record<string, never>;

/** Unary element-wise ops: out = f(x), same shape. Dtype rules in the shape table. */
export const UNARY_OPS = [
  'neg', 'abs', 'sign', 'floor', 'ceil', 'round', 'is_finite',
  'exp', 'exp2', 'log', 'log1p', 'expm1', 'tanh', 'logistic', 'sqrt', 'rsqrt', 'cbrt',
  'erf', 'erf_inv', 'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh',
  'square', 'reciprocal', 'not', 'population_count', 'clz',
] as const;

/** Binary element-wise ops: out = f(x, y), operands of one shape and dtype. */
export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'rem', 'pow', 'max', 'min', 'atan2', 'nextafter',
  'and', 'or', 'xor', 'shift_left', 'shift_right_logical', 'shift_right_arithmetic',
] as const;

/** Comparisons: bool result, operands of one shape and dtype. NaN compares as in IEEE (ne is true). */
export const COMPARE_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;

export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type CompareOp = (typeof COMPARE_OPS)[number];

/** [low, high, interior] padding per dimension (lax.pad). Low/high may be negative. */
export type PadConfig = readonly (readonly [number, number, number])[];

/** lax.ConvDimensionNumbers in JAX's internal form: dimension indices, not strings. */
export interface ConvDimensionNumbers {
  /** (batch dim, feature dim, ...spatial dims) of the lhs. NHWC is [0, 3, 1, 2]. */
  readonly lhsSpec: readonly number[];
  /** (out-feature dim, in-feature dim, ...spatial dims) of the kernel. HWIO is [3, 2, 0, 1]. */
  readonly rhsSpec: readonly number[];
  /** (batch dim, feature dim, ...spatial dims) of the output. */
  readonly outSpec: readonly number[];
}

/** lax.GatherDimensionNumbers; index_vector_dim is always the last dim of the indices. */
export interface GatherDimensionNumbers {
  readonly offsetDims: readonly number[];
  readonly collapsedSliceDims: readonly number[];
  readonly startIndexMap: readonly number[];
  readonly operandBatchingDims?: readonly number[];
  readonly startIndicesBatchingDims?: readonly number[];
}

/** lax.ScatterDimensionNumbers; index_vector_dim is always the last dim of the indices. */
export interface ScatterDimensionNumbers {
  readonly updateWindowDims: readonly number[];
  readonly insertedWindowDims: readonly number[];
  readonly scatterDimsToOperandDims: readonly number[];
  readonly operandBatchingDims?: readonly number[];
  readonly scatterIndicesBatchingDims?: readonly number[];
}

export interface WindowParams {
  readonly windowDimensions: readonly number[];
  readonly windowStrides: readonly number[];
  /** [low, high] padding per dimension. */
  readonly padding: readonly (readonly [number, number])[];
  readonly baseDilation?: readonly number[];
  readonly windowDilation?: readonly number[];
}

type UnaryParams = { [K in UnaryOp]: NoParams };
type BinaryParams = { [K in BinaryOp]: NoParams };
type CompareParams = { [K in CompareOp]: NoParams };

/** Parameters of every primitive, keyed by name. Inputs are documented per entry. */
export interface PrimitiveParams extends UnaryParams, BinaryParams, CompareParams {
  /** x**y for a static integer y (lax.integer_pow). */
  integer_pow: { readonly y: number };
  /** (pred: bool, onTrue, onFalse) -> pred ? onTrue : onFalse; all one shape (lax.select_n with 2 cases). */
  select: NoParams;
  /** (min, x, max) -> clamp; min and max are scalars or x's shape (lax.clamp). */
  clamp: NoParams;
  /** (x) -> x converted to newDtype: float->int truncates toward zero, saturating; NaN -> 0. */
  convert_element_type: { readonly newDtype: DType };
  /** (x) -> the same bits as newDtype; itemsizes must match (f32 <-> i32). */
  bitcast_convert_type: { readonly newDtype: DType };
  /** () -> iota along `dimension` of `shape`. */
  iota: { readonly dtype: DType; readonly shape: readonly number[]; readonly dimension: number };
  /** (x) -> x broadcast to shape; dim i of x becomes dim broadcastDimensions[i] of the output. */
  broadcast_in_dim: { readonly shape: readonly number[]; readonly broadcastDimensions: readonly number[] };
  /** (x) -> x with newSizes (row-major order kept). */
  reshape: { readonly newSizes: readonly number[] };
  /** (x) -> x with dims permuted: out.shape[i] = x.shape[permutation[i]]. */
  transpose: { readonly permutation: readonly number[] };
  /** (x) -> static slice. */
  slice: {
    readonly startIndices: readonly number[];
    readonly limitIndices: readonly number[];
    readonly strides?: readonly number[];
  };
  /** (x, ...starts: i32 scalars) -> slice of sliceSizes; starts clamped into range as XLA does. */
  dynamic_slice: { readonly sliceSizes: readonly number[] };
  /** (x, update, ...starts: i32 scalars) -> x with update written at the clamped starts. */
  dynamic_update_slice: NoParams;
  /** (x, paddingValue: scalar of x's dtype) -> padded x (lax.pad). */
  pad: { readonly paddingConfig: PadConfig };
  /** (...xs) -> concatenation along dimension. */
  concatenate: { readonly dimension: number };
  /** (x, ...) reversed along dimensions (lax.rev). */
  rev: { readonly dimensions: readonly number[] };
  /** (x) -> sum over axes (removed from the shape). f32 and bf16 accumulate in f32. */
  reduce_sum: { readonly axes: readonly number[] };
  reduce_max: { readonly axes: readonly number[] };
  reduce_min: { readonly axes: readonly number[] };
  reduce_prod: { readonly axes: readonly number[] };
  reduce_and: { readonly axes: readonly number[] };
  reduce_or: { readonly axes: readonly number[] };
  /** (x) -> index of the max along axis (first on ties; NaN counts as max, as in JAX). */
  argmax: { readonly axis: number; readonly indexDtype: DType };
  argmin: { readonly axis: number; readonly indexDtype: DType };
  /** (x) -> windowed sum/max/min (pooling). Padding uses the reduction's identity. */
  reduce_window_sum: WindowParams;
  reduce_window_max: WindowParams;
  reduce_window_min: WindowParams;
  /**
   * (source, operand) -> zeros of operand's shape with each window's `source` element added
   * at the position of that window's max in operand (XLA SelectAndScatter with ge/add): the
   * VJP of reduce_window_max.
   */
  select_and_scatter_add: WindowParams;
  /** (x) -> cumulative op along axis (lax.cumsum etc.). */
  cumsum: { readonly axis: number; readonly reverse: boolean };
  cumprod: { readonly axis: number; readonly reverse: boolean };
  cummax: { readonly axis: number; readonly reverse: boolean };
  cummin: { readonly axis: number; readonly reverse: boolean };
  /**
   * (lhs, rhs) -> lax.dot_general. Output dims: batch, lhs free, rhs free.
   * preferredElementType sets the result dtype (bf16 x bf16 -> f32 is the MXU's native form);
   * default is the operands' dtype. Float products accumulate in f32.
   */
  dot_general: {
    readonly contractingDims: readonly [readonly number[], readonly number[]];
    readonly batchDims: readonly [readonly number[], readonly number[]];
    readonly preferredElementType?: DType;
  };
  /** (lhs, rhs) -> lax.conv_general_dilated. */
  conv_general_dilated: {
    readonly windowStrides: readonly number[];
    readonly padding: readonly (readonly [number, number])[];
    readonly lhsDilation: readonly number[];
    readonly rhsDilation: readonly number[];
    readonly dimensionNumbers: ConvDimensionNumbers;
    readonly featureGroupCount: number;
    readonly batchGroupCount: number;
    readonly preferredElementType?: DType;
  };
  /**
   * (...operands) -> the operands sorted along dimension by the first numKeys operands,
   * lexicographically, ascending, NaN last (lax.sort). isStable keeps ties in order.
   */
  sort: { readonly dimension: number; readonly isStable: boolean; readonly numKeys: number };
  /** (x) -> [values, indices: i32] of the k largest along the last axis, descending (lax.top_k). */
  top_k: { readonly k: number };
  /**
   * (x) -> [values, indices: i32] of approximately the k largest along reductionDimension
   * (lax.approx_max_k; TPU-KNN PartialReduce with XLA's reduced-size rule).
   * reductionInputSizeOverride: the full size of the reduced dim when x is one shard of it (-1: none).
   * Without aggregateToTopk the outputs hold every bin's survivor (the reduced size), unsorted.
   */
  approx_max_k: ApproxTopKParams;
  approx_min_k: ApproxTopKParams;
  /** (operand, startIndices: i32) -> lax.gather; out-of-range starts are clamped. */
  gather: {
    readonly dimensionNumbers: GatherDimensionNumbers;
    readonly sliceSizes: readonly number[];
  };
  /** (operand, scatterIndices: i32, updates) -> operand with updates added (lax.scatter_add); out-of-range windows are dropped. */
  scatter_add: { readonly dimensionNumbers: ScatterDimensionNumbers };
  /**
   * (k0, k1, x0, x1: i32, read as uint32) -> [y0, y1]: the Threefry-2x32 block cipher with 20
   * rounds (Salmon et al. 2011), as jax.random's threefry2x32_p. Keys are scalars or x's shape.
   */
  threefry2x32: NoParams;
}

export interface ApproxTopKParams {
  readonly k: number;
  readonly reductionDimension: number;
  readonly recallTarget: number;
  readonly reductionInputSizeOverride: number;
  readonly aggregateToTopk: boolean;
}

export type PrimitiveName = keyof PrimitiveParams;

/** Every primitive name, once. Layer tables are tested for coverage against this list. */
export const PRIMITIVES: readonly PrimitiveName[] = [
  ...UNARY_OPS,
  ...BINARY_OPS,
  ...COMPARE_OPS,
  'integer_pow', 'select', 'clamp', 'convert_element_type', 'bitcast_convert_type', 'iota',
  'broadcast_in_dim', 'reshape', 'transpose', 'slice', 'dynamic_slice', 'dynamic_update_slice',
  'pad', 'concatenate', 'rev',
  'reduce_sum', 'reduce_max', 'reduce_min', 'reduce_prod', 'reduce_and', 'reduce_or',
  'argmax', 'argmin',
  'reduce_window_sum', 'reduce_window_max', 'reduce_window_min', 'select_and_scatter_add',
  'cumsum', 'cumprod', 'cummax', 'cummin',
  'dot_general', 'conv_general_dilated',
  'sort', 'top_k', 'approx_max_k', 'approx_min_k',
  'gather', 'scatter_add',
  'threefry2x32',
];

/** An op's name with its parameters: the unit the executor, cost model and IR exchange. */
export type OpCall<N extends PrimitiveName = PrimitiveName> = N extends PrimitiveName
  ? { readonly op: N; readonly params: PrimitiveParams[N] }
  : never;
