import { describe, expect, it } from 'vitest';
import { estimate } from '../../../src/coordinator/estimate/estimate.js';
import { transformerConfigSchema } from '../../../src/workloads/transformer/config.js';
import { transformerEstimateRequest } from '../../../src/workloads/transformer/estimate.js';
import { createDeviceMesh } from '../../../src/gspmd/mesh.js';
import * as random from '../../../src/program/random.js';
import type { PyTree } from '../../../src/program/pytree.js';
import type { Tensor } from '../../../src/program/tracer.js';
import { parseTopology } from '../../../src/tpu/topology.js';
import { initParams } from '../../../src/workloads/transformer/model.js';
import { transformerStep } from '../../../src/workloads/transformer/step.js';
import { LockstepTrainer } from '../../../src/workloads/transformer/train.js';

const small = transformerConfigSchema.parse({ layers: 2, modelDim: 32, ffnDim: 64, heads: 4, kvDim: 8, vocab: 32, seqLen: 8, batch: 4, learningRate: 0.01, optimizer: 'adam' });

describe('transformer: real training on 8 cores (2D sharding)', () => {
  it('the loss decreases, and estimate mode agrees with execution on step time within 1%', () => {
    const topology = parseTopology('v3-8');
    const step = transformerStep(small, createDeviceMesh(topology, { data: 2, model: 4 }));
    const params = initParams(small, random.key(small.seed)) as unknown as PyTree<Tensor>;
    const trainer = new LockstepTrainer(step, params, topology, small);
    const outcomes = Array.from({ length: 6 }, () => trainer.next());
    const losses = outcomes.map((o) => o.loss);
    console.log('losses', losses.map((l) => l.toFixed(4)).join(' '));
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    const lastTwo = (losses[losses.length - 1]! + losses[losses.length - 2]!) / 2;
    expect(lastTwo).toBeLessThan(losses[0]! * 0.85);

    const report = estimate({ ...transformerEstimateRequest(small, trainer.topology, { data: 2, model: 4 }), blocks: undefined });
    const executed = outcomes[0]!.stepSeconds;
    console.log('executed', executed, 'estimated', report.stepSeconds);
    expect(Math.abs(report.stepSeconds - executed) / executed).toBeLessThan(0.01);
  });

  it('every sharding strategy computes the same first-step loss', () => {
    const topology = parseTopology('v3-8');
    const losses = (['2d', 'megatron', 'data'] as const).map((sharding) => {
      const c = { ...small, sharding };
      const step = transformerStep(c, createDeviceMesh(topology, { data: 2, model: 4 }));
      const params = initParams(c, random.key(c.seed)) as unknown as PyTree<Tensor>;
      return new LockstepTrainer(step, params, topology, c).next().loss;
    });
    expect(losses[1]).toBeCloseTo(losses[0]!, 4);
    expect(losses[2]).toBeCloseTo(losses[0]!, 4);
  });
});
