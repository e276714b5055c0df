/**
 * Attention in the manner of flax.linen: `dotProductAttention` on [batch, length, heads,
 * head_dim] projections, `multiHeadAttention` with DenseGeneral-shaped projection kernels,
 * and the mask helpers (`makeCausalMask`, `makeAttentionMask`).
 */
import type { DType } from '../../tpu/dtype.js';
import type { Tensor } from '../tracer.js';
import * as jnp from '../numpy.js';
import * as random from '../random.js';
import { softmax } from './activations.js';
import { type Initializer, lecunNormal, zeros } from './initializers.js';

/** The most negative finite value of `dtype` (jnp.finfo(dtype).min): masked logits get it. */
function finfoMin(dtype: DType): number {
  return dtype === 'bf16' ? -3.3895313892515355e38 : -3.4028234663852886e38;
}

export interface AttentionOptions {
  /** Bool, broadcastable to [batch, heads, q_length, kv_length]; false entries are masked out. */
  readonly mask?: Tensor;
  /** Added to the logits, broadcastable to [batch, heads, q_length, kv_length]. */
  readonly bias?: Tensor;
}

/** Softmax(q k^T / sqrt(d)) over the keys, for q [B, Q, H, D] and k [B, K, H, D]: weights [B, H, Q, K]. */
export function dotProductAttentionWeights(query: Tensor, key: Tensor, o: AttentionOptions = {}): Tensor {
  if (query.ndim !== 4 || key.ndim !== 4) {
    throw new RangeError(`dot_product_attention: query ${query} and key ${key} must be [batch, length, heads, head_dim]`);
  }
  const depth = query.shape[3]!;
  const q = jnp.divide(query, Math.sqrt(depth));
  let logits = jnp.einsum('bqhd,bkhd->bhqk', q, key);
  if (o.bias) logits = jnp.add(logits, o.bias);
  if (o.mask) logits = jnp.where(o.mask, logits, finfoMin(logits.dtype));
  return softmax(logits, -1);
}

/** flax's dot_product_attention: weights applied to value [B, K, H, D], giving [B, Q, H, D]. */
export function dotProductAttention(query: Tensor, key: Tensor, value: Tensor, o: AttentionOptions = {}): Tensor {
  const weights = dotProductAttentionWeights(query, key, o);
  return jnp.einsum('bhqk,bkhd->bqhd', weights, value);
}

/** A lower-triangular bool mask [1, 1, L, L]: query i sees keys 0..i. */
export function makeCausalMask(length: number): Tensor {
  const idx = jnp.arange(length);
  return jnp.reshape(jnp.greaterEqual(jnp.reshape(idx, [length, 1]), jnp.reshape(idx, [1, length])), [1, 1, length, length]);
}

/** flax.linen.make_attention_mask from per-position validity: [B, Q] and [B, K] -> [B, 1, Q, K]. */
export function makeAttentionMask(queryValid: Tensor, keyValid: Tensor): Tensor {
  const q = jnp.expandDims(jnp.expandDims(queryValid, -1), 1);
  const k = jnp.expandDims(jnp.expandDims(keyValid, -2), 1);
  return jnp.logicalAnd(q, k);
}

/** Projection parameters of DenseGeneral shape: kernel [in, heads, head_dim] (or [heads, head_dim, out] for `out`). */
export type ProjectionParams = { readonly kernel: Tensor; readonly bias: Tensor };
export type MultiHeadAttentionParams = {
  readonly query: ProjectionParams;
  readonly key: ProjectionParams;
  readonly value: ProjectionParams;
  readonly out: ProjectionParams;
};

export interface MultiHeadAttentionConfig {
  readonly numHeads: number;
  /** Features of the query input. */
  readonly inFeatures: number;
  /** Features of the key/value input (default: inFeatures). */
  readonly kvFeatures?: number;
  /** Total projection width, split across heads (default: inFeatures). */
  readonly qkvFeatures?: number;
  /** Output features (default: inFeatures). */
  readonly outFeatures?: number;
  readonly dtype?: DType;
  readonly kernelInit?: Initializer;
}

/** flax.linen.MultiHeadDotProductAttention. */
export const multiHeadAttention = {
  init(key: random.Key, c: MultiHeadAttentionConfig): MultiHeadAttentionParams {
    const qkv = c.qkvFeatures ?? c.inFeatures;
    if (qkv % c.numHeads !== 0) {
      throw new RangeError(`multi_head_attention: qkvFeatures ${qkv} must be divisible by numHeads ${c.numHeads}`);
    }
    const headDim = qkv / c.numHeads;
    const dtype = c.dtype ?? 'f32';
    const kvIn = c.kvFeatures ?? c.inFeatures;
    const out = c.outFeatures ?? c.inFeatures;
    const init = c.kernelInit ?? lecunNormal();
    const [kq, kk, kv, ko] = random.splitKeys(key, 4);
    // DenseGeneral flattens the in-axes and out-axes to compute fans; reshaping a 2-D draw gives the same scale.
    const proj = (k: random.Key, inF: number): ProjectionParams => ({
      kernel: jnp.reshape(init(k, [inF, qkv], dtype), [inF, c.numHeads, headDim]),
      bias: zeros(k, [c.numHeads, headDim], dtype),
    });
    return {
      query: proj(kq!, c.inFeatures),
      key: proj(kk!, kvIn),
      value: proj(kv!, kvIn),
      out: {
        kernel: jnp.reshape(init(ko!, [qkv, out], dtype), [c.numHeads, headDim, out]),
        bias: zeros(ko!, [out], dtype),
      },
    };
  },
  /**
   * Attends from `inputsQ` [B, Q, F] to `inputsKV` [B, K, F'] (self-attention without it).
   * Returns [B, Q, outFeatures].
   */
  apply(params: MultiHeadAttentionParams, inputsQ: Tensor, inputsKV?: Tensor, o: AttentionOptions = {}): Tensor {
    const kvIn = inputsKV ?? inputsQ;
    const project = (p: ProjectionParams, x: Tensor): Tensor => jnp.add(jnp.einsum('bld,dhk->blhk', x, p.kernel), p.bias);
    const q = project(params.query, inputsQ);
    const k = project(params.key, kvIn);
    const v = project(params.value, kvIn);
    const attended = dotProductAttention(q, k, v, o);
    return jnp.add(jnp.einsum('bqhd,hdo->bqo', attended, params.out.kernel), params.out.bias);
  },
};
