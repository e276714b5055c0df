/**
 * Operations on HloShardings that propagation needs, after XLA's hlo_sharding_util:
 * moving a sharding across a dim correspondence (transpose, broadcast, reduce, dot...),
 * through a reshape, merging two compatible partial shardings, and XLA's "more specific"
 * order.
 *
 * All of them work per device: a device's tile index in the source sharding determines its
 * tile index in the result, and devices that land on the same tile form its replication
 * group (the last tile dim). A result exists only when every tile gets the same number of
 * devices.
 */
import { HloSharding } from './sharding.js';

function product(xs: readonly number[]): number {
  let p = 1;
  for (const x of xs) p *= x;
  return p;
}

/** The sharding in which `devices` (in this order) sit at tileOf(device) of a `tileDims` tiling. */
export function fromTileFunction(
  tileDims: readonly number[],
  devices: readonly number[],
  tileOf: (device: number) => readonly number[],
): HloSharding | undefined {
  const n = product(tileDims);
  if (n === 1) return HloSharding.replicate();
  if (devices.length % n !== 0) return undefined;
  // A counting sort of the devices by tile, keeping their order within a tile (typed arrays: this runs per op over every device).
  const tileOfDevice = new Int32Array(devices.length);
  const count = new Int32Array(n);
  devices.forEach((d, k) => {
    const idx = tileOf(d);
    let lin = 0;
    for (let i = 0; i < tileDims.length; i++) lin = lin * tileDims[i]! + idx[i]!;
    tileOfDevice[k] = lin;
    count[lin]!++;
  });
  const r = devices.length / n;
  for (let t = 0; t < n; t++) if (count[t] !== r) return undefined;
  const ordered = new Array<number>(devices.length);
  const next = new Int32Array(n);
  devices.forEach((d, k) => {
    const t = tileOfDevice[k]!;
    ordered[t * r + next[t]!++] = d;
  });
  return HloSharding.partialTile([...tileDims, r], ordered);
}

/**
 * `s` moved to a rank-`targetRank` value whose dim j holds source dim `sourceDim[j]` (null:
 * a dim with no source, not split). Source dims that no target dim takes become replication
 * (XLA's PartiallyReplicateTiledShardingOnDims followed by a transpose). Untiled shardings
 * pass through.
 */
export function remapDims(s: HloSharding, sourceDim: readonly (number | null)[]): HloSharding | undefined {
  if (!s.isTiled) return s;
  // The identity correspondence (element-wise ops) keeps the sharding as it is.
  if (sourceDim.length === s.dataRank && sourceDim.every((src, j) => src === j)) return s;
  const tiles = s.dataTileDims;
  const dims = sourceDim.map((src) => (src === null ? 1 : tiles[src]!));
  return fromTileFunction(dims, s.tileAssignmentDevices, (d) => {
    const idx = s.tileIndex(d);
    return sourceDim.map((src) => (src === null ? 0 : idx[src]!));
  });
}

/**
 * `s` through a reshape from `from` to `to` (XLA's ReshapeSharding). Dims are grouped into
 * the smallest runs with equal element counts; within a run, a tiling survives when it is
 * a tiling of the run's row-major order (fully split dims, then at most one partly split
 * dim that divides evenly, then unsplit dims) and its tile count can be laid major-first on
 * the target run. Runs where it cannot are left unsplit (their axes become replication).
 */
export function reshapeSharding(s: HloSharding, from: readonly number[], to: readonly number[]): HloSharding | undefined {
  if (!s.isTiled) return s;
  if (product(from) !== product(to)) return undefined;
  const tiles = s.dataTileDims;
  const targetTiles = new Array<number>(to.length).fill(1);
  /** Per run: source dims, target dims, and whether the tiling carries over. */
  const runs: { src: number[]; dst: number[]; keep: boolean }[] = [];
  let i = 0;
  let j = 0;
  while (i < from.length || j < to.length) {
    const src: number[] = [];
    const dst: number[] = [];
    let pa = 1;
    let pb = 1;
    if (i < from.length) pa *= from[(src.push(i), i++)]!;
    if (j < to.length) pb *= to[(dst.push(j), j++)]!;
    while (pa !== pb) {
      if (pa < pb && i < from.length) pa *= from[(src.push(i), i++)]!;
      else if (pb < pa && j < to.length) pb *= to[(dst.push(j), j++)]!;
      else return undefined;
    }
    // Trailing size-1 dims join the run (they hold no tiling of their own).
    while (i < from.length && from[i] === 1 && tiles[i] === 1) src.push(i++);
    while (j < to.length && to[j] === 1) dst.push(j++);
    runs.push({ src, dst, keep: false });
  }
  for (const run of runs) {
    const k = run.src.map((d) => tiles[d]!);
    const partly = run.src.findIndex((d) => tiles[d]! < from[d]!);
    const valid =
      partly < 0 ||
      (from[run.src[partly]!]! % k[partly]! === 0 && run.src.slice(partly + 1).every((d) => tiles[d] === 1));
    let rem = product(k);
    if (!valid || rem === 1) continue;
    const assigned = new Map<number, number>();
    for (const t of run.dst) {
      if (rem === 1) break;
      if (to[t]! % rem === 0) {
        assigned.set(t, rem);
        rem = 1;
      } else if (rem % to[t]! === 0) {
        assigned.set(t, to[t]!);
        rem /= to[t]!;
      } else break;
    }
    if (rem !== 1) continue;
    run.keep = true;
    for (const [t, n] of assigned) targetTiles[t] = n;
  }
  return fromTileFunction(targetTiles, s.tileAssignmentDevices, (d) => {
    const idx = s.tileIndex(d);
    const out = new Array<number>(to.length).fill(0);
    for (const run of runs) {
      if (!run.keep) continue;
      let lin = 0;
      for (const sd of run.src) lin = lin * tiles[sd]! + idx[sd]!;
      for (let q = run.dst.length - 1; q >= 0; q--) {
        const t = run.dst[q]!;
        out[t] = lin % targetTiles[t]!;
        lin = Math.floor(lin / targetTiles[t]!);
      }
    }
    return out;
  });
}

/**
 * XLA's IsShardingMoreSpecific: manual beats tile-maximal; otherwise a tiled sharding with
 * more tiles is more specific; any tiled sharding beats a tile-maximal one; maximal beats
 * replicated.
 */
export function isMoreSpecific(a: HloSharding, b: HloSharding): boolean {
  if (a.isManual && b.isTileMaximal) return true;
  if (a.isManual || b.isManual) return false;
  if (!b.isTileMaximal) return a.numTiles > b.numTiles;
  return !(b.isReplicated ? a.isReplicated : a.isTileMaximal);
}

/**
 * The sharding that is both `a` and `b` where they are compatible (XLA's MergeSharding
 * with may_combine_partial_sharding): each dim takes the tiling of whichever splits it
 * (both may, identically), every device keeps its tile in both, and the devices left over
 * stay replicated. Undefined when they conflict.
 */
export function mergeShardings(a: HloSharding, b: HloSharding): HloSharding | undefined {
  if (a.isReplicated) return b;
  if (b.isReplicated) return a;
  if (!a.isTiled || !b.isTiled) return a.equals(b) ? a : undefined;
  if (a.dataRank !== b.dataRank) return undefined;
  // Equal shardings merge to themselves; checked first because the per-device path below is O(devices).
  if (a === b || a.equals(b)) return a;
  const devs = a.tileAssignmentDevices;
  const bDevs = new Set(b.tileAssignmentDevices);
  if (devs.length !== bDevs.size || devs.some((d) => !bDevs.has(d))) return undefined;
  const ta = a.dataTileDims;
  const tb = b.dataTileDims;
  const dims: number[] = [];
  for (let i = 0; i < ta.length; i++) {
    if (ta[i]! > 1 && tb[i]! > 1 && ta[i] !== tb[i]) return undefined;
    dims.push(Math.max(ta[i]!, tb[i]!));
  }
  for (const d of devs) {
    const ia = a.tileIndex(d);
    const ib = b.tileIndex(d);
    for (let i = 0; i < ta.length; i++) if (ta[i]! > 1 && tb[i]! > 1 && ia[i] !== ib[i]) return undefined;
  }
  return fromTileFunction(dims, devs, (d) => {
    const ia = a.tileIndex(d);
    const ib = b.tileIndex(d);
    return dims.map((_, i) => (ta[i]! > 1 ? ia[i]! : ib[i]!));
  });
}
