/**
 * The GSPMD paper's dense decoder-only LM, written with the jnp/nn API and annotated with
 * sharding constraints by a ShardingPlan (./sharding.ts). Pre-norm residual blocks:
 *
 *   x = onehot(tokens) · E                          (the TPU embedding lookup is a matmul)
 *   per layer: x += Attn(LN(x));  x += FFN(LN(x))   (causal multi-head attention; GELU or gated GELU)
 *   logits = LN(x) · Wsoftmax;  loss = mean softmax cross-entropy against the next tokens
 *
 * One training step (./step.ts) is valueAndGrad of the loss plus an optimizer update.
 * The parameter tree is built by one function over leaf makers, so the real weights, their
 * abstract shapes (estimate mode) and their weight kinds (for shardings) line up by
 * construction.
 */
import { type GradientTransformation, adafactor, adam } from '../../program/optim.js';
import * as nn from '../../program/nn.js';
import * as jnp from '../../program/numpy.js';
import * as random from '../../program/random.js';
import type { Tensor } from '../../program/tracer.js';
import type { DType } from '../../tpu/dtype.js';
import type { AbstractValue } from '../../tpu/tensor.js';
import type { TransformerConfig } from './config.js';
import type { ShardingPlan, WeightKind } from './sharding.js';

export interface NormParams<L> {
  readonly scale: L;
  readonly bias: L;
}

export interface LayerParams<L> {
  readonly ln1: NormParams<L>;
  readonly wq: L;
  readonly wk: L;
  readonly wv: L;
  readonly wo: L;
  readonly ln2: NormParams<L>;
  /** [wi] for GELU, [wi0, wi1] for gated GELU; each [M, H]. */
  readonly wi: readonly L[];
  readonly wf: L;
}

export interface TransformerParams<L = Tensor> {
  readonly embedding: L;
  readonly layers: readonly LayerParams<L>[];
  readonly lnFinal: NormParams<L>;
  readonly softmax: L;
}

/** What a leaf maker is told about each parameter. */
export interface ParamSlot {
  readonly kind: WeightKind;
  readonly shape: readonly number[];
  /** Fan-in for the initializer's scale; 0 for norm parameters. */
  readonly fanIn: number;
  /** Norm scales start at one, norm biases at zero. */
  readonly init: 'normal' | 'ones' | 'zeros';
  /** A stable name, `layers.3.wq`. */
  readonly name: string;
}

/** The parameter tree with each leaf made by `leaf`. */
export function buildParams<L>(c: TransformerConfig, leaf: (slot: ParamSlot) => L): TransformerParams<L> {
  const { modelDim: m, ffnDim: h, heads: n, kvDim: d, vocab: v } = c;
  const norm = (name: string): NormParams<L> => ({
    scale: leaf({ kind: 'norm', shape: [m], fanIn: 0, init: 'ones', name: `${name}.scale` }),
    bias: leaf({ kind: 'norm', shape: [m], fanIn: 0, init: 'zeros', name: `${name}.bias` }),
  });
  const layers: LayerParams<L>[] = [];
  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}`;
    const qkv = (w: string): L => leaf({ kind: 'qkv', shape: [m, n, d], fanIn: m, init: 'normal', name: `${p}.${w}` });
    layers.push({
      ln1: norm(`${p}.ln1`),
      wq: qkv('wq'),
      wk: qkv('wk'),
      wv: qkv('wv'),
      wo: leaf({ kind: 'attnOut', shape: [n, d, m], fanIn: n * d, init: 'normal', name: `${p}.wo` }),
      ln2: norm(`${p}.ln2`),
      wi: (c.gatedGelu ? ['wi0', 'wi1'] : ['wi']).map((w) => leaf({ kind: 'ffnIn', shape: [m, h], fanIn: m, init: 'normal', name: `${p}.${w}` })),
      wf: leaf({ kind: 'ffnOut', shape: [h, m], fanIn: h, init: 'normal', name: `${p}.wf` }),
    });
  }
  return {
    embedding: leaf({ kind: 'embedding', shape: [v, m], fanIn: 1, init: 'normal', name: 'embedding' }),
    layers,
    lnFinal: norm('lnFinal'),
    softmax: leaf({ kind: 'softmax', shape: [m, v], fanIn: m, init: 'normal', name: 'softmax' }),
  };
}

/** Abstract parameters: shapes and dtypes only (estimate mode never allocates them). */
export function abstractParams(c: TransformerConfig): TransformerParams<AbstractValue> {
  return buildParams(c, (s) => ({ shape: [...s.shape], dtype: c.dtype as DType }));
}

/**
 * A leaf maker that initializes parameters as lingvo does: N(0, 1/fan_in) weights (the
 * embedding's fan-in is 1: unit variance), norm scales 1 and biases 0. Keys are split off
 * `key` in the order the tree builder asks for leaves, so a seed fixes every parameter.
 */
export function lingvoInitializer(
  dtype: DType,
  key: random.Key,
): (slot: { readonly shape: readonly number[]; readonly fanIn: number; readonly init: ParamSlot['init'] }) => Tensor {
  let k = key;
  return (s) => {
    if (s.init === 'ones') return jnp.ones(s.shape, dtype);
    if (s.init === 'zeros') return jnp.zeros(s.shape, dtype);
    const [next, sub] = random.splitKeys(k, 2);
    k = next!;
    return jnp.astype(jnp.multiply(random.normal(sub!, s.shape, 'f32'), 1 / Math.sqrt(s.fanIn)), dtype);
  };
}

/** Real parameters, initialized as lingvo does. */
export function initParams(c: TransformerConfig, key: random.Key): TransformerParams {
  return buildParams(c, lingvoInitializer(c.dtype as DType, key));
}

export function layerNorm(p: NormParams<Tensor>, x: Tensor): Tensor {
  return nn.layerNorm.apply(p, x);
}

/** Pre-norm causal multi-head self-attention: the block's residual update. */
export function attention(c: Pick<TransformerConfig, 'kvDim'>, plan: ShardingPlan, p: Pick<LayerParams<Tensor>, 'ln1' | 'wq' | 'wk' | 'wv' | 'wo'>, x: Tensor, mask: Tensor): Tensor {
  const h = layerNorm(p.ln1, x);
  const q = plan.constrain(jnp.einsum('bsm,mnd->bsnd', h, p.wq), 'heads');
  const k = plan.constrain(jnp.einsum('bsm,mnd->bsnd', h, p.wk), 'heads');
  const v = plan.constrain(jnp.einsum('bsm,mnd->bsnd', h, p.wv), 'heads');
  const scores = plan.constrain(jnp.einsum('bqnd,bknd->bnqk', jnp.multiply(q, 1 / Math.sqrt(c.kvDim)), k), 'scores');
  const masked = jnp.where(mask, scores, jnp.full([], -1e9, scores.dtype));
  const probs = plan.constrain(nn.softmax(masked, -1), 'scores');
  const o = plan.constrain(jnp.einsum('bnqk,bknd->bqnd', probs, v), 'heads');
  return plan.constrain(jnp.einsum('bqnd,ndm->bqm', o, p.wo), 'residual');
}

/** Pre-norm feed-forward (GELU, or gated GELU with two input matrices): the block's residual update. */
export function feedForward(plan: ShardingPlan, p: Pick<LayerParams<Tensor>, 'ln2' | 'wi' | 'wf'>, x: Tensor): Tensor {
  const h = layerNorm(p.ln2, x);
  const proj = p.wi.map((w) => plan.constrain(jnp.einsum('bsm,mh->bsh', h, w), 'hidden'));
  const act = proj.length === 2 ? jnp.multiply(nn.gelu(proj[0]!), proj[1]!) : nn.gelu(proj[0]!);
  return plan.constrain(jnp.einsum('bsh,hm->bsm', plan.constrain(act, 'hidden'), p.wf), 'residual');
}

/** Mean next-token cross-entropy of `targets` [B, S] given `tokens` [B, S] (both i32). */
export function lossFn(c: TransformerConfig, plan: ShardingPlan, params: TransformerParams, tokens: Tensor, targets: Tensor): Tensor {
  const dtype = c.dtype as DType;
  const oneHot = plan.constrain(jnp.oneHot(plan.constrain(tokens, 'tokens'), c.vocab, { dtype }), 'logits');
  let x = plan.constrain(jnp.einsum('bsv,vm->bsm', oneHot, params.embedding), 'residual');
  const mask = nn.makeCausalMask(c.seqLen);
  for (const layer of params.layers) {
    x = plan.constrain(jnp.add(x, attention(c, plan, layer, x, mask)), 'residual');
    x = plan.constrain(jnp.add(x, feedForward(plan, layer, x)), 'residual');
  }
  const logits = plan.constrain(jnp.einsum('bsm,mv->bsv', layerNorm(params.lnFinal, x), params.softmax), 'logits');
  const labels = plan.constrain(jnp.oneHot(targets, c.vocab, { dtype: 'f32' }), 'logits');
  const logProbs = nn.logSoftmax(jnp.astype(logits, 'f32'), -1);
  return jnp.negative(jnp.mean(jnp.sum(jnp.multiply(labels, logProbs), { axis: -1 })));
}

export function optimizerFor(c: Pick<TransformerConfig, 'optimizer' | 'learningRate'>): GradientTransformation {
  return c.optimizer === 'adam' ? adam(c.learningRate) : adafactor(c.learningRate);
}
