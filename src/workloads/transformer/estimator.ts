/**
 * The dense LM for `tpusim estimate`: presets for the GSPMD paper's dense LM sizes and the
 * default 2D mesh, batch axis X by model axis Y with Y the larger power of two when the
 * core count is not a square (v3-128 -> [8,16], v3-512 -> [16,32], v3-2048 -> [32,64], the
 * paper's meshes).
 */
import type { Estimator } from '../../coordinator/estimate/estimator.js';
import type { Topology } from '../../tpu/topology.js';
import { type TransformerConfig, transformerConfigSchema } from './config.js';
import { transformerEstimateRequest } from './estimate.js';

/** The paper's dense LM family (REFERENCES.md, GSPMD): 64 layers at M = 8192, and the 1T model. */
export const TRANSFORMER_PRESETS = {
  '128b': { layers: 64, modelDim: 8192, ffnDim: 65536, heads: 128, kvDim: 128, vocab: 32000, batch: 16, seqLen: 1024, dtype: 'bf16' },
  '1t': { layers: 128, modelDim: 16384, ffnDim: 131072, heads: 256, kvDim: 128, vocab: 32000, batch: 16, seqLen: 1024, dtype: 'bf16' },
} as const;

/** [cores / Y, Y] with Y = 2^ceil(log2(cores) / 2). */
export function default2dMesh(cores: number, batchAxis: string, modelAxis: string): Record<string, number> {
  const y = 2 ** Math.ceil(Math.log2(cores) / 2);
  if (cores % y !== 0) return { [batchAxis]: cores, [modelAxis]: 1 };
  return { [batchAxis]: cores / y, [modelAxis]: y };
}

export const transformerEstimator: Estimator<TransformerConfig> = {
  name: 'transformer',
  description: "the GSPMD paper's dense decoder-only LM (2D, Megatron or data-parallel sharding)",
  configSchema: transformerConfigSchema,
  presets: TRANSFORMER_PRESETS,
  defaultMesh: (c: TransformerConfig, t: Topology) => default2dMesh(t.numCores, c.batchAxis, c.modelAxis),
  request: transformerEstimateRequest,
};
