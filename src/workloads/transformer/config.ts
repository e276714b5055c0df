/**
 * The dense decoder-only LM of the GSPMD paper (Xu et al. 2021, §5; lingvo's synthetic
 * LM configs): L layers of causal self-attention and a feed-forward block, model dim M,
 * FFN dim H, heads N of dim D ("kv dim"), vocab V. Shapes only: the config fixes every
 * parameter and activation shape, and the sharding strategy fixes their layouts.
 */
import { z } from 'zod';

export const SHARDING_STRATEGIES = ['2d', 'data', 'megatron'] as const;
export type ShardingStrategy = (typeof SHARDING_STRATEGIES)[number];

export const OPTIMIZERS = ['adafactor', 'adam'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The LM's shape fields, shared by the dense and the MoE configs (small defaults that train in seconds). */
export const LM_SHAPE_FIELDS = {
  layers: z.number().int().positive().default(2),
  modelDim: z.number().int().positive().default(32),
  ffnDim: z.number().int().positive().default(64),
  heads: z.number().int().positive().default(4),
  kvDim: z.number().int().positive().default(8),
  vocab: z.number().int().positive().default(32),
  seqLen: z.number().int().positive().default(16),
  /** Global batch, in sequences. */
  batch: z.number().int().positive().default(8),
};

export const transformerConfigSchema = z
  .object({
    ...LM_SHAPE_FIELDS,
    /** Gated GELU FFN (T5.1.1 / lingvo's gated_gelu): gelu(x·Wi0) ⊙ (x·Wi1) · Wo. */
    gatedGelu: z.boolean().default(false),
    optimizer: z.enum(OPTIMIZERS).default('adafactor'),
    learningRate: z.number().positive().default(0.01),
    /** Weights, activations and gradients (the paper trains in bfloat16). */
    dtype: z.enum(['f32', 'bf16']).default('f32'),
    sharding: z.enum(SHARDING_STRATEGIES).default('2d'),
    /** Mesh axis that splits the batch (the paper's X). */
    batchAxis: z.string().default('data'),
    /** Mesh axis that splits the model dims (the paper's Y). */
    modelAxis: z.string().default('model'),
    steps: z.number().int().positive().max(100_000).default(10),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict();

export type TransformerConfig = z.infer<typeof transformerConfigSchema>;

/** Parameters of the model: embeddings, per-layer weights, final norm and softmax. */
export function parameterCount(c: TransformerConfig): number {
  const attention = 4 * c.modelDim * c.heads * c.kvDim;
  const ffn = (c.gatedGelu ? 3 : 2) * c.modelDim * c.ffnDim;
  const norms = 2 * 2 * c.modelDim;
  return 2 * c.vocab * c.modelDim + c.layers * (attention + ffn + norms) + 2 * c.modelDim;
}

/**
 * Model FLOPs of one training step (forward + backward): 6 per parameter per token
 * (REFERENCES.md, "Model FLOPs utilization"), plus the attention scores and their use,
 * 2·S·N·D per token forward for each of QKᵀ and PV (× 3 for the backward; halved by
 * causality is not credited, as the matmuls are dense).
 */
export function modelFlopsPerStep(c: TransformerConfig): number {
  const tokens = c.batch * c.seqLen;
  const attentionScores = c.layers * 2 * 2 * c.seqLen * c.heads * c.kvDim;
  return tokens * (6 * parameterCount(c) + 3 * attentionScores);
}

export function tokensPerStep(c: TransformerConfig): number {
  return c.batch * c.seqLen;
}
