/** Test helper: runs one family-A primitive's shape rule and reference kernel on host tensors. */
import type { DType } from '../../../src/tpu/dtype.js';
import type { PrimitiveName, PrimitiveParams } from '../../../src/tpu/ops.js';
import type { PrimitiveDef } from '../../../src/tpu/primitive.js';
import { type TensorView, hostTensor, tensorFrom, toNumbers } from '../../../src/tpu/tensor.js';

export function run<N extends PrimitiveName>(
  def: PrimitiveDef<N>,
  inputs: readonly TensorView[],
  params: PrimitiveParams[N],
): TensorView[] {
  const outputs = def.shape(inputs, params).map((v) => hostTensor(v.dtype, v.shape));
  def.reference(inputs, outputs, params);
  return outputs;
}

/** The single output as plain numbers. */
export function run1<N extends PrimitiveName>(
  def: PrimitiveDef<N>,
  inputs: readonly TensorView[],
  params: PrimitiveParams[N],
): number[] {
  return [...toNumbers(run(def, inputs, params)[0]!)];
}

export function t(dtype: DType, shape: readonly number[], values: ArrayLike<number>): TensorView {
  return tensorFrom(dtype, shape, values);
}

export function scalar(dtype: DType, value: number): TensorView {
  return tensorFrom(dtype, [], [value]);
}

/** 0, 1, 2, ... as a tensor of `shape`. */
export function arange(dtype: DType, shape: readonly number[]): TensorView {
  let n = 1;
  for (const d of shape) n *= d;
  return tensorFrom(dtype, shape, Array.from({ length: n }, (_, i) => i));
}

export const NO_PARAMS = {} as Record<string, never>;
