/**
 * Windowed ops: convolution, reduce-window (pooling) and select-and-scatter.
 *
 * Convolution (XLA's convolution_handler.cc): batch and output-feature dims compute
 * locally; an input-feature dim split alike on input and kernel gives partial sums
 * completed by a psum; a spatially split input exchanges halos with its neighbours
 * (halo.ts) and convolves its extended tile without padding on that dim. Reduce-window
 * does the same with the reduction's identity as padding. Spatial splits whose tiles do
 * not line up with the output's, grouped convolutions' feature dims and dilated inputs are
 * computed whole on that dim.
 */
import type { WindowParams } from '../../../tpu/ops.js';
import { type SpecSharded, type SpmdBuilder, reductionIdentity, specSharded } from '../builder.js';
import { type HaloPlan, exchangeHalo, haloPlan } from '../halo.js';
import { reshardToSpec } from '../reshard.js';
import { type DimAxes, usedAxes } from '../spec.js';
import { cheapest, currentSpec, dimsWhere, dimwise, distinctAxes } from './common.js';
import type { PartitionRule, PartitionRules } from './types.js';

export const convRule: PartitionRule<'conv_general_dilated'> = (b, eq, operands, outSpecs) => {
  const p = eq.params;
  const dn = p.dimensionNumbers;
  const [lhs, rhs] = [operands[0]!, operands[1]!];
  const out = outSpecs[0]!;
  const nSpatial = dn.lhsSpec.length - 2;
  const grouped = p.featureGroupCount !== 1 || p.batchGroupCount !== 1;
  const outBatch = p.batchGroupCount === 1 ? out[dn.outSpec[0]!]! : [];
  const outFeature = grouped ? [] : out[dn.outSpec[1]!]!;
  const halos: (HaloPlan | undefined)[] = [];
  const outSpatial = Array.from({ length: nSpatial }, (_, k) => {
    const axes = out[dn.outSpec[2 + k]!]!;
    halos.push(undefined);
    if (axes.length === 0 || p.lhsDilation[k] !== 1) return [];
    const plan = haloPlan(
      b,
      lhs.global.shape[dn.lhsSpec[2 + k]!]!,
      axes,
      rhs.global.shape[dn.rhsSpec[2 + k]!]!,
      p.windowStrides[k]!,
      p.rhsDilation[k]!,
      p.padding[k]![0],
      p.padding[k]![1],
    );
    halos[k] = plan;
    return plan ? axes : [];
  });
  const taken = usedAxes([outBatch, outFeature, ...outSpatial]);
  const options = grouped
    ? [[] as readonly string[]]
    : distinctAxes([currentSpec(b, lhs)[dn.lhsSpec[1]!]!, currentSpec(b, rhs)[dn.rhsSpec[1]!]!, []]).filter((o) =>
        o.every((a) => !taken.has(a)),
      );

  const emit = (bb: SpmdBuilder, feature: readonly string[]): SpecSharded => {
    const lSpec: string[][] = lhs.global.shape.map(() => []);
    lSpec[dn.lhsSpec[0]!] = [...outBatch];
    lSpec[dn.lhsSpec[1]!] = [...feature];
    const rSpec: string[][] = rhs.global.shape.map(() => []);
    rSpec[dn.rhsSpec[0]!] = [...outFeature];
    rSpec[dn.rhsSpec[1]!] = [...feature];
    outSpatial.forEach((axes, k) => (lSpec[dn.lhsSpec[2 + k]!] = [...axes]));
    let l = bb.maskPadding(reshardToSpec(bb, lhs, lSpec).atom, lhs.global, lSpec, [dn.lhsSpec[1]!], 0);
    const r = bb.maskPadding(reshardToSpec(bb, rhs, rSpec).atom, rhs.global, rSpec, [dn.rhsSpec[1]!], 0);
    outSpatial.forEach((axes, k) => {
      if (axes.length === 0) return;
      const dim = dn.lhsSpec[2 + k]!;
      l = exchangeHalo(bb, l, dim, lhs.global.shape[dim]!, axes, halos[k]!, 0);
    });
    const padding = p.padding.map((pad, k) => (outSpatial[k]!.length > 0 ? ([0, 0] as const) : pad));
    let y = bb.prim1('conv_general_dilated', [l, r], { ...p, padding });
    if (feature.length > 0) y = bb.collective('psum', [y], bb.axisParams(feature));
    const ySpec: string[][] = out.map(() => []);
    ySpec[dn.outSpec[0]!] = [...outBatch];
    ySpec[dn.outSpec[1]!] = [...outFeature];
    outSpatial.forEach((axes, k) => (ySpec[dn.outSpec[2 + k]!] = [...axes]));
    return specSharded(y, eq.outputs[0]!.aval, ySpec);
  };
  return [cheapest(b, options, emit, out)];
};

function isTrivialWindow(w: WindowParams, d: number): boolean {
  return (
    w.windowDimensions[d] === 1 &&
    w.windowStrides[d] === 1 &&
    w.padding[d]![0] === 0 &&
    w.padding[d]![1] === 0 &&
    (w.baseDilation?.[d] ?? 1) === 1 &&
    (w.windowDilation?.[d] ?? 1) === 1
  );
}

type ReduceWindowName = 'reduce_window_sum' | 'reduce_window_max' | 'reduce_window_min';
const WINDOW_KIND = { reduce_window_sum: 'sum', reduce_window_max: 'max', reduce_window_min: 'min' } as const;

const reduceWindowRule: PartitionRule<ReduceWindowName> = (b, eq, operands, outSpecs) => {
  const w = eq.params;
  const x = operands[0]!;
  const out = outSpecs[0]!;
  const plans: (HaloPlan | undefined)[] = [];
  const spec: DimAxes = out.map((axes, d) => {
    plans.push(undefined);
    if (axes.length === 0 || isTrivialWindow(w, d)) return axes;
    if ((w.baseDilation?.[d] ?? 1) !== 1) return [];
    const plan = haloPlan(b, x.global.shape[d]!, axes, w.windowDimensions[d]!, w.windowStrides[d]!, w.windowDilation?.[d] ?? 1, w.padding[d]![0], w.padding[d]![1]);
    plans[d] = plan;
    return plan ? axes : [];
  });
  let local = reshardToSpec(b, x, spec).atom;
  const fill = reductionIdentity(WINDOW_KIND[eq.op as ReduceWindowName], x.global.dtype);
  plans.forEach((plan, d) => {
    if (plan) local = exchangeHalo(b, local, d, x.global.shape[d]!, spec[d]!, plan, fill);
  });
  const padding = w.padding.map((pad, d) => (plans[d] ? ([0, 0] as const) : pad));
  const y = b.prim1(eq.op as ReduceWindowName, [local], { ...w, padding });
  return [specSharded(y, eq.outputs[0]!.aval, spec)];
};

/** select_and_scatter_add scatters into overlapping windows: only its non-window dims pass through. */
const selectAndScatterRule: PartitionRule<'select_and_scatter_add'> = (b, eq, operands, outSpecs) => {
  const w = eq.params;
  const blocked = dimsWhere(w.windowDimensions.length, (d) => !isTrivialWindow(w, d));
  return dimwise(b, eq, operands, outSpecs[0]!, blocked, () => w);
};

export const WINDOW_RULES: PartitionRules<ReduceWindowName | 'select_and_scatter_add' | 'conv_general_dilated'> = {
  reduce_window_sum: reduceWindowRule,
  reduce_window_max: reduceWindowRule,
  reduce_window_min: reduceWindowRule,
  select_and_scatter_add: selectAndScatterRule,
  conv_general_dilated: convRule,
};
