/**
 * Resharding: the collectives that turn a value sharded one way into the same value
 * sharded another way (GSPMD §3.3; XLA's PartitionedHlo::Reshard):
 *
 * - the same sharding: nothing;
 * - the same tiles on permuted devices: one collective-permute;
 * - a mesh axis moves from one tensor dim to another: all-to-all;
 * - an axis leaves a dim: all-gather along that dim over that axis;
 * - an axis joins a dim: a dynamic-slice at this core's axis_index offset (no communication);
 * - tile assignments that are not products of mesh axes: all-gather to replicated, then
 *   dynamic-slice with offsets looked up by partition position (as XLA uses partition-id).
 *
 * Uneven dims (size not a multiple of the tile count) carry padding at the end of the last
 * tiles; a gather of such a dim gathers all of it and slices the padding off, and a slice
 * into it pads the full dim to a multiple of the tile count first.
 */
import { sizeOf, tensorFrom } from '../../tpu/tensor.js';
import type { Atom } from '../../program/ir.js';
import type { HloSharding } from '../sharding.js';
import { type Sharded, type SpecSharded, type SpmdBuilder, specSharded } from './builder.js';
import { type DimAxes, hloToSpec, isUneven, specEqual, specToHlo, tileShapeOf, tileSize } from './spec.js';

const startsWith = (a: readonly string[], prefix: readonly string[]): boolean =>
  prefix.length <= a.length && prefix.every((x, i) => a[i] === x);

function commonPrefix(a: readonly string[], b: readonly string[]): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

function sliceDim(b: SpmdBuilder, x: Atom, dim: number, limit: number): Atom {
  const shape = x.aval.shape;
  if (shape[dim] === limit) return x;
  return b.prim1('slice', [x], { startIndices: shape.map(() => 0), limitIndices: shape.map((n, d) => (d === dim ? limit : n)) });
}

/** `x` padded with zeros at the end of each dim to `shape`. */
export function padTo(b: SpmdBuilder, x: Atom, shape: readonly number[]): Atom {
  if (x.aval.shape.every((n, d) => n === shape[d])) return x;
  return b.prim1('pad', [x, b.scalar(x.aval.dtype, 0)], {
    paddingConfig: x.aval.shape.map((n, d) => [0, shape[d]! - n, 0] as const),
  });
}

/** Reshards between two specs by all-to-all, all-gather and dynamic-slice steps. */
function reshardSpecs(b: SpmdBuilder, x: SpecSharded, to: DimAxes): SpecSharded {
  const mesh = b.mesh;
  const shape = x.global.shape;
  const cur: string[][] = x.spec.map((a) => [...a]);
  let atom = x.atom;

  // Same tiles on a different device order within a dim: one collective-permute.
  const sameSets = cur.every((a, d) => a.length === to[d]!.length && a.every((ax) => to[d]!.includes(ax)));
  if (sameSets) {
    const permuted = permuteTiles(b, specSharded(atom, x.global, cur), specToHlo(mesh, cur), specToHlo(mesh, to));
    if (permuted) return specSharded(permuted, x.global, to);
  }

  // All-to-all: axis `a`, the minor axis of dim d1 that must leave it, is the next axis dim d2 needs.
  for (let moved = true; moved; ) {
    moved = false;
    for (let d1 = 0; d1 < cur.length && !moved; d1++) {
      const from = cur[d1]!;
      if (from.length === 0 || startsWith(to[d1]!, from)) continue;
      const a = from[from.length - 1]!;
      const p1 = from.slice(0, -1);
      for (let d2 = 0; d2 < cur.length; d2++) {
        if (d2 === d1 || !startsWith(to[d2]!, cur[d2]!) || to[d2]![cur[d2]!.length] !== a) continue;
        const p2 = cur[d2]!;
        const evenOr = (n: number, prefix: readonly string[]): boolean => prefix.length === 0 || !isUneven(mesh, n, [...prefix, a]);
        if (!evenOr(shape[d1]!, p1) || !evenOr(shape[d2]!, p2)) continue;
        const k = mesh.axisSize(a);
        const padded = atom.aval.shape.map((n, d) => (d === d2 ? k * tileSize(mesh, shape[d2]!, [...p2, a]) : n));
        atom = padTo(b, atom, padded);
        atom = b.collective('all_to_all', [atom], { ...b.axisParams([a]), splitAxis: d2, concatAxis: d1, tiled: true });
        if (p1.length === 0) atom = sliceDim(b, atom, d1, shape[d1]!);
        cur[d1] = p1;
        cur[d2] = [...p2, a];
        moved = true;
        break;
      }
    }
  }

  // All-gather the axes that leave a dim (the whole dim when it is uneven).
  for (let d = 0; d < cur.length; d++) {
    let k = commonPrefix(cur[d]!, to[d]!);
    if (k === cur[d]!.length) {
      // Only joins remain: they slice into this dim's tile, which needs even tiles.
      if (k > 0 && to[d]!.length > k && isUneven(mesh, shape[d]!, to[d]!)) k = 0;
      else continue;
    }
    if (k > 0 && (isUneven(mesh, shape[d]!, cur[d]!) || (to[d]!.length > k && isUneven(mesh, shape[d]!, to[d]!)))) k = 0;
    const axes = cur[d]!.slice(k);
    atom = b.collective('all_gather', [atom], { ...b.axisParams(axes), axis: d, tiled: true });
    if (k === 0) atom = sliceDim(b, atom, d, shape[d]!);
    cur[d] = cur[d]!.slice(0, k);
  }

  // Dynamic-slice the axes that join a dim.
  const joins = cur.map((a, d) => (to[d]!.length > a.length ? d : -1)).filter((d) => d >= 0);
  if (joins.length > 0) {
    const padded = atom.aval.shape.map((n, d) => (joins.includes(d) && cur[d]!.length === 0 ? b.paddedSize(shape[d]!, to[d]!) : n));
    atom = padTo(b, atom, padded);
    const starts = atom.aval.shape.map((_, d) => {
      if (!joins.includes(d)) return b.scalar('i32', 0);
      const added = to[d]!.slice(cur[d]!.length);
      return b.prim1('mul', [b.axisIndex(added), b.scalar('i32', tileSize(mesh, shape[d]!, to[d]!))], {});
    });
    atom = b.prim1('dynamic_slice', [atom, ...starts], { sliceSizes: tileShapeOf(mesh, shape, to) });
    joins.forEach((d) => (cur[d] = [...to[d]!]));
  }
  if (!specEqual(cur, to)) throw new Error('reshard: internal error, the plan did not reach the target spec');
  return specSharded(atom, x.global, to);
}

/** Mesh position (row-major index over all mesh axes) of a core: its rank in an all-axes collective. */
function meshPosition(b: SpmdBuilder, device: number): number {
  return b.mesh.devices.indexOf(device);
}

function sameTileIndex(a: readonly number[], c: readonly number[]): boolean {
  return a.length === c.length && a.every((x, i) => x === c[i]);
}

/**
 * One collective-permute over every mesh axis when `from` and `to` cut the same tiles and
 * each core can be sent its new tile by a distinct holder; undefined otherwise.
 */
function permuteTiles(b: SpmdBuilder, x: Sharded, from: HloSharding, to: HloSharding): Atom | undefined {
  const rank = x.global.shape.length;
  if (!from.isTiled || !to.isTiled || from.dataTileDims.join(',') !== to.dataTileDims.join(',')) return undefined;
  const devices = b.mesh.devices;
  const used = new Set<number>();
  const pairs: [number, number][] = [];
  let moves = false;
  for (const dst of devices) {
    const want = to.tileIndex(dst, rank);
    // Prefer keeping the tile in place; else the first free holder.
    const holders = devices.filter((s) => sameTileIndex(from.tileIndex(s, rank), want));
    const src = holders.includes(dst) && !used.has(dst) ? dst : holders.find((s) => !used.has(s));
    if (src === undefined) return undefined;
    used.add(src);
    if (src !== dst) moves = true;
    pairs.push([meshPosition(b, src), meshPosition(b, dst)]);
  }
  if (!moves) return x.atom;
  return b.collective('ppermute', [x.atom], { ...b.axisParams(b.mesh.axisNames), perm: pairs });
}

/** The full (global) value of `x` on every core, for any sharding. */
function gatherToReplicated(b: SpmdBuilder, x: Sharded): Atom {
  if (x.kind === 'spec') return reshardSpecs(b, x, x.spec.map(() => [])).atom;
  const sh = x.sharding;
  const shape = x.global.shape;
  if (!sh.isTiled) return x.atom;
  const rank = shape.length;
  const tiles = sh.dataTileDims;
  const tile = sh.tileShape(shape);
  const all = b.collective('all_gather', [x.atom], { ...b.axisParams(b.mesh.axisNames), axis: 0, tiled: false });
  // Row t of the tile-ordered stack is the gathered row of the first core holding tile t.
  const numTiles = sizeOf(tiles);
  const rows: number[] = [];
  for (let t = 0; t < numTiles; t++) {
    const idx: number[] = [];
    let rest = t;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = rest % tiles[d]!;
      rest = Math.floor(rest / tiles[d]!);
    }
    const holder = b.mesh.devices.find((dev) => sameTileIndex(sh.tileIndex(dev, rank), idx));
    if (holder === undefined) throw new Error(`reshard: no core holds tile [${idx.join(',')}] of ${sh.toString()}`);
    rows.push(meshPosition(b, holder));
  }
  const indices = b.constant(tensorFrom('i32', [numTiles, 1], rows));
  const stacked = b.prim1('gather', [all, indices], {
    dimensionNumbers: { offsetDims: tile.map((_, d) => d + 1), collapsedSliceDims: [0], startIndexMap: [0] },
    sliceSizes: [1, ...tile],
  });
  const split = b.prim1('reshape', [stacked], { newSizes: [...tiles, ...tile] });
  const interleaved = b.prim1('transpose', [split], { permutation: tiles.flatMap((_, d) => [d, rank + d]) });
  const padded = b.prim1('reshape', [interleaved], { newSizes: tiles.map((t, d) => t * tile[d]!) });
  return b.prim1('slice', [padded], { startIndices: shape.map(() => 0), limitIndices: [...shape] });
}

/** This core's tile of a full value under any tiled sharding: offsets looked up by mesh position. */
function sliceFromReplicated(b: SpmdBuilder, full: Atom, sh: HloSharding): Atom {
  const shape = full.aval.shape;
  const rank = shape.length;
  const tile = sh.tileShape(shape);
  const padded = padTo(b, full, tile.map((t, d) => t * sh.dataTileDims[d]!));
  const pos = b.axisIndex(b.mesh.axisNames);
  const starts = tile.map((t, d) => {
    if (sh.dataTileDims[d] === 1) return b.scalar('i32', 0);
    const table = b.constant(tensorFrom('i32', [b.mesh.size], b.mesh.devices.map((dev) => sh.tileIndex(dev, rank)[d]! * t)));
    const one = b.prim1('dynamic_slice', [table, pos], { sliceSizes: [1] });
    return b.prim1('reshape', [one], { newSizes: [] });
  });
  return b.prim1('dynamic_slice', [padded, ...starts], { sliceSizes: tile });
}

/** `x` resharded to the spec `to`. */
export function reshardToSpec(b: SpmdBuilder, x: Sharded, to: DimAxes): SpecSharded {
  if (x.kind === 'spec') return specEqual(x.spec, to) ? x : reshardSpecs(b, x, to);
  const asSpec = hloToSpec(b.mesh, x.sharding, x.global.shape.length);
  if (asSpec) return reshardToSpec(b, specSharded(x.atom, x.global, asSpec), to);
  const permuted = permuteTiles(b, x, x.sharding, specToHlo(b.mesh, to));
  if (permuted) return specSharded(permuted, x.global, to);
  const full = gatherToReplicated(b, x);
  return reshardSpecs(b, specSharded(full, x.global, to.map(() => [])), to);
}

/** `x` resharded to any HloSharding (the program's declared in/out shardings may not be mesh-aligned). */
export function reshardToHlo(b: SpmdBuilder, x: Sharded, to: HloSharding): Sharded {
  const rank = x.global.shape.length;
  const spec = hloToSpec(b.mesh, to, rank);
  if (spec) return reshardToSpec(b, x, spec);
  if (to.isManual) throw new Error('reshard: a manual sharding cannot be the target of automatic partitioning');
  if (x.kind === 'hlo' && x.sharding.equals(to)) return x;
  const from = x.kind === 'hlo' ? x.sharding : specToHlo(b.mesh, x.spec);
  const permuted = permuteTiles(b, x, from, to);
  if (permuted) return { kind: 'hlo', atom: permuted, global: x.global, sharding: to };
  const full = gatherToReplicated(b, x);
  return { kind: 'hlo', atom: sliceFromReplicated(b, full, to), global: x.global, sharding: to };
}

/** Bytes per core that resharding `x` to `to` would move (priced on a scratch builder). */
export function reshardBytes(b: SpmdBuilder, x: Sharded, to: DimAxes): number {
  if (x.kind === 'spec' && specEqual(x.spec, to)) return 0;
  const s = b.scratch();
  reshardToSpec(s, x, to);
  return s.commBytes;
}
