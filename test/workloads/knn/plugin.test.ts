import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pod } from '../../../src/coordinator/pod.js';
import { ConfigError, parseConfig } from '../../../src/coordinator/plugin.js';
import { CHIPS } from '../../../src/tpu/chips.js';
import { prepareVectors } from '../../../src/workloads/knn/distance.js';
import { syntheticRows } from '../../../src/workloads/knn/generators.js';
import { type KnnResult, knnPlugin } from '../../../src/workloads/knn/index.js';
import { LocalShardedSearch } from '../../../src/workloads/knn/local.js';
import { builtinWorkloads } from '../../../src/workloads/registry.js';
import { ensureBuilt, hooks } from '../../coordinator/helpers.js';

const MIB = 1024 ** 2;

describe('knn plugin', () => {
  it('is registered, and its config has defaults and names bad fields', () => {
    expect(builtinWorkloads.get('knn')).toBe(knnPlugin);
    expect(parseConfig(knnPlugin, {})).toMatchObject({ k: 10, recall_target: 0.95, mode: 'approx', distance: 'mips' });
    expect(() => parseConfig(knnPlugin, { recall_target: 1.5 })).toThrow(/config\.recall_target/);
    expect(() => parseConfig(knnPlugin, { distance: 'hamming' })).toThrow(ConfigError);
  });
});

describe('knn on a v4-8 pod', () => {
  let pod: Pod;
  let job = 0;
  const submit = (config: Record<string, unknown>, mesh?: Record<string, number>) => {
    const h = hooks();
    const done = pod.runJob({ id: `knn${job++}`, plugin: knnPlugin, config, ...(mesh ? { mesh } : {}) }, h) as Promise<KnnResult>;
    return { done, h };
  };

  beforeAll(async () => {
    ensureBuilt();
    pod = await Pod.start({ topology: 'v4-8', hbmBytesPerCore: 16 * MIB });
  });
  afterAll(async () => {
    await pod?.close();
  });

  it('searches a sharded database: recall >= target, exact VPU-bound, and the pod agrees with the in-process run', async () => {
    const config = { n: 16384, d: 32, k: 10, recall_target: 0.9, batch: 64, batches: 2, dataset: 'sphere', seed: 3 };
    const { done, h } = submit(config);
    const r = await done;
    expect(r.shards).toBe(8);
    expect(r.batches).toHaveLength(2);
    for (const b of r.batches) {
      expect(b.recall).toBeGreaterThanOrEqual(0.9);
      expect(b.truth).toBe('exact-search');
      expect(b.exact!.bound).toBe('vpu');
      expect(b.exact!.simulatedQps).toBeLessThan(b.simulatedQps);
    }
    expect(h.progress.map((p) => p.step)).toEqual([1, 2]);
    expect(h.progress[1]!.metrics.recall).toBe(r.batches[1]!.recall);

    // the same first batch on 8 in-process shards gives the same recall and simulated step time
    const opts = { kind: 'sphere' as const, d: 32, seed: 3 };
    const local = new LocalShardedSearch({ chip: CHIPS.v4, numShards: 8, dtype: 'bf16', distance: 'mips', hbmBytes: 16 * MIB }, prepareVectors(syntheticRows(opts, 'database', 0, 16384), 'mips'));
    const queries = prepareVectors(syntheticRows(opts, 'queries', 0, 64), 'mips');
    const truth = local.search(queries, { k: 10, recallTarget: 0.9, mode: 'exact', aggregateToTopk: true }, undefined, r.queryTile);
    const approx = local.search(queries, { k: 10, recallTarget: 0.9, mode: 'approx', aggregateToTopk: true }, truth.slots, r.queryTile);
    expect(approx.hits! / (64 * 10)).toBe(r.batches[0]!.recall);
    expect(approx.steps.scoreTopK.seconds).toBeCloseTo(r.batches[0]!.steps.scoreTopK.seconds, 12);
  });

  it('applies inserts and deletes between batches, L2 over bf16, queries split over a second axis', async () => {
    const config = {
      n: 8192, d: 16, k: 10, recall_target: 0.95, distance: 'l2', batch: 32, batches: 3, dataset: 'clusters',
      inserts_per_batch: 100, deletes_per_batch: 150, query_axis: 'model',
    };
    const { done } = submit(config, { data: 4, model: 2 });
    const r = await done;
    expect(r.shards).toBe(4);
    expect(r.queryShards).toBe(2);
    expect(r.batches.map((b) => b.liveRows)).toEqual([8192, 8142, 8092]);
    expect(r.batches.map((b) => [b.inserted, b.deleted])).toEqual([[0, 0], [100, 150], [100, 150]]);
    for (const b of r.batches) expect(b.recall).toBeGreaterThanOrEqual(0.95);
  });
});
