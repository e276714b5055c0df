/**
 * Layers in the functional flax/haiku manner: each is `init(key, ...sizes) -> params` (a
 * pytree of Tensors) plus `apply(params, x, ...)`. Parameter names follow flax (kernel,
 * bias, embedding) so checkpoints read the same.
 */
import type { DType } from '../../tpu/dtype.js';
import type { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import * as jnp from '../numpy.js';
import * as random from '../random.js';
import { type Initializer, lecunNormal, varianceScaling, zeros } from './initializers.js';

/** A kernel, with a bias unless the layer was built without one. */
export type KernelParams = { readonly kernel: Tensor } | { readonly kernel: Tensor; readonly bias: Tensor };

function biasOf(p: KernelParams): Tensor | undefined {
  return 'bias' in p ? p.bias : undefined;
}

export interface DenseOptions {
  readonly useBias?: boolean;
  readonly dtype?: DType;
  readonly kernelInit?: Initializer;
  readonly biasInit?: Initializer;
}

/** flax.linen.Dense: y = x @ kernel + bias over the last axis. */
export const dense = {
  init(key: random.Key, inFeatures: number, outFeatures: number, o: DenseOptions = {}): KernelParams {
    const [kk, kb] = random.splitKeys(key);
    const kernel = (o.kernelInit ?? lecunNormal())(kk!, [inFeatures, outFeatures], o.dtype ?? 'f32');
    if (o.useBias === false) return { kernel };
    return { kernel, bias: (o.biasInit ?? zeros)(kb!, [outFeatures], o.dtype ?? 'f32') };
  },
  apply(params: KernelParams, x: Tensor): Tensor {
    const k = params.kernel;
    if (x.shape[x.ndim - 1] !== k.shape[0]) {
      throw new RangeError(`dense: input ${x} does not match kernel ${k} (last dim must be ${k.shape[0]})`);
    }
    const y = jnp.matmul(x, k);
    const b = biasOf(params);
    return b ? jnp.add(y, b) : y;
  },
};

export interface Conv2dOptions extends DenseOptions {
  readonly strides?: readonly [number, number];
  readonly padding?: lax.Padding;
  readonly dilation?: readonly [number, number];
  readonly featureGroupCount?: number;
}

/** flax.linen.Conv in 2-D: NHWC inputs, HWIO kernels, 'SAME' padding by default. */
export const conv2d = {
  init(
    key: random.Key,
    inFeatures: number,
    outFeatures: number,
    kernelSize: readonly [number, number],
    o: Pick<Conv2dOptions, 'useBias' | 'dtype' | 'kernelInit' | 'biasInit' | 'featureGroupCount'> = {},
  ): KernelParams {
    const [kk, kb] = random.splitKeys(key);
    const groups = o.featureGroupCount ?? 1;
    const kernel = (o.kernelInit ?? lecunNormal())(kk!, [...kernelSize, inFeatures / groups, outFeatures], o.dtype ?? 'f32');
    if (o.useBias === false) return { kernel };
    return { kernel, bias: (o.biasInit ?? zeros)(kb!, [outFeatures], o.dtype ?? 'f32') };
  },
  apply(params: KernelParams, x: Tensor, o: Pick<Conv2dOptions, 'strides' | 'padding' | 'dilation' | 'featureGroupCount'> = {}): Tensor {
    if (x.ndim !== 4) throw new RangeError(`conv2d: input ${x} must be NHWC (rank 4)`);
    const y = lax.convGeneralDilated(x, params.kernel, {
      windowStrides: o.strides ?? [1, 1],
      padding: o.padding ?? 'SAME',
      rhsDilation: o.dilation ?? [1, 1],
      dimensionNumbers: ['NHWC', 'HWIO', 'NHWC'],
      featureGroupCount: o.featureGroupCount ?? 1,
    });
    const b = biasOf(params);
    return b ? jnp.add(y, b) : y;
  },
};

export type EmbeddingParams = { readonly embedding: Tensor };

/** flax.linen.Embed: a [numEmbeddings, features] table. */
export const embedding = {
  init(key: random.Key, numEmbeddings: number, features: number, { dtype = 'f32' as DType, init }: { dtype?: DType; init?: Initializer } = {}): EmbeddingParams {
    // flax's default_embed_init: variance_scaling(1.0, 'fan_in', 'normal', out_axis=0).
    const f = init ?? varianceScaling(1, 'fan_in', 'normal', { outAxis: 0 });
    return { embedding: f(key, [numEmbeddings, features], dtype) };
  },
  /** Looks up the rows of `ids` (i32): the result has shape ids.shape + [features]. */
  apply(params: EmbeddingParams, ids: Tensor): Tensor {
    if (ids.dtype !== 'i32') throw new TypeError(`embedding: ids must be i32, got ${ids}`);
    return jnp.take(params.embedding, ids, 0);
  },
  /** Embed.attend: query @ embedding^T, e.g. tied output logits. */
  attend(params: EmbeddingParams, query: Tensor): Tensor {
    return jnp.matmul(query, jnp.transpose(params.embedding));
  },
};

/**
 * flax.linen.Dropout with an explicit key: zeroes each element with probability `rate` and
 * scales the rest by 1 / (1 - rate). Deterministic (evaluation) passes x through.
 */
export function dropout(key: random.Key, rate: number, x: Tensor, deterministic = false): Tensor {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`dropout: rate ${rate} must be in [0, 1]`);
  if (deterministic || rate === 0) return x;
  if (rate === 1) return jnp.zerosLike(x);
  const keep = random.bernoulli(key, 1 - rate, x.shape);
  return jnp.where(keep, jnp.divide(x, 1 - rate), 0);
}
