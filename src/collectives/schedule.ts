/**
 * Schedules: for every rank of a group, the steps of a collective and, in each step, the
 * transfers that rank performs. Data moves by pull: a rank reads its peers' buffers and
 * writes only its own, so the bytes a peer reads from me are the bytes I "send" over ICI.
 *
 * The ring algorithms (Patarasuk & Yuan's bandwidth-optimal ring; the by-dimension torus
 * variant runs it along one torus dim after another on what is left):
 * - reduce-scatter, ring of e, step s (0..e-2): position q adds the partial of label
 *   (q-s-1) mod e that its predecessor holds to its own value of that label. After e-1
 *   steps position q holds label q+1 complete; labels are mapped to parts so that position
 *   q ends with the part its rank owns.
 * - all-gather, step s: position q copies the part its predecessor received at step s-1
 *   (at step 0: the predecessor's own part).
 * - bidirectional: the lower half of every chunk goes round one way, the upper half the
 *   other way, in the same steps.
 * A step writes only regions no peer reads in that same step, and reads only what a peer
 * finished by its previous step; `syncPlan` turns that into who waits for whom.
 */
import { type CollectiveAlgorithm, chunkOfRank } from './interconnect.js';
import { type Span, flatSpan } from './movement.js';
import type { ChunkedLayout, ReduceOp } from './semantics.js';

export const IN = 0;
export const OUT = 1;
export const SCRATCH = 2;
export type BufKind = typeof IN | typeof OUT | typeof SCRATCH;

/** A span of a buffer of one rank of the group. */
export interface Operand {
  readonly owner: number;
  readonly buf: BufKind;
  readonly span: Span;
}

export type Transfer =
  | { readonly kind: 'copy'; readonly count: number; readonly dst: Operand; readonly src: Operand }
  /** dst = a (+) b: `a` is the partial that arrived, `b` this rank's own value. */
  | { readonly kind: 'reduce'; readonly count: number; readonly dst: Operand; readonly a: Operand; readonly b: Operand }
  | { readonly kind: 'zero'; readonly count: number; readonly dst: Operand };

export interface GroupSchedule {
  readonly p: number;
  readonly numSteps: number;
  /** steps[rank][step]: the transfers rank performs in that step (dst always owned by rank). */
  readonly steps: readonly (readonly (readonly Transfer[])[])[];
  /** Elements of scratch each rank needs (in the op's dtype). */
  readonly scratchElements: number;
  /** The reduction, for reduce transfers. */
  readonly reduceOp?: ReduceOp;
}

// ---- chunk spaces and buffer layouts ----------------------------------------------------

/** The logical elements of a collective as p chunks (possibly uneven for all-reduce). */
interface ChunkSpace {
  readonly p: number;
  start(j: number): number;
  length(j: number): number;
}

function unevenSpace(n: number, p: number): ChunkSpace {
  const start = (j: number): number => Math.floor((j * n) / p);
  return { p, start, length: (j) => start(j + 1) - start(j) };
}

function uniformSpace(m: number, p: number): ChunkSpace {
  return { p, start: (j) => j * m, length: () => m };
}

/** Where chunk j, element e0 of a buffer lives; `mergeable`: consecutive whole chunks are contiguous. */
interface BufLayout {
  span(owner: number, chunk: number, e0: number): Span;
  readonly mergeable: boolean;
}

function flatLayout(space: ChunkSpace): BufLayout {
  return { span: (_o, j, e0) => flatSpan(space.start(j) + e0), mergeable: true };
}

function stridedLayout(l: ChunkedLayout, p: number): BufLayout {
  if (l.outer <= 1) return { span: (_o, j, e0) => flatSpan(j * l.blk + e0), mergeable: true };
  return {
    span: (_o, j, e0) => ({
      base: j * l.blk + Math.floor(e0 / l.blk) * p * l.blk,
      rowLen: l.blk,
      rowStride: p * l.blk,
      startCol: e0 % l.blk,
    }),
    mergeable: false,
  };
}

/** A buffer that holds only its owner's chunk. */
function singleChunkLayout(chunkOf: readonly number[]): BufLayout {
  return {
    span: (owner, j, e0) => {
      if (chunkOf[owner] !== j) throw new Error(`schedule: rank ${owner} holds chunk ${chunkOf[owner]}, not ${j}`);
      return flatSpan(e0);
    },
    mergeable: false,
  };
}

/** Halves of a chunk for the two directions of a bidirectional ring; WHOLE otherwise. */
const LOWER = 0;
const UPPER = 1;
const WHOLE = 2;
type Half = typeof LOWER | typeof UPPER | typeof WHOLE;

function halfRange(len: number, half: Half): [number, number] {
  const h = Math.floor(len / 2);
  return half === LOWER ? [0, h] : half === UPPER ? [h, len] : [0, len];
}

/** Calls `f(chunk, e0, count)` for the pieces of chunks [c0, c1) x half, merging whole contiguous chunks. */
function forPieces(
  space: ChunkSpace,
  c0: number,
  c1: number,
  half: Half,
  merge: boolean,
  f: (chunk: number, e0: number, count: number) => void,
): void {
  if (merge && half === WHOLE) {
    const count = space.start(c1) - space.start(c0);
    if (count > 0) f(c0, 0, count);
    return;
  }
  for (let j = c0; j < c1; j++) {
    const [a, b] = halfRange(space.length(j), half);
    if (b > a) f(j, a, b - a);
  }
}

// ---- the builder -------------------------------------------------------------------------

class Builder {
  readonly steps: Transfer[][][];
  numSteps = 0;
  constructor(
    readonly p: number,
    readonly space: ChunkSpace,
    readonly layouts: readonly BufLayout[],
  ) {
    this.steps = Array.from({ length: p }, () => []);
  }

  private at(rank: number, step: number): Transfer[] {
    const mine = this.steps[rank]!;
    while (mine.length <= step) mine.push([]);
    if (step + 1 > this.numSteps) this.numSteps = step + 1;
    return mine[step]!;
  }

  private merge(...bufs: BufKind[]): boolean {
    return bufs.every((b) => this.layouts[b]!.mergeable);
  }

  reduce(step: number, rank: number, dstBuf: BufKind, peer: number, aBuf: BufKind, bBuf: BufKind, c0: number, c1: number, half: Half): void {
    const L = this.layouts;
    const list = this.at(rank, step);
    forPieces(this.space, c0, c1, half, this.merge(dstBuf, aBuf, bBuf), (j, e0, count) => {
      list.push({
        kind: 'reduce',
        count,
        dst: { owner: rank, buf: dstBuf, span: L[dstBuf]!.span(rank, j, e0) },
        a: { owner: peer, buf: aBuf, span: L[aBuf]!.span(peer, j, e0) },
        b: { owner: rank, buf: bBuf, span: L[bBuf]!.span(rank, j, e0) },
      });
    });
  }

  copy(step: number, rank: number, dstBuf: BufKind, peer: number, srcBuf: BufKind, c0: number, c1: number, half: Half): void {
    const L = this.layouts;
    const list = this.at(rank, step);
    forPieces(this.space, c0, c1, half, this.merge(dstBuf, srcBuf), (j, e0, count) => {
      list.push({
        kind: 'copy',
        count,
        dst: { owner: rank, buf: dstBuf, span: L[dstBuf]!.span(rank, j, e0) },
        src: { owner: peer, buf: srcBuf, span: L[srcBuf]!.span(peer, j, e0) },
      });
    });
  }

  /** Marks `step` as existing for every rank (a step may hold no transfer for some). */
  touch(step: number): void {
    for (let r = 0; r < this.p; r++) this.at(r, step);
  }

  finish(scratchElements: number, reduceOp?: ReduceOp): GroupSchedule {
    for (let r = 0; r < this.p; r++) while (this.steps[r]!.length < this.numSteps) this.steps[r]!.push([]);
    return { p: this.p, numSteps: this.numSteps, steps: this.steps, scratchElements, ...(reduceOp ? { reduceOp } : {}) };
  }
}

/** The chunk range [base, base + size) a rank works on in phase j: chunks sharing its part indices of phases before j. */
function regionAt(alg: CollectiveAlgorithm, rank: number, j: number): { base: number; size: number } {
  let size = alg.p;
  let base = 0;
  for (let i = 0; i < j; i++) {
    const ph = alg.phases[i]!;
    size /= ph.size;
    base += ph.partIndex[rank]! * size;
  }
  return { base, size };
}

interface Direction {
  readonly order: readonly number[];
  readonly half: Half;
}

function directions(ring: readonly number[], bidirectional: boolean): Direction[] {
  if (!bidirectional) return [{ order: ring, half: WHOLE }];
  return [
    { order: ring, half: LOWER },
    { order: [...ring].reverse(), half: UPPER },
  ];
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

/** Reduce-scatter phase j, steps [stepBase, stepBase + e - 1). */
function reduceScatterPhase(
  b: Builder,
  alg: CollectiveAlgorithm,
  j: number,
  stepBase: number,
  srcBuf: BufKind,
  accBuf: BufKind,
  finalBuf: BufKind,
): number {
  const ph = alg.phases[j]!;
  const e = ph.size;
  for (const ring of ph.rings) {
    for (const { order, half } of directions(ring, ph.bidirectional)) {
      for (let q = 0; q < e; q++) {
        const rank = order[q]!;
        const pred = order[mod(q - 1, e)]!;
        const { base, size } = regionAt(alg, rank, j);
        const sub = size / e;
        for (let s = 0; s <= e - 2; s++) {
          const label = mod(q - s - 1, e);
          const part = ph.partIndex[order[mod(label - 1, e)]!]!;
          const c0 = base + part * sub;
          b.reduce(stepBase + s, rank, s === e - 2 ? finalBuf : accBuf, pred, s === 0 ? srcBuf : accBuf, srcBuf, c0, c0 + sub, half);
        }
      }
    }
  }
  for (let s = 0; s <= e - 2; s++) b.touch(stepBase + s);
  return stepBase + e - 1;
}

/** All-gather phase j (run in reverse order of phases), into OUT. `fromIn`: each rank's own part is still in IN. */
function allGatherPhase(b: Builder, alg: CollectiveAlgorithm, j: number, stepBase: number, fromIn: boolean): number {
  const ph = alg.phases[j]!;
  const e = ph.size;
  for (const ring of ph.rings) {
    for (const { order, half } of directions(ring, ph.bidirectional)) {
      for (let q = 0; q < e; q++) {
        const rank = order[q]!;
        const pred = order[mod(q - 1, e)]!;
        const { base, size } = regionAt(alg, rank, j);
        const sub = size / e;
        for (let s = 0; s <= e - 2; s++) {
          const part = ph.partIndex[order[mod(q - 1 - s, e)]!]!;
          const c0 = base + part * sub;
          b.copy(stepBase + s, rank, OUT, pred, s === 0 && fromIn ? IN : OUT, c0, c0 + sub, half);
        }
      }
    }
    if (fromIn) {
      for (const rank of ring) {
        const { base, size } = regionAt(alg, rank, j);
        const sub = size / e;
        const c0 = base + ph.partIndex[rank]! * sub;
        b.copy(stepBase, rank, OUT, rank, IN, c0, c0 + sub, WHOLE);
      }
    }
  }
  for (let s = 0; s <= e - 2; s++) b.touch(stepBase + s);
  return stepBase + e - 1;
}

function localCopy(p: number, n: number): GroupSchedule {
  const b = new Builder(p, uniformSpace(n, 1), [flatLayout(uniformSpace(n, 1)), flatLayout(uniformSpace(n, 1))]);
  for (let r = 0; r < p; r++) b.copy(0, r, OUT, r, IN, 0, 1, WHOLE);
  b.touch(0);
  return b.finish(0);
}

function activePhases(alg: CollectiveAlgorithm): number[] {
  return alg.phases.map((_, j) => j).filter((j) => alg.phases[j]!.size > 1);
}

/** psum / pmax / pmin of `n` elements: reduce-scatter phases accumulating in OUT, then all-gathers back. */
export function allReduceSchedule(alg: CollectiveAlgorithm, n: number, op: ReduceOp): GroupSchedule {
  const phases = activePhases(alg);
  if (phases.length === 0) return localCopy(alg.p, n);
  const space = unevenSpace(n, alg.p);
  const flat = flatLayout(space);
  const b = new Builder(alg.p, space, [flat, flat, flat]);
  let step = 0;
  phases.forEach((j, i) => {
    step = reduceScatterPhase(b, alg, j, step, i === 0 ? IN : OUT, OUT, OUT);
  });
  for (let i = phases.length - 1; i >= 0; i--) step = allGatherPhase(b, alg, phases[i]!, step, false);
  return b.finish(0, op);
}

/** psum_scatter: partials in SCRATCH (chunk-major, packed), each rank's finished chunk into OUT. */
export function reduceScatterSchedule(alg: CollectiveAlgorithm, layout: ChunkedLayout, op: ReduceOp): GroupSchedule {
  const m = layout.outer * layout.blk;
  const phases = activePhases(alg);
  if (phases.length === 0) {
    const space = uniformSpace(m, 1);
    const b = new Builder(alg.p, space, [stridedLayout(layout, 1), flatLayout(space)]);
    for (let r = 0; r < alg.p; r++) b.copy(0, r, OUT, r, IN, 0, 1, WHOLE);
    return b.finish(0, op);
  }
  assertRankOrdered(alg);
  const space = uniformSpace(m, alg.p);
  const b = new Builder(alg.p, space, [stridedLayout(layout, alg.p), singleChunkLayout(chunkOfRank(alg)), flatLayout(space)]);
  let step = 0;
  phases.forEach((j, i) => {
    const last = i === phases.length - 1;
    step = reduceScatterPhase(b, alg, j, step, i === 0 ? IN : SCRATCH, SCRATCH, last ? OUT : SCRATCH);
  });
  const usesScratch = b.steps.some((steps) => steps.some((ts) => ts.some((t) => t.dst.buf === SCRATCH)));
  return b.finish(usesScratch ? m * alg.p : 0, op);
}

/** all_gather: each rank's operand (IN) becomes chunk `rank` of every OUT. */
export function allGatherSchedule(alg: CollectiveAlgorithm, layout: ChunkedLayout): GroupSchedule {
  const m = layout.outer * layout.blk;
  const phases = activePhases(alg);
  if (phases.length === 0) {
    const space = uniformSpace(m, 1);
    const b = new Builder(alg.p, space, [flatLayout(space), stridedLayout(layout, 1)]);
    for (let r = 0; r < alg.p; r++) b.copy(0, r, OUT, r, IN, 0, 1, WHOLE);
    return b.finish(0);
  }
  assertRankOrdered(alg);
  const space = uniformSpace(m, alg.p);
  const b = new Builder(alg.p, space, [singleChunkLayout(chunkOfRank(alg)), stridedLayout(layout, alg.p)]);
  let step = 0;
  for (let i = phases.length - 1; i >= 0; i--) step = allGatherPhase(b, alg, phases[i]!, step, i === phases.length - 1);
  return b.finish(0);
}

function assertRankOrdered(alg: CollectiveAlgorithm): void {
  if (!alg.rankOrdered) throw new Error(`schedule: the ${alg.name} algorithm does not keep rank order`);
}

/** all_to_all: one step, every rank reading the chunk meant for it straight from each peer's operand. */
export function allToAllSchedule(p: number, inLayout: ChunkedLayout, outLayout: ChunkedLayout): GroupSchedule {
  const m = inLayout.outer * inLayout.blk;
  const inL = stridedLayout(inLayout, p);
  const outL = stridedLayout(outLayout, p);
  const steps: Transfer[][][] = [];
  for (let r = 0; r < p; r++) {
    const mine: Transfer[] = [];
    if (m > 0) {
      for (let k = 0; k < p; k++) {
        const from = (r + k) % p; // own chunk first, then the peers in ring order
        mine.push({
          kind: 'copy',
          count: m,
          dst: { owner: r, buf: OUT, span: outL.span(r, from, 0) },
          src: { owner: from, buf: IN, span: inL.span(from, r, 0) },
        });
      }
    }
    steps.push([mine]);
  }
  return { p, numSteps: 1, steps, scratchElements: 0 };
}

/** ppermute: one step; a destination copies its source's operand, the others write zeros. */
export function permuteSchedule(p: number, perm: readonly (readonly [number, number])[], n: number): GroupSchedule {
  const srcOf = new Map<number, number>();
  for (const [s, d] of perm) srcOf.set(d, s);
  const steps: Transfer[][][] = [];
  for (let r = 0; r < p; r++) {
    const s = srcOf.get(r);
    const mine: Transfer[] = [];
    if (n > 0) {
      const dst: Operand = { owner: r, buf: OUT, span: flatSpan(0) };
      mine.push(s === undefined ? { kind: 'zero', count: n, dst } : { kind: 'copy', count: n, dst, src: { owner: s, buf: IN, span: flatSpan(0) } });
    }
    steps.push([mine]);
  }
  return { p, numSteps: 1, steps, scratchElements: 0 };
}

/** Number of pipelined pieces of a broadcast chain. */
export function broadcastChunks(p: number): number {
  return p;
}

/** Broadcast as a pipelined chain root -> root+1 -> ...: p pieces, piece c crosses edge d at step c + d - 1. */
export function broadcastSchedule(p: number, root: number, n: number): GroupSchedule {
  if (p === 1) return localCopy(1, n);
  const k = broadcastChunks(p);
  const space = unevenSpace(n, k);
  const flat = flatLayout(space);
  const b = new Builder(p, space, [flat, flat]);
  b.copy(0, root, OUT, root, IN, 0, k, WHOLE);
  for (let d = 1; d < p; d++) {
    const rank = (root + d) % p;
    const pred = (root + d - 1) % p;
    for (let c = 0; c < k; c++) b.copy(c + d - 1, rank, OUT, pred, d === 1 ? IN : OUT, c, c + 1, WHOLE);
  }
  for (let s = 0; s < k + p - 2; s++) b.touch(s);
  return b.finish(0);
}

export function barrierSchedule(p: number): GroupSchedule {
  return { p, numSteps: 0, steps: Array.from({ length: p }, () => []), scratchElements: 0 };
}

// ---- synchronisation -----------------------------------------------------------------------

export interface SyncPlan {
  /** waitOn[k]: ranks that must have finished step k-1 before this rank runs step k. */
  readonly waitOn: readonly (readonly number[])[];
  /** Ranks that must have finished the last step before this rank may return (they read its buffers). */
  readonly exitOn: readonly number[];
  /** Elements the peers read from this rank's buffers over the whole collective. */
  readonly elementsSent: number;
}

function peersRead(ts: readonly Transfer[], rank: number): Set<number> {
  const out = new Set<number>();
  for (const t of ts) {
    if (t.kind === 'copy' && t.src.owner !== rank) out.add(t.src.owner);
    if (t.kind === 'reduce') {
      if (t.a.owner !== rank) out.add(t.a.owner);
      if (t.b.owner !== rank) out.add(t.b.owner);
    }
  }
  return out;
}

/**
 * Who waits for whom. Before step k a rank waits for (1) the peers it reads in step k to
 * have finished step k-1 (their data is ready) and (2) the peers that read it in step k-1
 * to have finished that step (it may now overwrite what they read). Before returning it
 * waits for the readers of its last step, so its caller may reuse the buffers.
 */
export function syncPlans(s: GroupSchedule): SyncPlan[] {
  const reads: Set<number>[][] = s.steps.map((steps, r) => steps.map((ts) => peersRead(ts, r)));
  const readBy: Set<number>[][] = Array.from({ length: s.p }, () => Array.from({ length: s.numSteps }, () => new Set<number>()));
  const sent = new Array<number>(s.p).fill(0);
  for (let r = 0; r < s.p; r++) {
    for (let k = 0; k < s.numSteps; k++) {
      for (const q of reads[r]![k]!) readBy[q]![k]!.add(r);
      for (const t of s.steps[r]![k]!) {
        if (t.kind === 'copy' && t.src.owner !== r) sent[t.src.owner]! += t.count;
        if (t.kind === 'reduce' && t.a.owner !== r) sent[t.a.owner]! += t.count;
      }
    }
  }
  return reads.map((mine, r) => {
    const waitOn = mine.map((peers, k) => {
      const w = new Set(peers);
      if (k > 0) for (const q of readBy[r]![k - 1]!) w.add(q);
      return [...w].sort((a, b) => a - b);
    });
    const exitOn = s.numSteps > 0 ? [...readBy[r]![s.numSteps - 1]!].sort((a, b) => a - b) : [];
    return { waitOn, exitOn, elementsSent: sent[r]! };
  });
}
