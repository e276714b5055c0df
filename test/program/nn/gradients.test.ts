/** Composite layers: reverse-mode gradients against central finite differences. */
import { describe, it } from 'vitest';
import * as jnp from '../../../src/program/numpy.js';
import * as nn from '../../../src/program/nn.js';
import * as random from '../../../src/program/random.js';
import type { PyTree } from '../../../src/program/pytree.js';
import type { Tensor } from '../../../src/program/tracer.js';
import { checkGradient, randn } from './gradcheck.js';

type Tree = PyTree<Tensor>;
const get = (p: Tree, k: string): Tensor => (p as Record<string, Tensor>)[k]!;

describe('gradient checks against finite differences', () => {
  it('softmax cross-entropy (integer and one-hot labels)', () => {
    const labels = jnp.array([0, 3, 1, 2]);
    const oneHot = jnp.oneHot(labels, 5);
    checkGradient((p) => jnp.mean(nn.softmaxCrossEntropyWithIntegerLabels(get(p, 'logits'), labels)), { logits: randn([4, 5], 1, 2) });
    checkGradient((p) => jnp.sum(nn.softmaxCrossEntropy(get(p, 'logits'), oneHot)), { logits: randn([4, 5], 2, 2) });
  });

  it('activations: gelu (both forms), softplus, silu, logSoftmax', () => {
    const w = randn([3, 4], 9);
    const x = { x: randn([3, 4], 3, 1.5) };
    checkGradient((p) => jnp.sum(jnp.multiply(nn.gelu(get(p, 'x')), w)), x);
    checkGradient((p) => jnp.sum(jnp.multiply(nn.gelu(get(p, 'x'), { approximate: false }), w)), x);
    checkGradient((p) => jnp.sum(jnp.multiply(nn.softplus(get(p, 'x')), w)), x);
    checkGradient((p) => jnp.sum(jnp.multiply(nn.silu(get(p, 'x')), w)), x);
    checkGradient((p) => jnp.sum(jnp.multiply(nn.logSoftmax(get(p, 'x')), w)), x);
  });

  it('dense + layer norm', () => {
    const x = randn([4, 6], 4);
    const w = randn([4, 6], 5);
    const params = { dense: nn.dense.init(random.key(0), 6, 6), ln: { scale: randn([6], 6, 0.5), bias: randn([6], 7, 0.1) } };
    checkGradient(
      (p) => {
        const q = p as typeof params;
        return jnp.sum(jnp.multiply(nn.layerNorm.apply(q.ln, nn.dense.apply(q.dense, x)), w));
      },
      params,
    );
    // With respect to the input as well.
    checkGradient((p) => jnp.sum(jnp.multiply(nn.layerNorm.apply(params.ln, get(p, 'x')), w)), { x });
  });

  it('batch norm in training mode (batch statistics)', () => {
    const { params } = nn.batchNorm.init(3);
    const stats = nn.batchNorm.init(3).stats;
    const w = randn([5, 2, 3], 8);
    checkGradient(
      (p) => {
        const q = p as { x: Tensor; scale: Tensor; bias: Tensor };
        const { y } = nn.batchNorm.apply({ scale: q.scale, bias: q.bias }, stats, q.x, { train: true });
        return jnp.sum(jnp.multiply(y, w));
      },
      { x: randn([5, 2, 3], 10), scale: jnp.add(params.scale, randn([3], 11, 0.2)), bias: randn([3], 12, 0.1) },
    );
  });

  it('conv2d (strided, SAME padding) and pooling', () => {
    const conv = nn.conv2d.init(random.key(1), 2, 3, [3, 3]);
    const x = randn([2, 5, 5, 2], 13);
    const w = randn([2, 3, 3, 3], 14);
    checkGradient(
      (p) => {
        const q = p as { conv: typeof conv; x: Tensor };
        return jnp.sum(jnp.multiply(nn.conv2d.apply(q.conv, q.x, { strides: [2, 2] }), w));
      },
      { conv, x },
    );
    const wp = randn([2, 2, 2, 2], 15);
    checkGradient((p) => jnp.sum(jnp.multiply(nn.maxPool(get(p, 'x'), [2, 2], { strides: [2, 2] }), wp)), { x: randn([2, 4, 4, 2], 16) });
    checkGradient((p) => jnp.sum(jnp.multiply(nn.avgPool(get(p, 'x'), [3, 3], { strides: [2, 2], padding: 'SAME' }), randn([2, 3, 3, 2], 17))), {
      x: randn([2, 5, 5, 2], 18),
    });
  });

  it('multi-head attention with a causal mask', () => {
    const params = nn.multiHeadAttention.init(random.key(2), { numHeads: 2, inFeatures: 4 });
    const x = randn([2, 3, 4], 19);
    const w = randn([2, 3, 4], 20);
    const mask = nn.makeCausalMask(3);
    checkGradient(
      (p) => {
        const q = p as { attn: typeof params; x: Tensor };
        return jnp.sum(jnp.multiply(nn.multiHeadAttention.apply(q.attn, q.x, undefined, { mask }), w));
      },
      { attn: params, x },
    );
  });

  it('embedding lookups accumulate gradients of repeated ids', () => {
    const ids = jnp.array([[1, 3, 1]]);
    const w = randn([1, 3, 4], 21);
    checkGradient((p) => jnp.sum(jnp.multiply(nn.embedding.apply(p as { embedding: Tensor }, ids), w)), nn.embedding.init(random.key(3), 5, 4));
  });
});
