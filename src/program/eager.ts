/**
 * Eager evaluation of one primitive on host tensors (no trace active). Eager ops are not
 * priced: only programs run on an emulated core advance a simulated clock.
 *
 * A fast kernel runs where one handles the case (same contract as on a core), else the
 * reference kernel, which is the semantics both must agree on.
 */
import { FAST_KERNELS } from '../tpu/fast/index.js';
import type { FastKernel } from '../tpu/fast/types.js';
import type { PrimitiveName, PrimitiveParams } from '../tpu/ops.js';
import { inferShapes, primitiveDef } from '../tpu/primitives.js';
import { type TensorView, hostTensor } from '../tpu/tensor.js';

export function evalEager<N extends PrimitiveName>(op: N, params: PrimitiveParams[N], inputs: readonly TensorView[]): TensorView[] {
  const outputs = inferShapes(op, inputs, params).map((aval) => hostTensor(aval.dtype, aval.shape));
  const fast = FAST_KERNELS[op] as FastKernel<N> | undefined;
  if (!fast || !fast(inputs, outputs, params)) primitiveDef(op).reference(inputs, outputs, params);
  return outputs;
}
