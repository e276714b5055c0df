/**
 * Layer 1's primitive table: shape rule and reference kernel for every primitive in
 * ops.ts, merged from one module per family. The type makes a missing entry a compile
 * error; test/tpu/primitives.test.ts checks it at run time too.
 */
import type { PrimitiveName, PrimitiveParams } from './ops.js';
import type { PrimitiveDef, PrimitiveTable } from './primitive.js';
import { type AbstractValue, type TensorView } from './tensor.js';
import { ELEMENTWISE_PRIMS } from './prims/elementwise.js';
import { LAYOUT_PRIMS } from './prims/layout.js';
import { REDUCE_PRIMS } from './prims/reduce.js';
import { INDEXING_PRIMS } from './prims/indexing.js';
import { CONTRACTION_PRIMS } from './prims/contraction.js';
import { WINDOW_PRIMS } from './prims/window.js';
import { SORT_PRIMS } from './prims/sort.js';
import { APPROX_TOPK_PRIMS } from './prims/approx_topk.js';

export const PRIMITIVE_TABLE: PrimitiveTable = {
  ...ELEMENTWISE_PRIMS,
  ...LAYOUT_PRIMS,
  ...REDUCE_PRIMS,
  ...INDEXING_PRIMS,
  ...CONTRACTION_PRIMS,
  ...WINDOW_PRIMS,
  ...SORT_PRIMS,
  ...APPROX_TOPK_PRIMS,
};

export function primitiveDef<N extends PrimitiveName>(name: N): PrimitiveDef<N> {
  const def = PRIMITIVE_TABLE[name] as PrimitiveDef<N> | undefined;
  if (!def) throw new Error(`unknown primitive ${JSON.stringify(name)}`);
  return def;
}

/** Output shapes and dtypes of `name` applied to `inputs`. */
export function inferShapes<N extends PrimitiveName>(
  name: N,
  inputs: readonly AbstractValue[],
  params: PrimitiveParams[N],
): AbstractValue[] {
  return primitiveDef(name).shape(inputs, params);
}

/** Runs the reference kernel into freshly allocated host outputs: the oracle, for tests and tools. */
export function runReference<N extends PrimitiveName>(
  name: N,
  inputs: readonly TensorView[],
  params: PrimitiveParams[N],
  allocate: (v: AbstractValue) => TensorView,
): TensorView[] {
  const def = primitiveDef(name);
  const outputs = def.shape(inputs, params).map(allocate);
  def.reference(inputs, outputs, params);
  return outputs;
}
