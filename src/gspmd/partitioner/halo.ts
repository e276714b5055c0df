/**
 * Halo exchange for windowed ops on a spatially split dim (GSPMD §3.3, XLA's
 * convolution_handler.cc and ExchangeHalo): each core's tile is extended by the last
 * rows of its left neighbour's tile and the first rows of its right neighbour's, moved by
 * collective-permute, so that the windows of the core's output tile see all they need.
 *
 * The simple, common case is handled: input tiles line up with output tiles (input tile =
 * output tile x stride), so the halo widths are the same on every core and each comes
 * from the adjacent core only. Positions outside the global dim (the op's padding, and the
 * padding of uneven tiles) are set to the op's padding value.
 */
import type { Atom } from '../../program/ir.js';
import type { SpmdBuilder } from './builder.js';
import { axesSize, tileSize } from './spec.js';

export interface HaloPlan {
  /** Elements taken from the left neighbour (negative: trimmed off the tile's start). */
  readonly left: number;
  /** Elements taken from the right neighbour (negative: trimmed off the tile's end). */
  readonly right: number;
  readonly inTile: number;
}

/**
 * The halo of a window of `size` taps (dilated by `dilation`), `stride`, padding
 * [low, high] over a dim of `n` split over `axes`; undefined when the tiles do not line up
 * or a halo is wider than a tile.
 */
export function haloPlan(
  b: SpmdBuilder,
  n: number,
  axes: readonly string[],
  size: number,
  stride: number,
  dilation: number,
  low: number,
  high: number,
): HaloPlan | undefined {
  const t = axesSize(b.mesh, axes);
  const span = (size - 1) * dilation + 1;
  const outN = Math.floor((n + low + high - span) / stride) + 1;
  if (outN <= 0) return undefined;
  const inTile = tileSize(b.mesh, n, axes);
  const outTile = Math.ceil(outN / t);
  if (inTile !== outTile * stride) return undefined;
  const left = low;
  const right = span - stride - low;
  if (Math.abs(left) > inTile || Math.abs(right) > inTile || inTile + left + right < span) return undefined;
  return { left, right, inTile };
}

function sliceAlong(b: SpmdBuilder, x: Atom, dim: number, start: number, limit: number): Atom {
  const shape = x.aval.shape;
  if (start === 0 && limit === shape[dim]) return x;
  return b.prim1('slice', [x], {
    startIndices: shape.map((_, d) => (d === dim ? start : 0)),
    limitIndices: shape.map((s, d) => (d === dim ? limit : s)),
  });
}

/** This core's tile of dim `dim` (global size `n`, split over `axes`) extended by its halos. */
export function exchangeHalo(b: SpmdBuilder, x: Atom, dim: number, n: number, axes: readonly string[], plan: HaloPlan, fill: number): Atom {
  const t = axesSize(b.mesh, axes);
  const { left, right, inTile } = plan;
  const parts: Atom[] = [];
  const params = b.axisParams(axes);
  if (left > 0) {
    const tail = sliceAlong(b, x, dim, inTile - left, inTile);
    const toRight = Array.from({ length: t - 1 }, (_, i) => [i, i + 1] as const);
    parts.push(b.collective('ppermute', [tail], { ...params, perm: toRight }));
  }
  parts.push(sliceAlong(b, x, dim, Math.max(0, -left), inTile + Math.min(0, right)));
  if (right > 0) {
    const head = sliceAlong(b, x, dim, 0, right);
    const toLeft = Array.from({ length: t - 1 }, (_, i) => [i + 1, i] as const);
    parts.push(b.collective('ppermute', [head], { ...params, perm: toLeft }));
  }
  const extended = parts.length === 1 ? parts[0]! : b.prim1('concatenate', parts, { dimension: dim });
  // Even tiles hold no padding; ppermute leaves zeros where no neighbour sends, which is
  // right for a zero fill, and nothing is received when both halos are trims.
  if (n % t === 0 && (fill === 0 || (left <= 0 && right <= 0))) return extended;
  const start = b.tileOffset(n, axes);
  const offset = left === 0 ? start : b.prim1('sub', [start, b.scalar('i32', left)], {});
  const mask = b.globalRangeMask(extended.aval.shape, [dim], () => offset, () => 0, () => n);
  const f = b.broadcastScalar(b.scalar(x.aval.dtype, fill), extended.aval.shape);
  return b.prim1('select', [mask, extended, f], {});
}
