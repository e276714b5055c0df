/** Test helper: runs a primitive definition's shape rule and reference kernel on host tensors. */
import type { PrimitiveName, PrimitiveParams } from '../../../src/tpu/ops.js';
import type { PrimitiveDef } from '../../../src/tpu/primitive.js';
import { type TensorView, hostTensor } from '../../../src/tpu/tensor.js';
import { mulberry32 as seededRandom } from '../../../src/tpu/host_rng.js';

export function runDef<N extends PrimitiveName>(
  def: PrimitiveDef<N>,
  inputs: readonly TensorView[],
  params: PrimitiveParams[N],
): TensorView[] {
  const outputs = def.shape(inputs, params).map((v) => hostTensor(v.dtype, v.shape));
  def.reference(inputs, outputs, params);
  return outputs;
}

export { seededRandom };
