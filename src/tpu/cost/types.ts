import type { ChipSpec } from '../chips.js';
import type { PrimitiveName, PrimitiveParams } from '../ops.js';
import type { AbstractValue } from '../tensor.js';

/**
 * The work one op does on a TensorCore, by unit. The cost model prices it with the
 * refined roofline of TPU-KNN (arXiv 2206.14286): the max of MXU, VPU and HBM time.
 */
export interface OpCost {
  /** Useful model FLOPs: the multiply-adds of dot_general/conv that the math needs (2 per MAC). 0 for VPU ops, whose work is in vpuOps. */
  readonly flops: number;
  /** FLOPs the MXU actually spends: the dot padded to the MXU tile (and rows to 8 sublanes). */
  readonly mxuFlops: number;
  /** Element-wise VPU ALU operations (one per element per simple op; sorts count compare-exchange ops). */
  readonly vpuOps: number;
  /** Transcendental evaluations (exp, log, rsqrt, divide...); each costs ChipSpec.transcendentalVpuOps VPU ops. */
  readonly transcendentalOps?: number;
  /** HBM bytes read (inputs) plus written (outputs), by dtype. */
  readonly hbmBytes: number;
}

/** A primitive's cost rule: work as a function of its abstract inputs, outputs and params. */
export type CostRule<N extends PrimitiveName> = (
  inputs: readonly AbstractValue[],
  outputs: readonly AbstractValue[],
  params: PrimitiveParams[N],
  chip: ChipSpec,
) => OpCost;

export type CostTable = { readonly [N in PrimitiveName]: CostRule<N> };

/** The unit that bounds an op's time. */
export type Unit = 'mxu' | 'vpu' | 'hbm' | 'overhead';

export const UNITS: readonly Unit[] = ['mxu', 'vpu', 'hbm', 'overhead'];

export interface OpTime {
  /** Simulated seconds: max(mxu, vpu, hbm) + overhead. */
  readonly seconds: number;
  /** The unit with the largest time; 'overhead' when the fixed cost exceeds all three. */
  readonly binding: Unit;
  readonly mxuSeconds: number;
  readonly vpuSeconds: number;
  readonly hbmSeconds: number;
  readonly overheadSeconds: number;
}
