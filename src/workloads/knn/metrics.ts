/**
 * What a search batch reports: recall@k, the expected recall of TPU-KNN's formula for the
 * bins the shards actually keep, queries per simulated second, and the unit (MXU, VPU, HBM,
 * ICI) that bound each step, read from the core's counters around the step.
 */
import type { BusyUnit, TensorCore } from '../../tpu/core.js';
import { approxTopKExpectedRecall, approxTopKReductionOutputSize } from '../../tpu/prims/approx_topk.js';
import type { SearchMode } from './search.js';

/** recall@k: the fraction of the true k nearest found, over every query. */
export function recallAtK(hits: number, queries: number, k: number): number {
  return queries * k === 0 ? 0 : hits / (queries * k);
}

/** Host-side recall of result slots [q, k] against ground truth [q, kt] (its first k columns). */
export function recallOf(found: Int32Array, truth: Int32Array, queries: number, k: number, kt = k): number {
  let hits = 0;
  for (let q = 0; q < queries; q++) {
    const want = new Set<number>();
    for (let j = 0; j < k; j++) want.add(truth[q * kt + j]!);
    for (let j = 0; j < k; j++) if (want.has(found[q * k + j]!)) hits++;
  }
  return recallAtK(hits, queries, k);
}

export interface BinsParams {
  readonly mode: SearchMode;
  readonly k: number;
  readonly recallTarget: number;
  /** Rows per shard and shards. */
  readonly rowsPerShard: number;
  readonly numShards: number;
}

/** Bins PartialReduce keeps over the whole database (every shard's), or null when nothing is reduced. */
export function totalBins(p: BinsParams): number | null {
  if (p.mode === 'exact') return null;
  const rule = approxTopKReductionOutputSize(p.rowsPerShard, 2, p.k, p.recallTarget, false, p.rowsPerShard * p.numShards);
  return rule.log2Reduction === 0 ? null : rule.outputSize * p.numShards;
}

/**
 * TPU-KNN's expected recall ((L−1)/L)^(k−1) for the L bins kept (1 when nothing is reduced).
 * A bin keeps one row, so a true neighbor is lost only when a better one shares its bin;
 * each shard's top-k of its survivors then loses nothing the global top-k would keep.
 */
export function expectedRecall(p: BinsParams): number {
  const bins = totalBins(p);
  return bins === null ? 1 : approxTopKExpectedRecall(bins, p.k);
}

/** Simulated seconds and the binding unit of a stretch of a core's work. */
export interface StepTiming {
  readonly seconds: number;
  /** The unit that bound the most of this stretch's time. */
  readonly bound: BusyUnit;
}

/** A core's clock and per-unit bound seconds at one moment. */
export interface CoreSnapshot {
  readonly now: number;
  readonly bound: Readonly<Record<BusyUnit, number>>;
}

export function snapshot(core: TensorCore): CoreSnapshot {
  return { now: core.now, bound: core.stats().boundSeconds };
}

/** The timing of what `core` did since `before`. */
export function timingSince(core: TensorCore, before: CoreSnapshot): StepTiming {
  const after = snapshot(core);
  let bound: BusyUnit = 'mxu';
  let most = -1;
  for (const [unit, s] of Object.entries(after.bound) as [BusyUnit, number][]) {
    const delta = s - before.bound[unit];
    if (delta > most) {
      most = delta;
      bound = unit;
    }
  }
  return { seconds: after.now - before.now, bound };
}

export function queriesPerSecond(queries: number, seconds: number): number {
  return seconds > 0 ? queries / seconds : 0;
}

/** Sums the timings of a step repeated over query tiles: seconds add up, and so does each unit's bound time. */
export class TimingSum {
  private seconds = 0;
  private readonly byUnit = new Map<BusyUnit, number>();

  /** Adds what `core` did since `before`. */
  addSince(core: TensorCore, before: CoreSnapshot): void {
    const after = snapshot(core);
    this.seconds += after.now - before.now;
    for (const [unit, s] of Object.entries(after.bound) as [BusyUnit, number][]) {
      this.byUnit.set(unit, (this.byUnit.get(unit) ?? 0) + s - before.bound[unit]);
    }
  }

  /** Adds `seconds` bound by `unit` (time priced outside a core, e.g. a reference collective). */
  add(seconds: number, unit: BusyUnit): void {
    this.seconds += seconds;
    this.byUnit.set(unit, (this.byUnit.get(unit) ?? 0) + seconds);
  }

  total(): StepTiming {
    let bound: BusyUnit = 'mxu';
    let most = -1;
    for (const [unit, s] of this.byUnit) {
      if (s > most) {
        most = s;
        bound = unit;
      }
    }
    return { seconds: this.seconds, bound };
  }
}
