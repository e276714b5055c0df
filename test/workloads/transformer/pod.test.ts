/**
 * The LM workloads on a real pod (worker-thread actors, shared arenas, the collectives
 * communicator): the sharded jit partitions the step and every core runs it with its
 * collectives; the loss goes down, and the pod's simulated clock advances by the step
 * time the cost model priced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pod } from '../../../src/coordinator/pod.js';
import { parseConfig } from '../../../src/coordinator/plugin.js';
import { moePlugin } from '../../../src/workloads/moe/plugin.js';
import { builtinWorkloads } from '../../../src/workloads/registry.js';
import { transformerPlugin } from '../../../src/workloads/transformer/plugin.js';
import { ensureBuilt, hooks } from '../../coordinator/helpers.js';

describe('LM workloads on a v3-8 pod', () => {
  let pod: Pod;
  beforeAll(async () => {
    ensureBuilt();
    pod = await Pod.start({ topology: 'v3-8', mesh: { data: 2, model: 4 }, hbmBytesPerCore: 64 * 1024 ** 2 });
  });
  afterAll(async () => {
    await pod?.close();
  });

  it('are registered with defaulted configs', () => {
    expect(builtinWorkloads.get('transformer')).toBe(transformerPlugin);
    expect(builtinWorkloads.get('moe')).toBe(moePlugin);
    expect(builtinWorkloads.has('estimate')).toBe(true);
    expect(parseConfig(transformerPlugin, {}).sharding).toBe('2d');
    expect(() => parseConfig(transformerPlugin, { sharding: 'zigzag' })).toThrow(/config\.sharding/);
  });

  it('transformer (2D sharding): the loss decreases, and the pod clock advances by the priced step', async () => {
    const config = parseConfig(transformerPlugin, { layers: 2, seqLen: 8, batch: 4, steps: 6, optimizer: 'adam' });
    const before = pod.stats().simulatedSeconds;
    const h = hooks();
    const r = await pod.runJob({ id: 'lm-2d', plugin: transformerPlugin, config }, h);
    console.log('pod transformer losses', r.losses.map((l) => l.toFixed(4)).join(' '));
    expect(h.progress).toHaveLength(6);
    expect((r.losses[4]! + r.losses[5]!) / 2).toBeLessThan(r.losses[0]! * 0.85);
    const perStep = (pod.stats().simulatedSeconds - before) / 6;
    console.log('pod step', perStep, 'priced', r.stepSeconds);
    expect(Math.abs(perStep - r.stepSeconds) / r.stepSeconds).toBeLessThan(0.01);
  });

  it('moe: all-to-all dispatch on the pod, and the loss decreases', async () => {
    const config = parseConfig(moePlugin, { layers: 2, modelDim: 16, ffnDim: 32, heads: 2, seqLen: 8, batch: 8, experts: 8, steps: 6 });
    const r = await pod.runJob({ id: 'moe', plugin: moePlugin, config: { ...config, expertAxis: 'data' } }, hooks());
    console.log('pod moe losses', r.losses.map((l) => l.toFixed(4)).join(' '));
    expect((r.losses[4]! + r.losses[5]!) / 2).toBeLessThan(r.losses[0]! * 0.85);
  });
});
