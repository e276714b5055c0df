import { describe, expect, it } from 'vitest';
import { CHIPS } from '../../../src/tpu/chips.js';
import { type Distance, prepareVectors } from '../../../src/workloads/knn/distance.js';
import { type SyntheticKind, type VectorSet, syntheticRows } from '../../../src/workloads/knn/generators.js';
import { exactNeighbors } from '../../../src/workloads/knn/ground_truth.js';
import { LocalShardedSearch, type SearchParams } from '../../../src/workloads/knn/local.js';
import { expectedRecall, recallAtK, recallOf, totalBins } from '../../../src/workloads/knn/metrics.js';

const chip = CHIPS.v4;
const HBM = 256 << 20;

function dataset(kind: SyntheticKind, n: number, nq: number, d: number, distance: Distance, seed = 7): { db: VectorSet; queries: VectorSet } {
  const opts = { kind, d, seed };
  return {
    db: prepareVectors(syntheticRows(opts, 'database', 0, n), distance),
    queries: prepareVectors(syntheticRows(opts, 'queries', 0, nq), distance),
  };
}

const exact = (k: number): SearchParams => ({ k, recallTarget: 0.95, mode: 'exact', aggregateToTopk: true });

describe('exact mode', () => {
  for (const distance of ['mips', 'l2', 'cosine'] as const) {
    it(`${distance}: matches the float64 oracle, and sharded equals single-core bit for bit`, () => {
      const n = 3000; // not a multiple of the shard count: the last slots stay free (−inf)
      const { db, queries } = dataset('clusters', n, 24, 20, distance);
      const truth = exactNeighbors(db, queries, 10, distance);
      const runs = [1, 4].map((p) => {
        const s = new LocalShardedSearch({ chip, numShards: p, dtype: 'f32', distance, hbmBytes: HBM }, db);
        return s.search(queries, exact(10), truth);
      });
      expect(recallOf(runs[0]!.slots, truth, queries.n, 10)).toBeGreaterThanOrEqual(0.995);
      expect(runs[0]!.hits).toBe(Math.round(recallOf(runs[0]!.slots, truth, queries.n, 10) * queries.n * 10));
      expect(Array.from(runs[1]!.slots)).toEqual(Array.from(runs[0]!.slots));
      expect(Array.from(runs[1]!.values)).toEqual(Array.from(runs[0]!.values));
      expect(runs[0]!.steps.scoreTopK.bound).toBe('vpu');
    });
  }
});

describe('approx mode: recall grid', () => {
  // 2^17 rows so that even 8 shards of 16384 rows each hold (1 − k)/ln(r) rows for
  // k = 100, r = 0.99 (9850): below that XLA's rule clamps a shard's bin count.
  const N = 1 << 17;
  const D = 16;
  const NQ = 128;
  for (const kind of ['clusters', 'sphere'] as const) {
    it(`${kind}: measured recall >= target for k in {1, 10, 100}, r in {0.8, 0.9, 0.95, 0.99}, on 1, 4 and 8 shards`, () => {
      const { db, queries } = dataset(kind, N, NQ, D, 'mips', 11);
      const searches = [1, 4, 8].map((p) => new LocalShardedSearch({ chip, numShards: p, dtype: 'f32', distance: 'mips', hbmBytes: HBM }, db));
      const truthRun = searches[0]!.search(queries, exact(100));
      let identical = 0;
      for (const k of [1, 10, 100]) {
        const truth = new Int32Array(NQ * k);
        for (let q = 0; q < NQ; q++) truth.set(truthRun.slots.subarray(q * 100, q * 100 + k), q * k);
        for (const r of [0.8, 0.9, 0.95, 0.99]) {
          const params: SearchParams = { k, recallTarget: r, mode: 'approx', aggregateToTopk: true };
          const runs = searches.map((s) => s.search(queries, params, truth));
          runs.forEach((run, i) => {
            const p = searches[i]!.table.numShards;
            const recall = recallAtK(run.hits!, NQ, k);
            expect(recall, `k=${k} r=${r} shards=${p}`).toBeGreaterThanOrEqual(r);
            expect(recall).toBe(recallOf(run.slots, truth, NQ, k));
            const bins = { mode: 'approx' as const, k, recallTarget: r, rowsPerShard: N / p, numShards: p };
            const single = { ...bins, rowsPerShard: N, numShards: 1 };
            if (totalBins(bins) === totalBins(single)) {
              // the shards' bins are the single core's bins: the same result, bit for bit
              expect(Array.from(run.slots)).toEqual(Array.from(runs[0]!.slots));
              expect(Array.from(run.values)).toEqual(Array.from(runs[0]!.values));
              if (p > 1) identical++;
            } else {
              // XLA's rule caps a small shard's reduction: it keeps more bins, never fewer
              expect(totalBins(bins) ?? N).toBeGreaterThan(totalBins(single) ?? N);
              expect(expectedRecall(bins)).toBeGreaterThanOrEqual(expectedRecall(single));
            }
          });
        }
      }
      expect(identical).toBeGreaterThanOrEqual(8);
    });
  }
});

describe('inserts and deletes between batches', () => {
  it('are reflected in the next batch, with no rebuild', () => {
    const n = 4000;
    const d = 12;
    const k = 10;
    const { db, queries } = dataset('sphere', n, 32, d, 'l2', 5);
    const s = new LocalShardedSearch({ chip, numShards: 4, dtype: 'f32', distance: 'l2', capacity: 4400, hbmBytes: HBM }, db);
    const approx: SearchParams = { k, recallTarget: 0.9, mode: 'approx', aggregateToTopk: true };
    const first = s.search(queries, exact(k));

    // delete every query's best row, and insert each query itself (its own nearest row now)
    const deleted = new Int32Array(new Set(Array.from({ length: queries.n }, (_, q) => first.slots[q * k]!)));
    s.delete(deleted);
    const inserted = s.insert(queries);
    expect(Math.min(...inserted)).toBe(Math.min(...deleted)); // freed slots are reused first

    // the oracle over the rows now stored, by slot
    const stored = new Float32Array(4400 * d);
    stored.set(db.data);
    inserted.forEach((slot, q) => stored.set(queries.data.subarray(q * d, (q + 1) * d), slot * d));
    const oracle = exactNeighbors({ n: 4400, d, data: stored }, queries, k, 'l2', s.table.liveMask());

    const after = s.search(queries, exact(k), oracle);
    expect(after.hits).toBe(queries.n * k);
    for (let q = 0; q < queries.n; q++) expect(after.slots[q * k]).toBe(inserted[q]);
    const live = s.table.liveMask();
    expect(Array.from(after.slots).every((slot) => live[slot] === 1)).toBe(true);

    const approxAfter = s.search(queries, approx, oracle);
    expect(recallAtK(approxAfter.hits!, queries.n, k)).toBeGreaterThanOrEqual(0.9);
    expect(Array.from(approxAfter.slots).every((slot) => live[slot] === 1)).toBe(true);
  });
});

describe('query tiles', () => {
  it('give the same results as one kernel over the batch, and cost more as the rows are re-read per tile', () => {
    const { db, queries } = dataset('clusters', 5000, 40, 16, 'l2', 9);
    const s = new LocalShardedSearch({ chip, numShards: 2, dtype: 'bf16', distance: 'l2', hbmBytes: HBM }, db);
    const params: SearchParams = { k: 5, recallTarget: 0.9, mode: 'approx', aggregateToTopk: true };
    const whole = s.search(queries, params);
    const tiled = s.search(queries, params, undefined, 8);
    expect(Array.from(tiled.slots)).toEqual(Array.from(whole.slots));
    expect(Array.from(tiled.values)).toEqual(Array.from(whole.values));
    expect(tiled.steps.scoreTopK.seconds).toBeGreaterThan(whole.steps.scoreTopK.seconds);
  });
});
