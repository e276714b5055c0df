/**
 * The MoE LM (GShard, arXiv 2006.16668, §2 and Algorithm 1), in the dense einsum form GShard
 * gives for SPMD partitioning. Token groups G are the sequences; in a MoE layer:
 *
 *   gates    = softmax(x · Wg)                              [G, S, E]
 *   top-2    = argmax, then argmax again without the first; each expert takes at most C
 *              tokens per group, in order (a cumsum over the group gives each its slot)
 *   combine  = g1·onehot(e1)·onehot(slot1) + g2·onehot(e2)·onehot(slot2)   [G, S, E, C]
 *   dispatch = combine > 0
 *   inputs   = einsum(GSEC, GSM -> GECM), transposed to EGCM: groups split -> experts split, an all-to-all
 *   outputs  = expert FFN per E            (Wi [E, M, H], Wo [E, H, M], split over E)
 *   y        = einsum(GSEC, GECM -> GSM) after the transpose back: another all-to-all
 *
 * plus GShard's load-balancing loss, mean over experts of (mean gate) x (fraction routed).
 * Attention and the dense layers are the dense LM's (../transformer/model.ts), data
 * parallel over the expert axis.
 */
import type { Mesh } from '../../gspmd/mesh.js';
import { NamedSharding, P, type PartitionSpec } from '../../gspmd/sharding.js';
import { withShardingConstraint } from '../../gspmd/annotations.js';
import * as lax from '../../program/lax.js';
import * as nn from '../../program/nn.js';
import * as jnp from '../../program/numpy.js';
import * as random from '../../program/random.js';
import type { Tensor } from '../../program/tracer.js';
import type { DType } from '../../tpu/dtype.js';
import type { AbstractValue } from '../../tpu/tensor.js';
import { type NormParams, attention, feedForward, layerNorm, lingvoInitializer } from '../transformer/model.js';
import { type ShardingPlan, type WeightKind, dataParallelPlan } from '../transformer/sharding.js';
import { type MoeConfig, expertCapacity } from './config.js';

export type MoeWeightKind = WeightKind | 'gate' | 'expertIn' | 'expertOut';

export interface MoeSlot {
  readonly kind: MoeWeightKind;
  readonly shape: readonly number[];
  readonly fanIn: number;
  readonly init: 'normal' | 'ones' | 'zeros';
}

export interface ExpertParams<L> {
  /** [M, E] */
  readonly gate: L;
  /** [E, M, H] */
  readonly wi: L;
  /** [E, H, M] */
  readonly wo: L;
}

export interface MoeLayerParams<L> {
  readonly ln1: NormParams<L>;
  readonly wq: L;
  readonly wk: L;
  readonly wv: L;
  readonly wo: L;
  readonly ln2: NormParams<L>;
  /** A dense FFN ({wi: [W], wf}) or experts. */
  readonly dense?: { readonly wi: readonly L[]; readonly wf: L };
  readonly moe?: ExpertParams<L>;
}

export interface MoeParams<L = Tensor> {
  readonly embedding: L;
  readonly layers: readonly MoeLayerParams<L>[];
  readonly lnFinal: NormParams<L>;
  readonly softmax: L;
}

export function isMoeLayer(c: MoeConfig, l: number): boolean {
  return (l + 1) % c.moeEvery === 0;
}

export function buildMoeParams<L>(c: MoeConfig, leaf: (slot: MoeSlot) => L): MoeParams<L> {
  const { modelDim: m, ffnDim: h, heads: n, kvDim: d, vocab: v, experts: e } = c;
  const norm = (): NormParams<L> => ({
    scale: leaf({ kind: 'norm', shape: [m], fanIn: 0, init: 'ones' }),
    bias: leaf({ kind: 'norm', shape: [m], fanIn: 0, init: 'zeros' }),
  });
  const layers: MoeLayerParams<L>[] = [];
  for (let l = 0; l < c.layers; l++) {
    const qkv = (): L => leaf({ kind: 'qkv', shape: [m, n, d], fanIn: m, init: 'normal' });
    const attn = { ln1: norm(), wq: qkv(), wk: qkv(), wv: qkv(), wo: leaf({ kind: 'attnOut', shape: [n, d, m], fanIn: n * d, init: 'normal' }), ln2: norm() };
    layers.push(
      isMoeLayer(c, l)
        ? {
            ...attn,
            moe: {
              gate: leaf({ kind: 'gate', shape: [m, e], fanIn: m, init: 'normal' }),
              wi: leaf({ kind: 'expertIn', shape: [e, m, h], fanIn: m, init: 'normal' }),
              wo: leaf({ kind: 'expertOut', shape: [e, h, m], fanIn: h, init: 'normal' }),
            },
          }
        : { ...attn, dense: { wi: [leaf({ kind: 'ffnIn', shape: [m, h], fanIn: m, init: 'normal' })], wf: leaf({ kind: 'ffnOut', shape: [h, m], fanIn: h, init: 'normal' }) } },
    );
  }
  return {
    embedding: leaf({ kind: 'embedding', shape: [v, m], fanIn: 1, init: 'normal' }),
    layers,
    lnFinal: norm(),
    softmax: leaf({ kind: 'softmax', shape: [m, v], fanIn: m, init: 'normal' }),
  };
}

export function abstractMoeParams(c: MoeConfig): MoeParams<AbstractValue> {
  return buildMoeParams(c, (s) => ({ shape: [...s.shape], dtype: c.dtype as DType }));
}

export function initMoeParams(c: MoeConfig, key: random.Key): MoeParams {
  return buildMoeParams(c, lingvoInitializer(c.dtype as DType, key));
}

/** The layouts: dense parts data parallel over the expert axis; experts split over it. */
export interface MoePlan {
  readonly dense: ShardingPlan;
  weight(kind: MoeWeightKind): PartitionSpec;
  /** [E, G, C, M] and [E, G, C, H]: experts split. */
  constrainExperts(x: Tensor): Tensor;
  /** [G, S, E, C] and [G, S, M]: groups split. */
  constrainGroups(x: Tensor): Tensor;
}

export function moePlan(mesh: Mesh, expertAxis: string): MoePlan {
  const dense = dataParallelPlan(mesh, [expertAxis]);
  const byExpert = new NamedSharding(mesh, P(expertAxis));
  const byGroup = new NamedSharding(mesh, P(expertAxis));
  return {
    dense,
    weight: (k) => (k === 'expertIn' || k === 'expertOut' ? P(expertAxis, null, null) : k === 'gate' ? P(null, null) : dense.weight(k)),
    constrainExperts: (x) => withShardingConstraint(x, byExpert),
    constrainGroups: (x) => withShardingConstraint(x, byGroup),
  };
}

/** The top-2 routing of GShard's Algorithm 1: combine weights [G, S, E, C] and the load-balancing loss. */
export function top2Routing(c: MoeConfig, plan: MoePlan, x: Tensor, gate: Tensor): { combine: Tensor; auxLoss: Tensor } {
  const e = c.experts;
  const capacity = expertCapacity(c);
  const gates = nn.softmax(jnp.astype(jnp.einsum('gsm,me->gse', x, gate), 'f32'), -1);
  const mask1 = jnp.oneHot(jnp.argmax(gates, -1), e, { dtype: 'f32' });
  const gatesWithout1 = jnp.multiply(gates, jnp.subtract(1, mask1));
  const mask2 = jnp.oneHot(jnp.argmax(gatesWithout1, -1), e, { dtype: 'f32' });
  // Load balance (GShard eq. 4): mean gate per expert times the fraction of tokens whose first choice it is.
  const meanGate = jnp.mean(gates, { axis: 1 });
  const routed = jnp.mean(mask1, { axis: 1 });
  const auxLoss = jnp.multiply(jnp.mean(jnp.sum(jnp.multiply(meanGate, routed), { axis: -1 })), e);
  // Slots: the position of each token among those its expert takes in this group, first choices first.
  const slot1 = jnp.subtract(lax.cumsum(mask1, 1), 1);
  const keep1 = jnp.multiply(mask1, jnp.astype(jnp.less(slot1, capacity), 'f32'));
  const taken = jnp.sum(keep1, { axis: 1, keepdims: true });
  const slot2 = jnp.add(jnp.subtract(lax.cumsum(mask2, 1), 1), taken);
  const keep2 = jnp.multiply(mask2, jnp.astype(jnp.less(slot2, capacity), 'f32'));
  const g1 = jnp.sum(jnp.multiply(gates, keep1), { axis: -1 });
  const g2 = jnp.sum(jnp.multiply(gates, keep2), { axis: -1 });
  const norm = jnp.maximum(jnp.add(jnp.sum(jnp.multiply(gates, mask1), { axis: -1 }), jnp.sum(jnp.multiply(gates, mask2), { axis: -1 })), 1e-9);
  const position = (slot: Tensor, keep: Tensor): Tensor => jnp.oneHot(jnp.astype(jnp.sum(jnp.multiply(slot, keep), { axis: -1 }), 'i32'), capacity, { dtype: 'f32' });
  const part = (g: Tensor, keep: Tensor, slot: Tensor): Tensor =>
    jnp.multiply(jnp.expandDims(jnp.expandDims(jnp.divide(g, norm), -1), -1), jnp.multiply(jnp.expandDims(keep, -1), jnp.expandDims(position(slot, keep), 2)));
  const combine = plan.constrainGroups(jnp.add(part(g1, keep1, slot1), part(g2, keep2, slot2)));
  return { combine, auxLoss };
}

/** A MoE feed-forward block's residual update: dispatch, experts, combine. */
export function moeBlock(c: MoeConfig, plan: MoePlan, p: { ln2: NormParams<Tensor> } & ExpertParams<Tensor>, x: Tensor): { y: Tensor; auxLoss: Tensor } {
  const h = layerNorm(p.ln2, x);
  const { combine, auxLoss } = top2Routing(c, plan, h, p.gate);
  const dtype = h.dtype;
  const dispatch = jnp.astype(jnp.greater(combine, 0), dtype);
  // Each core gathers its own groups' tokens per expert, then one all-to-all (the transpose
  // from groups split to experts split) moves them to their experts; the way back mirrors it.
  const local = plan.constrainGroups(jnp.einsum('gsec,gsm->gecm', dispatch, h));
  const inputs = plan.constrainExperts(jnp.transpose(local, [1, 0, 2, 3]));
  const hidden = plan.constrainExperts(nn.gelu(jnp.einsum('egcm,emh->egch', inputs, p.wi)));
  const outputs = plan.constrainExperts(jnp.einsum('egch,ehm->egcm', hidden, p.wo));
  const returned = plan.constrainGroups(jnp.transpose(outputs, [1, 0, 2, 3]));
  const y = plan.constrainGroups(jnp.einsum('gsec,gecm->gsm', jnp.astype(combine, dtype), returned));
  return { y, auxLoss };
}

/** Mean next-token cross-entropy plus the weighted load-balancing loss. */
export function moeLoss(c: MoeConfig, plan: MoePlan, params: MoeParams, tokens: Tensor, targets: Tensor): Tensor {
  const dense = plan.dense;
  const dtype = c.dtype as DType;
  const oneHot = dense.constrain(jnp.oneHot(dense.constrain(tokens, 'tokens'), c.vocab, { dtype }), 'logits');
  let x = dense.constrain(jnp.einsum('bsv,vm->bsm', oneHot, params.embedding), 'residual');
  const mask = nn.makeCausalMask(c.seqLen);
  // Each MoE layer adds its own weighted term to the loss, so every block adds the same equations.
  const aux: Tensor[] = [];
  for (const layer of params.layers) {
    x = dense.constrain(jnp.add(x, attention(c, dense, layer, x, mask)), 'residual');
    if (layer.moe) {
      const { y, auxLoss } = moeBlock(c, plan, { ln2: layer.ln2, ...layer.moe }, x);
      x = dense.constrain(jnp.add(x, y), 'residual');
      aux.push(auxLoss);
    } else {
      x = dense.constrain(jnp.add(x, feedForward(dense, { ln2: layer.ln2, ...layer.dense! }, x)), 'residual');
    }
  }
  const logits = dense.constrain(jnp.einsum('bsm,mv->bsv', layerNorm(params.lnFinal, x), params.softmax), 'logits');
  const labels = dense.constrain(jnp.oneHot(targets, c.vocab, { dtype: 'f32' }), 'logits');
  const nll = jnp.negative(jnp.mean(jnp.sum(jnp.multiply(labels, nn.logSoftmax(jnp.astype(logits, 'f32'), -1)), { axis: -1 })));
  let loss = nll;
  for (const a of aux) loss = jnp.add(loss, jnp.multiply(a, c.auxLossWeight));
  return loss;
}
