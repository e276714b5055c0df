/**
 * The physical pod as layer 2 sees it: a grid of cores with links per dim, and the choice
 * of algorithm for a group of cores (a mesh axis, or several) on it.
 *
 * The grid is the chip torus plus one innermost dim for the TensorCores of a chip. Chips
 * talk over ICI; the cores of one chip share its HBM (v4 and later), so a transfer between
 * them is an HBM-to-HBM copy. Its price is derived from the chip table, not published:
 * bandwidth = the chip's HBM bytes/s / 2 (a copy reads and writes every byte) and latency =
 * the chip's per-op overhead (one DMA issue; ChipSpec.opOverheadSeconds).
 */
import type { ChipSpec } from '../tpu/chips.js';
import type { Topology } from '../tpu/topology.js';
import { CollectiveUsageError } from './errors.js';

/** One direction of one link: latency per hop and one-way bytes per second. */
export interface Link {
  readonly latency: number;
  readonly bandwidth: number;
}

export interface Interconnect {
  /** Extent of each grid dim (torus dims, then cores per chip). */
  readonly dims: readonly number[];
  readonly wraparound: readonly boolean[];
  /** The link along each dim. */
  readonly links: readonly Link[];
  /** Grid coordinates of each core id. */
  readonly coords: readonly (readonly number[])[];
}

export function iciLink(chip: ChipSpec): Link {
  // [chips.ts: ICI one-way bytes/s per link from the scaling book; hop latency ~1 µs, an assumption there]
  return { latency: chip.iciHopLatencySeconds, bandwidth: chip.iciBandwidthPerLinkOneWay };
}

export function onChipLink(chip: ChipSpec): Link {
  return { latency: chip.opOverheadSeconds, bandwidth: chip.hbmBandwidthPerChip / 2 };
}

/** The grid of a Cloud TPU slice (src/tpu/topology.ts). */
export function interconnectOf(topology: Topology): Interconnect {
  const chip = topology.chip;
  const ici = iciLink(chip);
  return {
    dims: [...topology.dims, chip.coresPerChip],
    wraparound: [...topology.wraparound, false],
    links: [...topology.dims.map(() => ici), onChipLink(chip)],
    coords: topology.cores.map((c) => [...c.chipCoords, c.coreOnChip]),
  };
}

/** A plain grid of `dims` cores (last dim fastest in core id), every dim with the same link. */
export function gridInterconnect(dims: readonly number[], wraparound: readonly boolean[], link: Link): Interconnect {
  if (dims.length !== wraparound.length) throw new CollectiveUsageError('grid: one wraparound flag per dim');
  const n = dims.reduce((a, b) => a * b, 1);
  const coords: number[][] = [];
  for (let id = 0; id < n; id++) {
    const c = new Array<number>(dims.length);
    let rest = id;
    for (let d = dims.length - 1; d >= 0; d--) {
      c[d] = rest % dims[d]!;
      rest = Math.floor(rest / dims[d]!);
    }
    coords.push(c);
  }
  return { dims: [...dims], wraparound: [...wraparound], links: dims.map(() => link), coords };
}

/** Hops along dim `d` between coordinates `a` and `b`, the short way round when it wraps. */
export function dimHops(ic: Interconnect, d: number, a: number, b: number): number {
  const x = Math.abs(a - b);
  return ic.wraparound[d] ? Math.min(x, ic.dims[d]! - x) : x;
}

/** Latency and bottleneck bandwidth of the dimension-ordered route between two cores. */
export function route(ic: Interconnect, from: number, to: number): Link & { hops: number } {
  const a = ic.coords[from]!;
  const b = ic.coords[to]!;
  let latency = 0;
  let bandwidth = Infinity;
  let hops = 0;
  for (let d = 0; d < ic.dims.length; d++) {
    const h = dimHops(ic, d, a[d]!, b[d]!);
    if (h === 0) continue;
    hops += h;
    latency += h * ic.links[d]!.latency;
    bandwidth = Math.min(bandwidth, ic.links[d]!.bandwidth);
  }
  return { latency, bandwidth, hops };
}

/**
 * One phase of a ring algorithm: disjoint rings of `size` ranks that run at once (for the
 * torus algorithm, all the lines along one torus dim).
 */
export interface RingPhase {
  readonly size: number;
  /** Each ring's group ranks in ring order; every rank of the group is in one ring. */
  readonly rings: readonly (readonly number[])[];
  /** Per group rank: which part of the phase's region that rank ends a reduce-scatter with. */
  readonly partIndex: readonly number[];
  /** Halves go round in both directions at once (needs wraparound and size >= 3). */
  readonly bidirectional: boolean;
  /** The ring closes over a wraparound link (false: a line, closing the long way back). */
  readonly wraparound: boolean;
  /** The link of one ring step: latency of its longest edge, bandwidth of its slowest. */
  readonly link: Link;
}

export type AlgorithmName = 'ring' | 'bidirectional-ring' | 'torus';

export interface CollectiveAlgorithm {
  readonly name: AlgorithmName;
  readonly p: number;
  /** Reduce-scatter phases in order; all-gather runs them in reverse. Sizes multiply to p. */
  readonly phases: readonly RingPhase[];
  /** Chunk index (row-major over the phases' part indices) equals the rank, as reduce-scatter and all-gather need. */
  readonly rankOrdered: boolean;
}

export type AlgorithmChoice = 'auto' | 'ring';

/** A unidirectional ring through the group in rank order (what works on any group). */
export function flatRing(ic: Interconnect, members: readonly number[]): CollectiveAlgorithm {
  const p = members.length;
  if (p === 1) return { name: 'ring', p, phases: [], rankOrdered: true };
  let latency = 0;
  let bandwidth = Infinity;
  for (let r = 0; r < p; r++) {
    const e = route(ic, members[r]!, members[(r + 1) % p]!);
    latency = Math.max(latency, e.latency);
    bandwidth = Math.min(bandwidth, e.bandwidth);
  }
  const ring = members.map((_, r) => r);
  return {
    name: 'ring',
    p,
    phases: [{ size: p, rings: [ring], partIndex: ring, bidirectional: false, wraparound: true, link: { latency, bandwidth } }],
    rankOrdered: true,
  };
}

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

/**
 * The algorithm for a collective over `members` (core ids in rank order):
 * - the group lies along one grid dim: a ring along it, bidirectional when the dim wraps;
 * - the group is a sub-grid over several dims: the by-dimension torus algorithm
 *   (reduce-scatter along one dim, then the next, then all-gathers back);
 * - anything else, or `choice` 'ring': a unidirectional ring in rank order.
 * `needRankOrder`: the op's result layout is tied to ranks (reduce-scatter, all-gather); the
 * torus phases are then ordered so that the chunk each rank ends with is its own.
 */
export function chooseAlgorithm(
  ic: Interconnect,
  members: readonly number[],
  choice: AlgorithmChoice = 'auto',
  needRankOrder = false,
): CollectiveAlgorithm {
  const p = members.length;
  if (choice === 'ring' || p === 1) return flatRing(ic, members);
  const coords = members.map((m) => {
    const c = ic.coords[m];
    if (!c) throw new CollectiveUsageError(`interconnect: no core ${m}`);
    return c;
  });
  const varying: number[] = [];
  const values: number[][] = [];
  for (let d = 0; d < ic.dims.length; d++) {
    const set = [...new Set(coords.map((c) => c[d]!))].sort((a, b) => a - b);
    if (set.length > 1) {
      varying.push(d);
      values.push(set);
    }
  }
  // A sub-grid: every combination of the varying coordinates once, each dim a contiguous run.
  const gridSize = values.reduce((a, v) => a * v.length, 1);
  const tuples = new Set(coords.map((c) => varying.map((d) => c[d]).join(',')));
  const contiguous = values.every((v) => v[v.length - 1]! - v[0]! === v.length - 1);
  if (gridSize !== p || tuples.size !== p || !contiguous) return flatRing(ic, members);

  const position = (r: number, k: number): number => values[k]!.indexOf(coords[r]![varying[k]!]!);
  // Try every order of the dims for one where rank = row-major(part indices).
  let order: number[] | undefined;
  let partIndex: number[][] | undefined;
  for (const perm of permutations(varying.map((_, k) => k))) {
    const idx = perm.map(() => new Array<number>(p));
    let stride = p;
    let ok = true;
    perm.forEach((k, j) => {
      const e = values[k]!.length;
      stride /= e;
      const byPos = new Map<number, number>();
      for (let r = 0; r < p && ok; r++) {
        const part = Math.floor(r / stride) % e;
        const pos = position(r, k);
        const seen = byPos.get(pos);
        if (seen !== undefined && seen !== part) ok = false;
        byPos.set(pos, part);
        idx[j]![r] = part;
      }
    });
    if (ok) {
      order = perm;
      partIndex = idx;
      break;
    }
  }
  const rankOrdered = order !== undefined;
  if (!rankOrdered) {
    if (needRankOrder) return flatRing(ic, members);
    order = varying.map((_, k) => k);
    partIndex = order.map((k) => members.map((_, r) => position(r, k)));
  }
  const phases: RingPhase[] = order!.map((k, j) => {
    const d = varying[k]!;
    const e = values[k]!.length;
    const wrap = ic.wraparound[d]! && e === ic.dims[d]!;
    // Rings: ranks that share every other varying coordinate, in coordinate order along d.
    const byRest = new Map<string, number[]>();
    for (let r = 0; r < p; r++) {
      const key = varying.map((dd) => (dd === d ? '*' : coords[r]![dd])).join(',');
      const ring = byRest.get(key) ?? [];
      ring.push(r);
      byRest.set(key, ring);
    }
    const rings = [...byRest.values()].map((ring) => ring.sort((a, b) => coords[a]![d]! - coords[b]![d]!));
    return {
      size: e,
      rings,
      partIndex: partIndex![j]!,
      bidirectional: wrap && e >= 3,
      wraparound: wrap,
      link: ic.links[d]!,
    };
  });
  const name: AlgorithmName = phases.length > 1 ? 'torus' : phases[0]!.bidirectional ? 'bidirectional-ring' : 'ring';
  return { name, p, phases, rankOrdered };
}

/** Chunk index of each rank: row-major over the phases' part indices. */
export function chunkOfRank(alg: CollectiveAlgorithm): number[] {
  const chunks = new Array<number>(alg.p).fill(0);
  for (const ph of alg.phases) {
    for (let r = 0; r < alg.p; r++) chunks[r] = chunks[r]! * ph.size + ph.partIndex[r]!;
  }
  return chunks;
}
