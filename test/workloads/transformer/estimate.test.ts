/**
 * The dense LM in estimate mode at full size (GSPMD paper, §5): the ~128B model on a v3
 * [8,16] mesh, the 1T model on 512 cores with and without the 2D sharding, and how the
 * estimate's cost grows with the core count. Host time is measured as this process's CPU
 * seconds: the machine is shared, so wall time also counts other processes.
 */
import { describe, expect, it } from 'vitest';
import { estimate } from '../../../src/coordinator/estimate/estimate.js';
import { transformerConfigSchema, parameterCount } from '../../../src/workloads/transformer/config.js';
import { transformerEstimateRequest } from '../../../src/workloads/transformer/estimate.js';
import { parseTopology } from '../../../src/tpu/topology.js';

const dense128b = transformerConfigSchema.parse({
  layers: 64, modelDim: 8192, ffnDim: 65536, heads: 128, kvDim: 128, vocab: 32000, batch: 16, seqLen: 1024, dtype: 'bf16',
});
const dense1t = transformerConfigSchema.parse({
  layers: 128, modelDim: 16384, ffnDim: 131072, heads: 256, kvDim: 128, vocab: 32000, batch: 16, seqLen: 1024, dtype: 'bf16',
});

describe('transformer estimate at full size', () => {
  it('the ~128B dense LM on a v3 [8,16] mesh: MFU, tokens/s and memory per core within 10 s', () => {
    // 64 x (2·M·H + 4·M·N·D) + embeddings: 104B without gating (138B with gated GELU's third matrix).
    expect(parameterCount(dense128b) / 1e9).toBeGreaterThan(100);
    expect(parameterCount({ ...dense128b, gatedGelu: true }) / 1e9).toBeLessThan(140);
    const r = estimate(transformerEstimateRequest(dense128b, parseTopology('v3-128'), { data: 8, model: 16 }));
    console.log(`128B on v3-128: step ${r.stepSeconds.toFixed(3)} s, MFU ${(r.mfu * 100).toFixed(1)}%, ${r.tokensPerSecond!.toFixed(0)} tokens/s, ${r.memory.verdict}; ${r.cpuSeconds.toFixed(2)} s CPU, ${r.wallSeconds.toFixed(2)} s wall`);
    expect(r.cpuSeconds).toBeLessThan(10);
    expect(r.program.method).toBe('blocks');
    expect(r.mfu).toBeGreaterThan(0.2);
    expect(r.mfu).toBeLessThan(1);
    expect(r.tokensPerSecond).toBeCloseTo((16 * 1024) / r.stepSeconds, 6);
    expect(r.memory.paramsBytes).toBeCloseTo((parameterCount(dense128b) * 2) / 128, -7);
    expect(r.memory.peakBytes).toBeGreaterThan(r.memory.paramsBytes + r.memory.optimizerBytes);
    // Every unit and collective the step uses shows up in the breakdown.
    expect(r.breakdown.mxu).toBeGreaterThan(0);
    expect(r.breakdown.hbm).toBeGreaterThan(0);
    expect(r.breakdown.collectives.all_gather).toBeGreaterThan(0);
    expect(r.breakdown.collectives.psum_scatter).toBeGreaterThan(0);
    expect(r.criticalPath.length).toBeGreaterThan(0);
  }, 300_000);

  it('the 1T dense LM on 512 cores fits in HBM with the 2D sharding, and not without it', () => {
    const topo = parseTopology('v3-512');
    const mesh = { data: 16, model: 32 };
    const twoD = estimate(transformerEstimateRequest(dense1t, topo, mesh));
    const megatron = estimate(transformerEstimateRequest({ ...dense1t, sharding: 'megatron' }, topo, mesh));
    const data = estimate(transformerEstimateRequest({ ...dense1t, sharding: 'data' }, topo, mesh));
    for (const r of [twoD, megatron, data]) console.log(`1T on v3-512: ${r.memory.verdict}, MFU ${(r.mfu * 100).toFixed(1)}%`);
    expect(twoD.memory.fits).toBe(true);
    expect(megatron.memory.fits).toBe(false);
    expect(data.memory.fits).toBe(false);
  }, 300_000);

  it('the estimate costs sublinearly more host time from 128 to 2048 cores', () => {
    const small = estimate(transformerEstimateRequest(dense128b, parseTopology('v3-128'), { data: 8, model: 16 }));
    const large = estimate(transformerEstimateRequest(dense128b, parseTopology('v3-2048'), { data: 16, model: 128 }));
    console.log(`CPU seconds: 128 cores ${small.cpuSeconds.toFixed(2)}, 2048 cores ${large.cpuSeconds.toFixed(2)}`);
    expect(large.cores).toBe(2048);
    expect(large.cpuSeconds / small.cpuSeconds).toBeLessThan(2048 / 128);
  }, 300_000);
});
