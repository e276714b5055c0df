/** Test helper: runs a primitive definition's shape rule and reference kernel on host tensors. */
import type { PrimitiveName, PrimitiveParams } from '../../../src/tpu/ops.js';
import type { PrimitiveDef } from '../../../src/tpu/primitive.js';
import { type TensorView, hostTensor } from '../../../src/tpu/tensor.js';

export function runDef<N extends PrimitiveName>(
  def: PrimitiveDef<N>,
  inputs: readonly TensorView[],
  params: PrimitiveParams[N],
): TensorView[] {
  const outputs = def.shape(inputs, params).map((v) => hostTensor(v.dtype, v.shape));
  def.reference(inputs, outputs, params);
  return outputs;
}

/** A deterministic 32-bit PRNG (mulberry32) for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
