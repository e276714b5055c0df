import { describe, expect, it } from 'vitest';
import type { PodInfo } from '../../../src/coordinator/plugin.js';
import { transformerPlugin, twoAxisSplit } from '../../../src/workloads/transformer/plugin.js';
import { transformerConfigSchema } from '../../../src/workloads/transformer/config.js';

const pod = (numCores: number): PodInfo => ({ numCores }) as PodInfo;

describe('transformer plugin: the mesh it asks for when the submitter names none', () => {
  it('splits the cores into batch x model, the model axis taking the larger share', () => {
    expect(twoAxisSplit(8)).toEqual([2, 4]);
    expect(twoAxisSplit(16)).toEqual([4, 4]);
    expect(twoAxisSplit(12)).toEqual([3, 4]);
    expect(twoAxisSplit(7)).toEqual([1, 7]);
    expect(twoAxisSplit(1)).toEqual([1, 1]);
  });

  it('names the config axes: both for 2d and megatron, the batch axis alone for data', () => {
    const config = transformerConfigSchema.parse({});
    expect(transformerPlugin.mesh!(config, pod(8))).toEqual({ data: 2, model: 4 });
    expect(transformerPlugin.mesh!({ ...config, sharding: 'megatron', batchAxis: 'x', modelAxis: 'y' }, pod(8))).toEqual({ x: 2, y: 4 });
    expect(transformerPlugin.mesh!({ ...config, sharding: 'data' }, pod(8))).toEqual({ data: 8 });
  });
});
