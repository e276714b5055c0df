/**
 * A GShard-style mixture-of-experts decoder LM (Lepikhin et al. 2021, arXiv 2006.16668):
 * the dense LM's layers with every `moeEvery`-th feed-forward block replaced by E experts
 * and a top-2 gate. Experts are split over one mesh axis, as are the token groups; the
 * dispatch to experts and the combine back are all-to-alls on that axis.
 */
import { z } from 'zod';
import { LM_SHAPE_FIELDS, OPTIMIZERS } from '../transformer/config.js';

export const moeConfigSchema = z
  .object({
    // layers is a multiple of moeEvery (the last layer of each run of moeEvery is MoE);
    // each sequence of the batch is one group of tokens for the gate.
    ...LM_SHAPE_FIELDS,
    experts: z.number().int().positive().default(8),
    /** Every moeEvery-th layer is a MoE layer (GShard: every other layer). */
    moeEvery: z.number().int().positive().default(2),
    /** Expert capacity = ceil(2 · tokens per group · capacityFactor / experts): top-2 sends each token twice. */
    capacityFactor: z.number().positive().default(2),
    /** Weight of GShard's load-balancing loss. */
    auxLossWeight: z.number().nonnegative().default(0.01),
    optimizer: z.enum(OPTIMIZERS).default('adam'),
    learningRate: z.number().positive().default(0.01),
    dtype: z.enum(['f32', 'bf16']).default('f32'),
    /** Mesh axis that splits the experts and the token groups (the batch). */
    expertAxis: z.string().default('data'),
    steps: z.number().int().positive().max(100_000).default(10),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict()
  .refine((c) => c.layers % c.moeEvery === 0, { message: 'layers must be a multiple of moeEvery', path: ['layers'] });

export type MoeConfig = z.infer<typeof moeConfigSchema>;

/** Expert buffer slots per expert and group. */
export function expertCapacity(c: MoeConfig): number {
  return Math.ceil((2 * c.seqLen * c.capacityFactor) / c.experts);
}

function attentionParams(c: MoeConfig): number {
  return 4 * c.modelDim * c.heads * c.kvDim + 4 * c.modelDim;
}

/** Every parameter: embeddings, attention, dense FFNs, experts and gates. */
export function parameterCount(c: MoeConfig): number {
  const moeLayers = c.layers / c.moeEvery;
  const denseLayers = c.layers - moeLayers;
  const ffn = 2 * c.modelDim * c.ffnDim;
  return 2 * c.vocab * c.modelDim + 2 * c.modelDim + c.layers * attentionParams(c) + denseLayers * ffn + moeLayers * (c.experts * ffn + c.modelDim * c.experts);
}

/** Parameters one token uses: each MoE layer's gate and the two experts it is sent to. */
export function activeParameterCount(c: MoeConfig): number {
  const moeLayers = c.layers / c.moeEvery;
  const ffn = 2 * c.modelDim * c.ffnDim;
  return parameterCount(c) - moeLayers * (c.experts - 2) * ffn;
}

/** Model FLOPs of a training step: 6 per active parameter per token, plus attention scores (as the dense LM). */
export function modelFlopsPerStep(c: MoeConfig): number {
  const tokens = c.batch * c.seqLen;
  const attentionScores = c.layers * 2 * 2 * c.seqLen * c.heads * c.kvDim;
  return tokens * (6 * activeParameterCount(c) + 3 * attentionScores);
}
