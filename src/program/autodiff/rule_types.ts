/**
 * The shapes of the differentiation rules, one JVP rule and one VJP rule per primitive.
 *
 * A tangent or cotangent may be `null`: a symbolic zero, so rules skip work for inputs
 * that do not depend on (or do not feed) the values being differentiated.
 */
import type { OpName, OpParams } from '../ir.js';
import type { Tensor } from '../tracer.js';

export type MaybeTensor = Tensor | null;

/**
 * Forward mode: the output tangents of one equation, given its primal inputs, their
 * tangents (at least one non-null), and the primal outputs already computed.
 */
export type JvpRule<N extends OpName> = (
  primals: readonly Tensor[],
  tangents: readonly MaybeTensor[],
  outs: readonly Tensor[],
  params: OpParams[N],
) => MaybeTensor[];

/**
 * Reverse mode: the input cotangents of one equation, given its primal inputs and outputs
 * and its output cotangents (at least one non-null). `active[i]` says whether input i needs
 * a cotangent; the rule returns null where it does not (or where the input is not a float).
 */
export type VjpRule<N extends OpName> = (
  primals: readonly Tensor[],
  outs: readonly Tensor[],
  cts: readonly MaybeTensor[],
  params: OpParams[N],
  active: readonly boolean[],
) => MaybeTensor[];

/**
 * The explicit entry of a primitive whose outputs carry no derivative: integer or boolean
 * results (compare, argmax, iota, threefry, bitwise ops) or piecewise-constant functions
 * (floor, sign, round). Its inputs get a zero cotangent and its outputs a zero tangent.
 */
export const NON_DIFFERENTIABLE = 'non-differentiable' as const;
export type NonDifferentiable = typeof NON_DIFFERENTIABLE;

export type JvpTable<N extends OpName> = { readonly [K in N]: JvpRule<K> | NonDifferentiable };
export type VjpTable<N extends OpName> = { readonly [K in N]: VjpRule<K> | NonDifferentiable };

/** A family's rules: both tables over the same primitive names. */
export interface RuleFamily<N extends OpName> {
  readonly jvp: JvpTable<N>;
  readonly vjp: VjpTable<N>;
}
