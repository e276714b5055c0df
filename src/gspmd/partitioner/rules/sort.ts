/**
 * Sorting and top-k.
 *
 * sort needs its whole sort dim on each core; the other dims pass through.
 *
 * top_k and approx_max_k / approx_min_k over a split reduction dim (the TPU-KNN recipe, as
 * XLA partitions approx top-k): each core takes the top k of its own tile (approx top-k
 * with reductionInputSizeOverride = the full dim's size, so its bins hold what the whole
 * array's would), shifts the indices to global positions, all-gathers the candidates and
 * takes the exact top k of them. Candidates arrive in tile order and top-k breaks ties
 * to the lower position, so an exact top_k ends up bitwise equal to the unsplit one.
 */
import type { Atom } from '../../../program/ir.js';
import type { ApproxTopKParams } from '../../../tpu/ops.js';
import { type Sharded, type SpmdBuilder, reductionIdentity, specSharded } from '../builder.js';
import { reshardToSpec } from '../reshard.js';
import { type DimAxes, usedAxes } from '../spec.js';
import { currentSpec, dimwise } from './common.js';
import type { PartitionRule, PartitionRules } from './types.js';

const sortRule: PartitionRule<'sort'> = (b, eq, operands, outSpecs) =>
  dimwise(b, eq, operands, outSpecs[0]!, new Set([eq.params.dimension]), () => eq.params);

/** `x[..., pos[..., j]]` along the last dim: a gather whose leading dims are batching dims. */
function takeAlongLast(b: SpmdBuilder, x: Atom, pos: Atom): Atom {
  const rank = x.aval.shape.length;
  const lead = Array.from({ length: rank - 1 }, (_, d) => d);
  const idx = b.prim1('reshape', [pos], { newSizes: [...pos.aval.shape, 1] });
  return b.prim1('gather', [x, idx], {
    dimensionNumbers: {
      offsetDims: [],
      collapsedSliceDims: [rank - 1],
      startIndexMap: [rank - 1],
      operandBatchingDims: lead,
      startIndicesBatchingDims: lead,
    },
    sliceSizes: x.aval.shape.map(() => 1),
  });
}

function moveAxis(b: SpmdBuilder, x: Atom, from: number, to: number): Atom {
  if (from === to) return x;
  const perm = x.aval.shape.map((_, d) => d).filter((d) => d !== from);
  perm.splice(to, 0, from);
  return b.prim1('transpose', [x], { permutation: perm });
}

interface SplitTopK {
  readonly b: SpmdBuilder;
  readonly x: Atom;
  /** The global (unsplit) size of the reduced dim. */
  readonly n: number;
  readonly dim: number;
  readonly axes: readonly string[];
  readonly k: number;
  readonly largest: boolean;
  /** The local top-k: [values, indices] of the tile. */
  readonly localTopK: (x: Atom, k: number) => Atom[];
}

/** The exact top k of the union of every tile's local top k: [values, global indices]. */
function splitTopK(s: SplitTopK): [Atom, Atom] {
  const { b, dim, axes } = s;
  const tile = s.x.aval.shape[dim]!;
  const kk = Math.min(s.k, tile);
  const [v, i] = s.localTopK(s.x, kk) as [Atom, Atom];
  const shift = b.broadcastScalar(b.tileOffset(s.n, axes), i.aval.shape);
  const global = b.prim1('add', [i, shift], {});
  const gather = (y: Atom) => b.collective('all_gather', [y], { ...b.axisParams(axes), axis: dim, tiled: true });
  const last = v.aval.shape.length - 1;
  const cv = moveAxis(b, gather(v), dim, last);
  const ci = moveAxis(b, gather(global), dim, last);
  let fv: Atom;
  let fi: Atom;
  if (s.largest) {
    const [tv, tp] = b.prim('top_k', [cv], { k: s.k });
    fv = tv!;
    fi = takeAlongLast(b, ci, tp!);
  } else {
    // Ascending stable sort keeps NaN last and ties in candidate (= global index) order.
    const [sv, si] = b.prim('sort', [cv, ci], { dimension: last, isStable: true, numKeys: 1 });
    const limit = sv!.aval.shape.map((n, d) => (d === last ? s.k : n));
    const zeros = limit.map(() => 0);
    fv = b.prim1('slice', [sv!], { startIndices: zeros, limitIndices: limit });
    fi = b.prim1('slice', [si!], { startIndices: zeros, limitIndices: limit });
  }
  return [moveAxis(b, fv, last, dim), moveAxis(b, fi, last, dim)];
}

/** The mesh axes the reduced dim can stay split over: its current ones the output does not use. */
function reducedAxes(b: SpmdBuilder, x: Sharded, dim: number, out: DimAxes): string[] {
  const taken = usedAxes(out);
  return currentSpec(b, x)[dim]!.filter((a) => !taken.has(a));
}

const topKRule: PartitionRule<'top_k'> = (b, eq, operands, outSpecs) => {
  const x = operands[0]!;
  const last = x.global.shape.length - 1;
  const out = outSpecs[0]!;
  const axes = reducedAxes(b, x, last, out);
  if (axes.length === 0) return dimwise(b, eq, operands, out, new Set([last]), () => eq.params);
  const spec = out.map((a, d) => (d === last ? axes : a));
  const local = reshardToSpec(b, x, spec).atom;
  const masked = b.maskPadding(local, x.global, spec, [last], reductionIdentity('max', x.global.dtype));
  const [v, i] = splitTopK({
    b,
    x: masked,
    n: x.global.shape[last]!,
    dim: last,
    axes,
    k: eq.params.k,
    largest: true,
    localTopK: (y, k) => b.prim('top_k', [y], { k }),
  });
  const outSpec = out.map((a, d) => (d === last ? [] : a));
  return [specSharded(v, eq.outputs[0]!.aval, outSpec), specSharded(i, eq.outputs[1]!.aval, outSpec)];
};

const approxTopKRule: PartitionRule<'approx_max_k' | 'approx_min_k'> = (b, eq, operands, outSpecs) => {
  const p: ApproxTopKParams = eq.params;
  const x = operands[0]!;
  const dim = p.reductionDimension;
  const out = outSpecs[0]!;
  const axes = p.aggregateToTopk ? reducedAxes(b, x, dim, out) : [];
  if (axes.length === 0) {
    return dimwise(b, eq, operands, out, new Set([dim]), () => p);
  }
  const largest = eq.op === 'approx_max_k';
  const spec = out.map((a, d) => (d === dim ? axes : a));
  const local = reshardToSpec(b, x, spec).atom;
  const n = x.global.shape[dim]!;
  const masked = b.maskPadding(local, x.global, spec, [dim], reductionIdentity(largest ? 'max' : 'min', x.global.dtype));
  const override = p.reductionInputSizeOverride >= 0 ? p.reductionInputSizeOverride : n;
  const [v, i] = splitTopK({
    b,
    x: masked,
    n,
    dim,
    axes,
    k: p.k,
    largest,
    localTopK: (y, k) => b.prim(eq.op as 'approx_max_k', [y], { ...p, k, reductionInputSizeOverride: override }),
  });
  const outSpec = out.map((a, d) => (d === dim ? [] : a));
  return [specSharded(v, eq.outputs[0]!.aval, outSpec), specSharded(i, eq.outputs[1]!.aval, outSpec)];
};

export const SORT_RULES: PartitionRules<'sort' | 'top_k' | 'approx_max_k' | 'approx_min_k'> = {
  sort: sortRule,
  top_k: topKRule,
  approx_max_k: approxTopKRule,
  approx_min_k: approxTopKRule,
};
