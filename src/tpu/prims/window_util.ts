/**
 * Window geometry shared by conv_general_dilated, reduce_window_* and
 * select_and_scatter_add: XLA's `Window` (size, stride, [lo, hi] padding, base dilation,
 * window dilation) per dimension, as in xla/window_util.cc and
 * xla/service/shape_inference.cc (InferWindowOutputShape).
 */

export interface WindowDim {
  readonly size: number;
  readonly stride: number;
  readonly padLow: number;
  readonly padHigh: number;
  /** Base (lhs) dilation: `baseDilation - 1` holes between input elements. */
  readonly baseDilation: number;
  /** Window (rhs) dilation: `windowDilation - 1` holes between window taps. */
  readonly windowDilation: number;
}

/** Size of `bound` elements spread out with `dilation - 1` holes between neighbours (window_util::DilatedBound). */
export function dilatedSize(bound: number, dilation: number): number {
  return bound === 0 ? 0 : (bound - 1) * dilation + 1;
}

/** Number of window placements in `bound` elements (window_util::StridedBound); 0 when the window does not fit. */
export function stridedBound(bound: number, windowSize: number, stride: number): number {
  if (bound === 0 || windowSize > bound) return 0;
  return Math.floor((bound - windowSize) / stride) + 1;
}

/** The input size after base dilation and padding; may be negative for bad (too negative) padding. */
export function paddedDilatedSize(inputSize: number, w: WindowDim): number {
  return w.padLow + dilatedSize(inputSize, w.baseDilation) + w.padHigh;
}

/** Output size of one dimension of a windowed op over `inputSize` elements (caller checked the padded size is >= 0). */
export function windowOutputSize(inputSize: number, w: WindowDim): number {
  return stridedBound(paddedDilatedSize(inputSize, w), dilatedSize(w.size, w.windowDilation), w.stride);
}

/**
 * The input element that window tap `tap` of output position `out` reads, or -1 when that
 * tap lands in padding or in a base-dilation hole (as HloEvaluator's convolution and
 * IterateThroughWindow compute it).
 */
export function windowInputIndex(out: number, tap: number, inputSize: number, w: WindowDim): number {
  const dilatedPos = out * w.stride - w.padLow + tap * w.windowDilation;
  if (dilatedPos < 0 || dilatedPos % w.baseDilation !== 0) return -1;
  const i = dilatedPos / w.baseDilation;
  return i < inputSize ? i : -1;
}

/**
 * Problem with a window's parameters for an operand of `inputSizes`, or null when valid:
 * sizes >= 1, strides and dilations >= 1, integers, padded size >= 0.
 */
export function windowProblem(inputSizes: readonly number[], dims: readonly WindowDim[]): string | null {
  for (let d = 0; d < dims.length; d++) {
    const w = dims[d]!;
    const ints = [w.size, w.stride, w.padLow, w.padHigh, w.baseDilation, w.windowDilation];
    if (!ints.every(Number.isInteger)) return `window dimension ${d} has a non-integer parameter`;
    if (w.size < 1) return `window dimension ${d} has size ${w.size}; must be >= 1`;
    if (w.stride < 1) return `window dimension ${d} has stride ${w.stride}; must be >= 1`;
    if (w.baseDilation < 1 || w.windowDilation < 1) {
      return `window dimension ${d} has dilation (base ${w.baseDilation}, window ${w.windowDilation}); must be >= 1`;
    }
    const padded = paddedDilatedSize(inputSizes[d]!, w);
    if (padded < 0) {
      return `window dimension ${d}: padding [${w.padLow}, ${w.padHigh}] leaves a negative padded size ${padded}`;
    }
  }
  return null;
}
