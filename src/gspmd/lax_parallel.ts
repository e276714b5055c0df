/**
 * JAX's parallel operators (jax.lax.psum, pmax, pmin, all_gather, psum_scatter,
 * all_to_all, ppermute, axis_index) for shard_map bodies: each binds a collective op
 * (src/collectives/ops.ts) with the named axes and their sizes from the bound mesh.
 */
import type { AxisSpec } from '../collectives/mesh.js';
import type { AxisParams } from '../collectives/ops.js';
import { Tensor, bind1 } from '../program/tracer.js';
import { tensorFrom } from '../tpu/tensor.js';
import { boundAxisSizes } from './axis_env.js';
import { ShardingError } from './errors.js';

function axisParams(op: string, axisName: AxisSpec): AxisParams {
  const axes = typeof axisName === 'string' ? [axisName] : [...axisName];
  return { axes, axisSizes: boundAxisSizes(op, axes) };
}

/** A possibly negative dim of a rank-`rank` value, normalised. */
function dim(op: string, what: string, d: number, rank: number): number {
  const n = d < 0 ? d + rank : d;
  if (!Number.isInteger(n) || n < 0 || n >= rank) throw new ShardingError(`${op}: ${what} ${d} is out of range for rank ${rank}`);
  return n;
}

/** Sum over the named axes; every member gets the total. */
export function psum(x: Tensor, axisName: AxisSpec): Tensor {
  return bind1('psum', [x], axisParams('psum', axisName));
}

export function pmax(x: Tensor, axisName: AxisSpec): Tensor {
  return bind1('pmax', [x], axisParams('pmax', axisName));
}

export function pmin(x: Tensor, axisName: AxisSpec): Tensor {
  return bind1('pmin', [x], axisParams('pmin', axisName));
}

/** Mean over the named axes (psum divided by the group size), as jax.lax.pmean. */
export function pmean(x: Tensor, axisName: AxisSpec): Tensor {
  const q = axisParams('pmean', axisName);
  const p = q.axisSizes.reduce((a, b) => a * b, 1);
  const total = bind1('psum', [x], q);
  const size = Tensor.concrete(tensorFrom(x.dtype, [], [p]));
  return bind1('div', [total, bind1('broadcast_in_dim', [size], { shape: [...x.shape], broadcastDimensions: [] })], {});
}

export interface AllGatherOptions {
  /** Where the gathered dim goes (tiled: the dim concatenated along). Default 0. */
  readonly axis?: number;
  readonly tiled?: boolean;
}

/** Every member's x, stacked at `axis` (tiled: concatenated along it). */
export function allGather(x: Tensor, axisName: AxisSpec, opts: AllGatherOptions = {}): Tensor {
  const tiled = opts.tiled ?? false;
  const axis = dim('all_gather', 'axis', opts.axis ?? 0, tiled ? x.ndim : x.ndim + 1);
  return bind1('all_gather', [x], { ...axisParams('all_gather', axisName), axis, tiled });
}

export interface PsumScatterOptions {
  readonly scatterDimension?: number;
  readonly tiled?: boolean;
}

/** This member's part of the sum over the named axes, split along scatterDimension. */
export function psumScatter(x: Tensor, axisName: AxisSpec, opts: PsumScatterOptions = {}): Tensor {
  const scatterDimension = dim('psum_scatter', 'scatter_dimension', opts.scatterDimension ?? 0, x.ndim);
  return bind1('psum_scatter', [x], { ...axisParams('psum_scatter', axisName), scatterDimension, tiled: opts.tiled ?? false });
}

/** Splits x along splitAxis, sends part j to member j, concatenates what arrives along concatAxis. */
export function allToAll(x: Tensor, axisName: AxisSpec, splitAxis: number, concatAxis: number, opts: { tiled?: boolean } = {}): Tensor {
  const tiled = opts.tiled ?? false;
  return bind1('all_to_all', [x], {
    ...axisParams('all_to_all', axisName),
    splitAxis: dim('all_to_all', 'split_axis', splitAxis, x.ndim),
    concatAxis: dim('all_to_all', 'concat_axis', concatAxis, x.ndim),
    tiled,
  });
}

/** Sends x from src to dst for each (src, dst) pair of axis indices; members no pair names receive zeros. */
export function ppermute(x: Tensor, axisName: AxisSpec, perm: readonly (readonly [number, number])[]): Tensor {
  return bind1('ppermute', [x], { ...axisParams('ppermute', axisName), perm: perm.map(([s, d]) => [s, d] as const) });
}

/** This member's index along the named axes (row-major over them), an i32 scalar. */
export function axisIndex(axisName: AxisSpec): Tensor {
  return bind1('axis_index', [], axisParams('axis_index', axisName));
}
