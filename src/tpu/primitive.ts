import type { PrimitiveName, PrimitiveParams } from './ops.js';
import { type AbstractValue, type TensorView, shapeToString } from './tensor.js';

/** A shape or dtype rule was violated. The message names the op and every operand shape. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(
    readonly op: string,
    readonly inputs: readonly AbstractValue[],
    detail: string,
  ) {
    super(`${op}: ${detail} (operands: ${inputs.map(shapeToString).join(', ') || 'none'})`);
  }
}

/**
 * Layer 1's entry for one primitive: its shape rule and its reference kernel.
 * (The cost rule lives in the cost model's table, the fast kernels in src/tpu/fast/.)
 */
export interface PrimitiveDef<N extends PrimitiveName = PrimitiveName> {
  readonly name: N;
  /** Output shapes and dtypes. Throws ShapeError on arity, shape or dtype mismatch. */
  shape(inputs: readonly AbstractValue[], params: PrimitiveParams[N]): AbstractValue[];
  /**
   * The readable reference kernel, the numerical oracle for the fast path and for every
   * distributed result. Writes into `outputs`, which the caller allocated from `shape`.
   * It may allocate temporaries; it must not keep references to its arguments.
   */
  reference(inputs: readonly TensorView[], outputs: readonly TensorView[], params: PrimitiveParams[N]): void;
}

/** A group of primitive definitions, keyed by name. */
export type PrimitiveDefs<N extends PrimitiveName> = { readonly [K in N]: PrimitiveDef<K> };

export type PrimitiveTable = PrimitiveDefs<PrimitiveName>;
