/**
 * dot_general (XLA's dot_handler.cc, GSPMD §3.3):
 * - batch dims take the output's batch sharding, and non-contracting dims the output's
 *   sharding of them: both compute locally;
 * - a contracting dim split alike on both operands gives each core a partial product over
 *   its slice: a psum over those axes completes it, or a psum_scatter when the output
 *   wants to be split along those axes (reduce-scatter, no all-reduce then slice);
 * - when the operands disagree on a contracting dim, the plans that reshard one side (or
 *   both, to replicated) are priced by the bytes their collectives move and the cheapest
 *   is emitted. Padding of uneven contracting tiles is zeroed first.
 */
import { type SpecSharded, type SpmdBuilder, specSharded } from '../builder.js';
import { reshardToSpec } from '../reshard.js';
import { type DimAxes, axesSize, tileSize, withoutAxes } from '../spec.js';
import { cheapest, currentSpec, distinctAxes } from './common.js';
import type { PartitionRule } from './types.js';

/** All combinations of one option per position. */
function combinations<T>(options: readonly (readonly T[])[]): T[][] {
  return options.reduce<T[][]>((acc, opts) => acc.flatMap((prefix) => opts.map((o) => [...prefix, o])), [[]]);
}

export const dotGeneralRule: PartitionRule<'dot_general'> = (b, eq, operands, outSpecs) => {
  const p = eq.params;
  const [lhs, rhs] = [operands[0]!, operands[1]!];
  const [lc, rc] = p.contractingDims;
  const [lb, rb] = p.batchDims;
  const lRank = lhs.global.shape.length;
  const rRank = rhs.global.shape.length;
  const lFree = Array.from({ length: lRank }, (_, d) => d).filter((d) => !lc.includes(d) && !lb.includes(d));
  const rFree = Array.from({ length: rRank }, (_, d) => d).filter((d) => !rc.includes(d) && !rb.includes(d));
  const out = outSpecs[0]!;
  const outShape = eq.outputs[0]!.aval.shape;
  const ls = currentSpec(b, lhs);
  const rs = currentSpec(b, rhs);

  const options = lc.map((l, i) => distinctAxes([ls[l]!, rs[rc[i]!]!, []]));
  const plans = combinations(options).filter((c) => {
    const all = c.flat();
    return new Set(all).size === all.length;
  });

  const emit = (bb: SpmdBuilder, contracting: readonly (readonly string[])[]): SpecSharded => {
    const reduced = contracting.flat();
    const local: DimAxes = withoutAxes(out, new Set(reduced));
    const lSpec: DimAxes = Array.from({ length: lRank }, (_, d) => {
      if (lb.includes(d)) return local[lb.indexOf(d)]!;
      if (lc.includes(d)) return contracting[lc.indexOf(d)]!;
      return local[lb.length + lFree.indexOf(d)]!;
    });
    const rSpec: DimAxes = Array.from({ length: rRank }, (_, d) => {
      if (rb.includes(d)) return local[rb.indexOf(d)]!;
      if (rc.includes(d)) return contracting[rc.indexOf(d)]!;
      return local[lb.length + lFree.length + rFree.indexOf(d)]!;
    });
    const l = bb.maskPadding(reshardToSpec(bb, lhs, lSpec).atom, lhs.global, lSpec, lc, 0);
    const r = bb.maskPadding(reshardToSpec(bb, rhs, rSpec).atom, rhs.global, rSpec, rc, 0);
    const y = bb.prim1('dot_general', [l, r], p);
    if (reduced.length === 0) return specSharded(y, eq.outputs[0]!.aval, local);
    // Reduce-scatter when the output splits exactly one dim further by the reduced axes.
    const grown = out.map((a, d) => (a.length !== local[d]!.length ? d : -1)).filter((d) => d >= 0);
    if (grown.length === 1) {
      const d = grown[0]!;
      const added = out[d]!.slice(local[d]!.length);
      const sameSet = added.length === reduced.length && added.every((a) => reduced.includes(a));
      const prefixKept = local[d]!.every((a, i) => out[d]![i] === a);
      const tilesLineUp = tileSize(bb.mesh, outShape[d]!, local[d]!) === axesSize(bb.mesh, added) * tileSize(bb.mesh, outShape[d]!, out[d]!);
      if (sameSet && prefixKept && tilesLineUp) {
        const z = bb.collective('psum_scatter', [y], { ...bb.axisParams(added), scatterDimension: d, tiled: true });
        return specSharded(z, eq.outputs[0]!.aval, out);
      }
    }
    return specSharded(bb.collective('psum', [y], bb.axisParams(reduced)), eq.outputs[0]!.aval, local);
  };
  return [cheapest(b, plans, emit, out)];
};
