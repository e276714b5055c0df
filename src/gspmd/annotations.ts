/**
 * Sharding annotations inside a program: JAX's `with_sharding_constraint`.
 *
 * Inside a trace it records the sharding on the traced value (Program.annotations, in
 * XLA's text form, which layer 3 carries without interpreting); propagation then keeps
 * that value's sharding fixed. The value itself is returned: the constraint is on x, not
 * on a copy of it. Outside a trace it is the identity.
 */
import { type Tensor, annotate } from '../program/tracer.js';
import { ShardingError } from './errors.js';
import { HloSharding, NamedSharding } from './sharding.js';

export type ShardingLike = HloSharding | NamedSharding;

/** The HloSharding of `s` for a rank-`rank` value. */
export function toHloSharding(s: ShardingLike, rank: number, what = 'sharding'): HloSharding {
  const h = s instanceof NamedSharding ? s.toHloSharding(rank) : s;
  if (h.isTiled && h.dataRank !== rank) throw new ShardingError(`${what}: ${h.toString()} is for rank ${h.dataRank}, the value has rank ${rank}`);
  return h;
}

export function withShardingConstraint(x: Tensor, sharding: ShardingLike): Tensor {
  const h = toHloSharding(sharding, x.ndim, 'withShardingConstraint');
  annotate(x, { kind: 'sharding', text: h.toString() });
  return x;
}
