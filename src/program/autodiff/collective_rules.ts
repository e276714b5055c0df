/**
 * Differentiation rules of the collectives (src/collectives/ops.ts), for shard_map bodies.
 *
 * Each collective is linear, so its JVP applies the same collective to the tangent. The
 * VJPs are the transposes JAX's shard_map uses:
 * - psum: the identity (JAX's pbroadcast). A psum's result is the same on every rank and
 *   counts once (out_specs P()), so its cotangent is device-invariant and each rank's
 *   operand gets it as is.
 * - all_gather <-> psum_scatter (same dim, same tiling);
 * - ppermute: ppermute by the inverse permutation;
 * - all_to_all: all_to_all with split and concat axes swapped.
 * pmax/pmin are not differentiable in JAX either; axis_index is an integer.
 */
import type { CollectiveName } from '../../collectives/ops.js';
import { bind1 } from '../tracer.js';
import { type JvpRule, NON_DIFFERENTIABLE, type RuleFamily, type VjpRule } from './rule_types.js';

function notDifferentiable(op: string): never {
  throw new Error(`${op} is not differentiable (as in JAX); differentiate a psum-based formulation instead`);
}

/** The JVP of a linear collective: the same collective on the tangent. */
function linearJvp<N extends 'psum' | 'all_gather' | 'psum_scatter' | 'ppermute' | 'all_to_all'>(op: N): JvpRule<N> {
  return (_primals, tangents, _outs, params) => [tangents[0] ? bind1(op, [tangents[0]], params) : null];
}

const psumVjp: VjpRule<'psum'> = (_p, _o, cts) => [cts[0] ?? null];

const allGatherVjp: VjpRule<'all_gather'> = (_p, _o, cts, q) => [
  cts[0] ? bind1('psum_scatter', [cts[0]], { axes: q.axes, axisSizes: q.axisSizes, scatterDimension: q.axis, tiled: q.tiled }) : null,
];

const psumScatterVjp: VjpRule<'psum_scatter'> = (_p, _o, cts, q) => [
  cts[0] ? bind1('all_gather', [cts[0]], { axes: q.axes, axisSizes: q.axisSizes, axis: q.scatterDimension, tiled: q.tiled }) : null,
];

const ppermuteVjp: VjpRule<'ppermute'> = (_p, _o, cts, q) => [
  cts[0] ? bind1('ppermute', [cts[0]], { axes: q.axes, axisSizes: q.axisSizes, perm: q.perm.map(([s, d]) => [d, s] as const) }) : null,
];

const allToAllVjp: VjpRule<'all_to_all'> = (_p, _o, cts, q) => [
  cts[0] ? bind1('all_to_all', [cts[0]], { ...q, splitAxis: q.concatAxis, concatAxis: q.splitAxis }) : null,
];

export const COLLECTIVE_RULES: RuleFamily<CollectiveName> = {
  jvp: {
    psum: linearJvp('psum'),
    pmax: () => notDifferentiable('pmax'),
    pmin: () => notDifferentiable('pmin'),
    all_gather: linearJvp('all_gather'),
    psum_scatter: linearJvp('psum_scatter'),
    all_to_all: linearJvp('all_to_all'),
    ppermute: linearJvp('ppermute'),
    axis_index: NON_DIFFERENTIABLE,
  },
  vjp: {
    psum: psumVjp,
    pmax: () => notDifferentiable('pmax'),
    pmin: () => notDifferentiable('pmin'),
    all_gather: allGatherVjp,
    psum_scatter: psumScatterVjp,
    all_to_all: allToAllVjp,
    ppermute: ppermuteVjp,
    axis_index: NON_DIFFERENTIABLE,
  },
};
