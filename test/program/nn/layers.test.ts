import { describe, expect, it } from 'vitest';
import { stopGradient } from '../../../src/program/autodiff/api.js';
import * as jnp from '../../../src/program/numpy.js';
import * as nn from '../../../src/program/nn.js';
import * as random from '../../../src/program/random.js';
import type { Tensor } from '../../../src/program/tracer.js';
import { checkGradient, randn } from './gradcheck.js';

const nums = (t: Tensor): number[] => Array.from(t.toNumbers());

describe('activations', () => {
  it('are numerically stable at extreme inputs', () => {
    const x = jnp.array([-100, -1, 0, 1, 100], { dtype: 'f32' });
    const sp = nums(nn.softplus(x));
    expect(sp[0]).toBeGreaterThanOrEqual(0);
    expect(sp[0]).toBeLessThan(1e-30);
    expect(sp[4]).toBeCloseTo(100, 5);
    expect(sp[2]).toBeCloseTo(Math.LN2, 6);
    const sm = nn.softmax(jnp.array([[1000, 1000, -1000]], { dtype: 'f32' }));
    expect(nums(sm)).toEqual([0.5, 0.5, 0]);
    const ls = nums(nn.logSoftmax(jnp.array([1000, 0], { dtype: 'f32' })));
    expect(ls[0]).toBeCloseTo(0, 6);
    expect(ls[1]).toBeCloseTo(-1000, 3);
    expect(nums(nn.sigmoid(x)).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0, 0.268941, 0.5, 0.731059, 1]);
  });

  it('gelu (tanh form and exact erf form), silu, relu, elu match their formulas', () => {
    const xs = [-3, -0.5, 0, 0.7, 2.5];
    const x = jnp.array(xs, { dtype: 'f32' });
    const tanhForm = xs.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
    nums(nn.gelu(x)).forEach((v, i) => expect(v).toBeCloseTo(tanhForm[i]!, 5));
    // Exact values x * Phi(x) from the normal CDF table.
    const phi = [0.0013498980316301, 0.3085375387259869, 0.5, 0.758036347776927, 0.9937903346742238];
    nums(nn.gelu(x, { approximate: false })).forEach((v, i) => expect(v).toBeCloseTo(xs[i]! * phi[i]!, 5));
    nums(nn.silu(x)).forEach((v, i) => expect(v).toBeCloseTo(xs[i]! / (1 + Math.exp(-xs[i]!)), 5));
    expect(nums(nn.relu(x))).toEqual([0, 0, 0, Math.fround(0.7), 2.5]);
    nums(nn.elu(x)).forEach((v, i) => expect(v).toBeCloseTo(xs[i]! > 0 ? xs[i]! : Math.expm1(xs[i]!), 6));
  });

  it('cross-entropy equals -log p(label); mse is the mean squared error', () => {
    const logits = jnp.array([[2, 1, 0]], { dtype: 'f32' });
    const p = [Math.exp(2), Math.exp(1), 1].map((v, _, a) => v / (Math.exp(2) + Math.exp(1) + 1));
    expect(nn.softmaxCrossEntropyWithIntegerLabels(logits, jnp.array([1])).item()).toBeCloseTo(-Math.log(p[1]!), 5);
    expect(nn.softmaxCrossEntropy(logits, jnp.array([[0.5, 0.5, 0]])).item()).toBeCloseTo(-(Math.log(p[0]!) + Math.log(p[1]!)) / 2, 5);
    expect(() => nn.softmaxCrossEntropyWithIntegerLabels(logits, jnp.array([1, 2]))).toThrow(/labels .*i32\[2\].*f32\[1,3\]/);
    expect(nn.mse(jnp.array([1, 2], { dtype: 'f32' }), jnp.array([0, 4], { dtype: 'f32' })).item()).toBeCloseTo(2.5, 6);
  });
});

describe('layers', () => {
  it('dense and conv2d have flax shapes and lecun-normal scale', () => {
    const d = nn.dense.init(random.key(0), 64, 128) as { kernel: Tensor; bias: Tensor };
    expect(d.kernel.shape).toEqual([64, 128]);
    expect(nums(d.bias).every((v) => v === 0)).toBe(true);
    expect(jnp.std(d.kernel).item()).toBeCloseTo(1 / Math.sqrt(64), 1);
    expect(nn.dense.apply(d, jnp.ones([3, 5, 64])).shape).toEqual([3, 5, 128]);
    expect(() => nn.dense.apply(d, jnp.ones([3, 63]))).toThrow(/dense: input .*f32\[3,63\].*f32\[64,128\]/);
    const c = nn.conv2d.init(random.key(1), 3, 8, [3, 3], { useBias: false });
    expect(Object.keys(c)).toEqual(['kernel']);
    expect(c.kernel.shape).toEqual([3, 3, 3, 8]);
    expect(nn.conv2d.apply(c, jnp.ones([2, 9, 9, 3]), { strides: [2, 2] }).shape).toEqual([2, 5, 5, 8]);
    expect(nn.conv2d.apply(c, jnp.ones([2, 9, 9, 3]), { padding: 'VALID' }).shape).toEqual([2, 7, 7, 8]);
  });

  it('conv2d (NHWC/HWIO) matches a direct loop', () => {
    const x = randn([1, 4, 5, 2], 3);
    const params = { kernel: randn([2, 3, 2, 3], 4), bias: randn([3], 5) };
    const y = nn.conv2d.apply(params, x);
    const [xv, kv, bv, yv] = [x, params.kernel, params.bias, y].map((t) => t.toNumbers());
    // SAME with a 2x3 kernel pads rows (0, 1) and columns (1, 1).
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 5; j++)
        for (let o = 0; o < 3; o++) {
          let acc = bv![o]!;
          for (let di = 0; di < 2; di++)
            for (let dj = 0; dj < 3; dj++)
              for (let c = 0; c < 2; c++) {
                const ii = i + di;
                const jj = j + dj - 1;
                if (ii >= 4 || jj < 0 || jj >= 5) continue;
                acc += xv![(ii * 5 + jj) * 2 + c]! * kv![((di * 3 + dj) * 2 + c) * 3 + o]!;
              }
          expect(yv![(i * 5 + j) * 3 + o]).toBeCloseTo(acc, 4);
        }
  });

  it('maxPool and avgPool match loops', () => {
    const x = randn([1, 4, 4, 1], 6);
    const v = x.toNumbers();
    const mp = nums(nn.maxPool(x, [2, 2], { strides: [2, 2] }));
    const ap = nums(nn.avgPool(x, [2, 2], { strides: [2, 2] }));
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 2; j++) {
        const w = [v[(2 * i) * 4 + 2 * j]!, v[(2 * i) * 4 + 2 * j + 1]!, v[(2 * i + 1) * 4 + 2 * j]!, v[(2 * i + 1) * 4 + 2 * j + 1]!];
        expect(mp[i * 2 + j]).toBe(Math.max(...w));
        expect(ap[i * 2 + j]).toBeCloseTo(w.reduce((a, b) => a + b) / 4, 6);
      }
    expect(nn.maxPool(x, [3, 3]).shape).toEqual([1, 2, 2, 1]);
  });

  it('layerNorm normalises the last axis', () => {
    const y = nn.layerNorm.apply(nn.layerNorm.init(6), randn([3, 6], 7, 4));
    nums(jnp.mean(y, { axis: -1 })).forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-5));
    nums(jnp.variance(y, { axis: -1 })).forEach((v) => expect(v).toBeCloseTo(1, 4));
  });

  it('batchNorm uses batch statistics in training and running ones in evaluation', () => {
    const { params, stats } = nn.batchNorm.init(2);
    const x = jnp.array([[1, 10], [3, 30], [5, 20]], { dtype: 'f32' });
    const train = nn.batchNorm.apply(params, stats, x, { train: true, momentum: 0.9 });
    nums(jnp.mean(train.y, { axis: 0 })).forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-5));
    // Running stats: 0.9 * init + 0.1 * batch (biased variance, as flax).
    const mean = [3, 20];
    const variance = [8 / 3, 200 / 3];
    nums(train.stats.mean).forEach((m, i) => expect(m).toBeCloseTo(0.1 * mean[i]!, 5));
    nums(train.stats.var).forEach((v, i) => expect(v).toBeCloseTo(0.9 + 0.1 * variance[i]!, 4));
    const evalOut = nn.batchNorm.apply(params, train.stats, x, { train: false });
    expect(evalOut.stats).toBe(train.stats);
    const expected = [1, 10].map((xi, i) => (xi - 0.1 * mean[i]!) / Math.sqrt(0.9 + 0.1 * variance[i]! + 1e-5));
    nums(evalOut.y).slice(0, 2).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 4));
  });

  it('dropout keeps about 1 - rate of the elements, rescaled; deterministic passes through', () => {
    const x = jnp.ones([4000]);
    const y = nums(nn.dropout(random.key(3), 0.25, x));
    const kept = y.filter((v) => v !== 0);
    expect(kept.length / 4000).toBeCloseTo(0.75, 1);
    kept.forEach((v) => expect(v).toBeCloseTo(1 / 0.75, 6));
    expect(nn.dropout(random.key(3), 0.25, x, true)).toBe(x);
    expect(nums(nn.dropout(random.key(3), 0.25, x))).toEqual(y);
  });

  it('embedding looks rows up and attends with the transposed table', () => {
    const p = nn.embedding.init(random.key(4), 10, 3);
    const e = nn.embedding.apply(p, jnp.array([[2, 9]]));
    expect(e.shape).toEqual([1, 2, 3]);
    expect(nums(e).slice(3)).toEqual(nums(jnp.index(p.embedding, 9)));
    expect(nn.embedding.attend(p, jnp.ones([5, 3])).shape).toEqual([5, 10]);
  });

  it('attention respects the causal mask and key padding', () => {
    const params = nn.multiHeadAttention.init(random.key(5), { numHeads: 2, inFeatures: 4 });
    expect(params.query.kernel.shape).toEqual([4, 2, 2]);
    expect(params.out.kernel.shape).toEqual([2, 2, 4]);
    const x = randn([1, 4, 4], 8);
    const y = nn.multiHeadAttention.apply(params, x, undefined, { mask: nn.makeCausalMask(4) });
    expect(y.shape).toEqual([1, 4, 4]);
    // Changing the last position leaves earlier outputs unchanged under a causal mask.
    const x2 = jnp.at(x, 0, 3).set(jnp.array([9, 9, 9, 9], { dtype: 'f32' }));
    const y2 = nn.multiHeadAttention.apply(params, x2, undefined, { mask: nn.makeCausalMask(4) });
    expect(nums(jnp.index(y2, 0, jnp.s(0, 3)))).toEqual(nums(jnp.index(y, 0, jnp.s(0, 3))));
    expect(nums(jnp.index(y2, 0, 3))).not.toEqual(nums(jnp.index(y, 0, 3)));
    // Weights over masked keys are zero.
    const q = randn([1, 2, 1, 3], 9);
    const k = randn([1, 3, 1, 3], 10);
    const mask = nn.makeAttentionMask(jnp.array([[true, true]]), jnp.array([[true, false, true]]));
    const w = nums(nn.dotProductAttentionWeights(q, k, { mask }));
    expect(w[1]).toBe(0);
    expect(w[4]).toBe(0);
    expect(w[0]! + w[2]!).toBeCloseTo(1, 6);
  });
});

describe('the gradient checker', () => {
  it('rejects a wrong gradient', () => {
    // d/dx sum(stopGradient(x) * x) is x, but the function's true derivative is 2x.
    const f = (p: unknown): Tensor => {
      const x = (p as { x: Tensor }).x;
      return jnp.sum(jnp.multiply(stopGradient(x), x));
    };
    expect(() => checkGradient(f, { x: randn([4], 11) })).toThrow();
  });
});
