/**
 * The JVP of a primitive that is linear in some of its operands (and takes the others,
 * index operands, as they are): the primitive itself applied to the tangents.
 */
import { isFloat } from '../../tpu/dtype.js';
import type { OpName, OpParams } from '../ir.js';
import { bind } from '../tracer.js';
import { zerosLike } from './builders.js';
import type { JvpRule } from './rule_types.js';

/**
 * `linear(i)` says whether operand i is a linear operand (its tangent goes in) or a
 * static one such as an index (its primal goes in). Absent tangents of linear operands
 * become zeros; the output tangent is null when no linear operand has a tangent.
 */
export function linearJvp<N extends OpName>(op: N, linear: (i: number) => boolean = () => true): JvpRule<N> {
  return (primals, tangents, outs, params) => {
    if (!outs.some((o) => isFloat(o.dtype))) return outs.map(() => null);
    if (!tangents.some((t, i) => t && linear(i))) return outs.map(() => null);
    const args = primals.map((p, i) => (linear(i) ? (tangents[i] ?? zerosLike(p)) : p));
    return bind(op, args, params as OpParams[N]).map((o) => (isFloat(o.dtype) ? o : null));
  };
}
