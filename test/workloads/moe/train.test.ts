import { describe, expect, it } from 'vitest';
import { estimate } from '../../../src/coordinator/estimate/estimate.js';
import { createDeviceMesh } from '../../../src/gspmd/mesh.js';
import type { PyTree } from '../../../src/program/pytree.js';
import * as random from '../../../src/program/random.js';
import type { Tensor } from '../../../src/program/tracer.js';
import { parseTopology } from '../../../src/tpu/topology.js';
import { moeConfigSchema } from '../../../src/workloads/moe/config.js';
import { moeEstimateRequest } from '../../../src/workloads/moe/estimate.js';
import { initMoeParams } from '../../../src/workloads/moe/model.js';
import { moeStep } from '../../../src/workloads/moe/step.js';
import { LockstepTrainer } from '../../../src/workloads/transformer/train.js';
import { compileTrainStep } from '../../../src/workloads/transformer/step.js';

const small = moeConfigSchema.parse({ layers: 2, moeEvery: 2, modelDim: 16, ffnDim: 32, heads: 2, kvDim: 8, vocab: 32, seqLen: 8, batch: 8, experts: 8 });

describe('moe: real training on 8 cores, experts split', () => {
  const topology = parseTopology('v3-8');
  const mesh = createDeviceMesh(topology, { data: 8 });

  it('dispatches and combines with all-to-all', () => {
    const { partitioned } = compileTrainStep(moeStep(small, mesh));
    // One MoE layer: dispatch and combine, each forward and backward.
    expect(partitioned.program.equations.filter((e) => e.op === 'all_to_all')).toHaveLength(4);
  });

  it('estimate mode agrees with execution on step time within 1% (the loss is checked on the pod: test/workloads/transformer/pod.test.ts)', () => {
    const step = moeStep(small, mesh);
    const params = initMoeParams(small, random.key(small.seed)) as unknown as PyTree<Tensor>;
    const trainer = new LockstepTrainer(step, params, topology, small);
    const executed = trainer.next();
    expect(Number.isFinite(executed.loss)).toBe(true);
    const report = estimate({ ...moeEstimateRequest(small, topology, { data: 8 }), blocks: undefined });
    expect(Math.abs(report.stepSeconds - executed.stepSeconds) / executed.stepSeconds).toBeLessThan(0.01);
    expect(report.breakdown.collectives.all_to_all).toBeGreaterThan(0);
  });
});

describe('moe estimate at large size', () => {
  it('a 36-layer, 512-expert GShard-style LM on 512 v3 cores', () => {
    const big = moeConfigSchema.parse({
      layers: 36, moeEvery: 2, modelDim: 1024, ffnDim: 8192, heads: 16, kvDim: 64, vocab: 32000, seqLen: 1024, batch: 512, experts: 512, dtype: 'bf16', optimizer: 'adafactor',
    });
    const r = estimate(moeEstimateRequest(big, parseTopology('v3-512'), { data: 512 }));
    console.log(`MoE 512 experts on v3-512: step ${r.stepSeconds.toFixed(3)} s, MFU ${(r.mfu * 100).toFixed(1)}%, ${r.tokensPerSecond!.toFixed(0)} tokens/s, all-to-all ${r.breakdown.collectives.all_to_all!.toFixed(3)} s, ${r.memory.verdict}; ${r.cpuSeconds.toFixed(2)} s CPU`);
    expect(r.program.method).toBe('blocks');
    // Dispatch and combine, forward and backward, in each of the 18 MoE layers.
    expect(r.collectiveCalls.all_to_all!.count % 18).toBe(0);
    expect(r.collectiveCalls.all_to_all!.count).toBeGreaterThanOrEqual(18 * 4);
    expect(r.mfu).toBeGreaterThan(0);
    expect(r.memory.fits).toBe(true);
  }, 300_000);
});
