/**
 * Reductions (XLA's HandleReduce): the kept dims take the output's sharding; a reduced dim
 * keeps the axes it is already split over (those the output does not use), so each core
 * reduces its own tile (padding masked with the reduction's identity) and one collective
 * over those axes combines the partial results: psum, pmax or pmin, or for product and the
 * logical reductions an all-gather of the partials and a local reduce.
 *
 * argmax/argmin and the cumulative ops need the whole reduced dim: it is made whole and
 * the other dims pass through.
 */
import type { Atom } from '../../../program/ir.js';
import { reductionIdentity, specSharded } from '../builder.js';
import { reshardToSpec } from '../reshard.js';
import { type DimAxes, usedAxes } from '../spec.js';
import { currentSpec, dimwise } from './common.js';
import type { PartitionRule, PartitionRules } from './types.js';

type ReduceName = 'reduce_sum' | 'reduce_max' | 'reduce_min' | 'reduce_prod' | 'reduce_and' | 'reduce_or';
type ReduceKind = 'sum' | 'max' | 'min' | 'prod' | 'and' | 'or';

const COLLECTIVE_OF = { sum: 'psum', max: 'pmax', min: 'pmin' } as const;

function reduceRule(op: ReduceName, kind: ReduceKind): PartitionRule<ReduceName> {
  return (b, eq, operands, outSpecs) => {
    const x = operands[0]!;
    const rank = x.global.shape.length;
    const axes = eq.params.axes;
    const out = outSpecs[0]!;
    const kept = Array.from({ length: rank }, (_, d) => d).filter((d) => !axes.includes(d));
    const taken = usedAxes(out);
    const current = currentSpec(b, x);
    const xSpec: DimAxes = Array.from({ length: rank }, (_, d) =>
      axes.includes(d) ? current[d]!.filter((a) => !taken.has(a)) : out[kept.indexOf(d)]!,
    );
    const local = reshardToSpec(b, x, xSpec).atom;
    const masked = b.maskPadding(local, x.global, xSpec, axes, reductionIdentity(kind, x.global.dtype));
    let y: Atom = b.prim1(op, [masked], { axes });
    const meshAxes = axes.flatMap((d) => xSpec[d]!);
    if (meshAxes.length > 0) {
      if (kind === 'sum' || kind === 'max' || kind === 'min') {
        y = b.collective(COLLECTIVE_OF[kind], [y], b.axisParams(meshAxes));
      } else {
        const stacked = b.collective('all_gather', [y], { ...b.axisParams(meshAxes), axis: 0, tiled: false });
        y = b.prim1(op, [stacked], { axes: [0] });
      }
    }
    return [specSharded(y, eq.outputs[0]!.aval, out)];
  };
}

const argRule: PartitionRule<'argmax' | 'argmin'> = (b, eq, operands, outSpecs) => {
  const axis = eq.params.axis;
  const out = outSpecs[0]!;
  const xSpec: DimAxes = [...out.slice(0, axis), [], ...out.slice(axis)];
  const local = reshardToSpec(b, operands[0]!, xSpec).atom;
  return [specSharded(b.prim1(eq.op as 'argmax', [local], eq.params), eq.outputs[0]!.aval, out)];
};

const cumulativeRule: PartitionRule<'cumsum' | 'cumprod' | 'cummax' | 'cummin'> = (b, eq, operands, outSpecs) =>
  dimwise(b, eq, operands, outSpecs[0]!, new Set([eq.params.axis]), () => eq.params);

export const REDUCE_RULES: PartitionRules<ReduceName | 'argmax' | 'argmin' | 'cumsum' | 'cumprod' | 'cummax' | 'cummin'> = {
  reduce_sum: reduceRule('reduce_sum', 'sum'),
  reduce_max: reduceRule('reduce_max', 'max'),
  reduce_min: reduceRule('reduce_min', 'min'),
  reduce_prod: reduceRule('reduce_prod', 'prod'),
  reduce_and: reduceRule('reduce_and', 'and'),
  reduce_or: reduceRule('reduce_or', 'or'),
  argmax: argRule,
  argmin: argRule,
  cumsum: cumulativeRule,
  cumprod: cumulativeRule,
  cummax: cumulativeRule,
  cummin: cumulativeRule,
};

