import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pod } from '../../src/coordinator/pod.js';
import { CHECKPOINT_FILE } from '../../src/coordinator/job_context.js';
import { parseConfig } from '../../src/coordinator/plugin.js';
import { chipSpec } from '../../src/tpu/chips.js';
import { TensorCore } from '../../src/tpu/core.js';
import { bf16BitsToF32 } from '../../src/tpu/dtype.js';
import type { TensorView } from '../../src/tpu/tensor.js';
import { checksum, matmulOperands } from '../../src/workloads/matmul/data.js';
import { type MatmulResult, matmulPlugin } from '../../src/workloads/matmul/plugin.js';
import { builtinWorkloads } from '../../src/workloads/registry.js';
import { ensureBuilt, hooks } from '../coordinator/helpers.js';

/** sum(A·B) by the definition, in f64. */
function referenceChecksum(a: TensorView, b: TensorView): number {
  const [m, k] = a.shape as [number, number];
  const n = b.shape[1]!;
  const value = (t: TensorView, i: number) => (t.dtype === 'bf16' ? bf16BitsToF32(t.data[i]!) : t.data[i]!);
  let s = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let p = 0; p < k; p++) dot += value(a, i * k + p) * value(b, p * n + j);
      s += dot;
    }
  }
  return s;
}

/** The same product on one TensorCore with the reference kernel: the single-core oracle. */
function singleCoreChecksum(a: TensorView, b: TensorView): number {
  const core = new TensorCore({ chip: chipSpec('v4'), hbmBytes: 8 * 1024 ** 2, kernels: 'reference' });
  const [c] = core.execute('dot_general', { contractingDims: [[1], [0]], batchDims: [[], []], preferredElementType: 'f32' }, [a, b]);
  return checksum(c!.data);
}

describe('matmul workload config', () => {
  it('is registered, and {} is a valid config with every default', () => {
    expect(builtinWorkloads.get('matmul')).toBe(matmulPlugin);
    expect(parseConfig(matmulPlugin, {})).toEqual({ m: 256, k: 1024, n: 256, dtype: 'f32', steps: 5, seed: 0 });
    expect(() => parseConfig(matmulPlugin, { dtype: 'f64' })).toThrow(/config\.dtype/);
    expect(() => parseConfig(matmulPlugin, { steps: 0 })).toThrow(/config\.steps/);
  });
});

describe('matmul on a v4-8 pod', () => {
  let pod: Pod;
  beforeAll(async () => {
    ensureBuilt();
    pod = await Pod.start({ topology: 'v4-8', mesh: { data: 4, model: 2 }, hbmBytesPerCore: 8 * 1024 ** 2 });
  });
  afterAll(async () => {
    await pod?.close();
  });

  it('computes the product on 8 cores and its checksum equals the single-core reference', async () => {
    const config = { m: 64, k: 1024, n: 128, steps: 3, seed: 7 };
    const { a, b } = matmulOperands('f32', config.m, config.k, config.n, config.seed);
    const expected = referenceChecksum(a, b);
    expect(singleCoreChecksum(a, b)).toBe(expected);

    const before = pod.stats();
    const h = hooks();
    const r = (await pod.runJob({ id: 'mm-f32', plugin: matmulPlugin, config }, h)) as MatmulResult;
    expect(r.checksum).toBe(expected);
    expect(r).toMatchObject({ shards: 8, axes: ['data', 'model'], flopsPerStep: 2 * 64 * 1024 * 128 });

    // Per-step metrics, all in simulated time and all ratios in (0, 1].
    expect(h.progress.map((p) => [p.step, p.total])).toEqual([[1, 3], [2, 3], [3, 3]]);
    for (const { metrics } of h.progress) {
      expect(metrics.checksum).toBe(expected);
      expect(metrics.step_seconds).toBeGreaterThan(0);
      for (const ratio of ['mxu_utilization', 'mfu', 'collective_share'] as const) {
        expect(metrics[ratio]).toBeGreaterThan(0);
        expect(metrics[ratio]).toBeLessThanOrEqual(1);
      }
    }
    // The local k (1024/8) and n fill the 128-wide MXU tile and m the 8 sublanes, so no
    // padding: MXU utilization is the MFU.
    expect(r.mxuUtilization).toBeCloseTo(r.mfu, 12);
    expect(r.stepSeconds).toHaveLength(3);

    const after = pod.stats();
    for (const c of after.cores) {
      const was = before.cores[c.coreId]!;
      // Each core did exactly its shard's FLOPs, every step.
      expect(c.usefulFlops - was.usefulFlops).toBe(3 * 2 * 64 * (1024 / 8) * 128);
      expect(c.hbmBytesRead).toBeGreaterThan(was.hbmBytesRead);
      expect(c.busyByUnit.ici).toBeGreaterThan(was.busyByUnit.ici);
    }
    const ar = after.collectives['all-reduce'];
    const arBefore = before.collectives['all-reduce'];
    expect(ar.calls - arBefore.calls).toBe(3 * 8); // one psum per step per core
    expect(ar.bytesSent).toBeGreaterThan(arBefore.bytesSent);
    expect(ar.seconds).toBeGreaterThan(arBefore.seconds);
    expect(after.simulatedSeconds - before.simulatedSeconds).toBeCloseTo(r.stepSeconds.reduce((x, y) => x + y, 0), 12);
    expect(after.emulatedFlopsPerWallSecond).toBeGreaterThan(0);
  });

  it('runs in bf16 over one mesh axis, with the same exact checksum', async () => {
    const config = { m: 32, k: 256, n: 32, steps: 2, seed: 3, dtype: 'bf16' as const, axes: ['model'] };
    const { a, b } = matmulOperands('bf16', config.m, config.k, config.n, config.seed);
    const r = (await pod.runJob({ id: 'mm-bf16', plugin: matmulPlugin, config }, hooks())) as MatmulResult;
    expect(r.shards).toBe(2);
    expect(r.checksum).toBe(referenceChecksum(a, b));
  });

  it('resumes from its checkpoint', async () => {
    const config = { m: 32, k: 256, n: 16, steps: 3, seed: 1 };
    const { a, b } = matmulOperands('f32', config.m, config.k, config.n, config.seed);
    const jobDir = mkdtempSync(join(tmpdir(), 'tpusim-mm-'));
    const key = JSON.stringify({ m: 32, k: 256, n: 16, dtype: 'f32', seed: 1, axes: ['data', 'model'] });
    const saved = { config: key, step: 2, stepSeconds: [1e-6, 1e-6], mxuFlops: 0, collectiveSeconds: 0, checksum: 0 };
    writeFileSync(join(jobDir, CHECKPOINT_FILE), new Packr({ moreTypes: true }).pack(saved));
    const h = hooks(undefined, jobDir);
    const r = (await pod.runJob({ id: 'mm-resume', plugin: matmulPlugin, config }, h)) as MatmulResult;
    expect(h.logs).toContain('matmul: resuming after step 2 of 3');
    expect(h.progress.map((p) => p.step)).toEqual([3]);
    expect(r.stepSeconds).toHaveLength(3);
    expect(r.checksum).toBe(referenceChecksum(a, b));

    // The same dir under another config starts over rather than mixing runs.
    const h2 = hooks(undefined, jobDir);
    await pod.runJob({ id: 'mm-other', plugin: matmulPlugin, config: { ...config, seed: 2 } }, h2);
    expect(h2.logs).toContain('matmul: ignoring a checkpoint of another config');
    expect(h2.progress.map((p) => p.step)).toEqual([1, 2, 3]);
  });

  it('rejects a k that does not split over the mesh, naming the field', async () => {
    await expect(pod.runJob({ id: 'mm-bad', plugin: matmulPlugin, config: { k: 100 } }, hooks())).rejects.toThrow(/config\.k = 100 must be divisible by the 8 shards/);
  });
});
