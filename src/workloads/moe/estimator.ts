/** The MoE LM for `tpusim estimate`: experts and token groups over every core by default. */
import type { Estimator } from '../../coordinator/estimate/estimator.js';
import type { Topology } from '../../tpu/topology.js';
import { type MoeConfig, moeConfigSchema } from './config.js';
import { moeEstimateRequest } from './estimate.js';

export const MOE_PRESETS = {
  /** GShard-style: 36 layers, every other one MoE, 512 experts of FFN 8192 at M = 1024. */
  '36l-512e': { layers: 36, moeEvery: 2, modelDim: 1024, ffnDim: 8192, heads: 16, kvDim: 64, vocab: 32000, seqLen: 1024, batch: 512, experts: 512, dtype: 'bf16', optimizer: 'adafactor' },
} as const;

export const moeEstimator: Estimator<MoeConfig> = {
  name: 'moe',
  description: 'a GShard-style mixture-of-experts LM (top-2 gating, experts split, all-to-all dispatch and combine)',
  configSchema: moeConfigSchema,
  presets: MOE_PRESETS,
  defaultMesh: (c: MoeConfig, t: Topology) => ({ [c.expertAxis]: t.numCores }),
  request: moeEstimateRequest,
};
