import { describe, expect, it } from 'vitest';
import * as jnp from '../../../src/program/numpy.js';
import * as optim from '../../../src/program/optim.js';
import { jit } from '../../../src/program/jit.js';
import type { PyTree } from '../../../src/program/pytree.js';
import type { Tensor } from '../../../src/program/tracer.js';

const nums = (t: Tensor): number[] => Array.from(t.toNumbers());
type P = { w: Tensor; b: Tensor };
const closeTo = (actual: number[], expected: number[], digits = 6): void => {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i]!, digits));
};

describe('adam', () => {
  it('two steps match a hand computation', () => {
    const lr = 0.1;
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    const params: P = { w: jnp.array([1, -2, 3], { dtype: 'f32' }), b: jnp.array([0.5], { dtype: 'f32' }) };
    const grads1: P = { w: jnp.array([0.1, -0.2, 0.3], { dtype: 'f32' }), b: jnp.array([1], { dtype: 'f32' }) };
    const grads2: P = { w: jnp.array([-0.4, 0.5, 0], { dtype: 'f32' }), b: jnp.array([2], { dtype: 'f32' }) };
    const tx = optim.adam(lr);
    let state = tx.init(params);
    let p: PyTree<Tensor> = params;
    for (const g of [grads1, grads2]) {
      const [u, s] = tx.update(g, state, p);
      state = s;
      p = optim.applyUpdates(p, u);
    }
    // By hand, per element.
    const hand = (x0: number, g: number[]): number => {
      let [m, v, x] = [0, 0, x0];
      g.forEach((gi, t) => {
        m = b1 * m + (1 - b1) * gi;
        v = b2 * v + (1 - b2) * gi * gi;
        const mh = m / (1 - b1 ** (t + 1));
        const vh = v / (1 - b2 ** (t + 1));
        x -= (lr * mh) / (Math.sqrt(vh) + eps);
      });
      return x;
    };
    const q = p as P;
    closeTo(nums(q.w), [hand(1, [0.1, -0.4]), hand(-2, [-0.2, 0.5]), hand(3, [0.3, 0])], 5);
    closeTo(nums(q.b), [hand(0.5, [1, 2])], 5);
    // First Adam step moves every coordinate by lr * sign(g).
    const [u1] = tx.update(grads1, tx.init(params), params);
    closeTo(nums((u1 as P).w), [-0.1, 0.1, -0.1], 5);
  });

  it('runs under jit with the state as a pytree input and output', () => {
    const tx = optim.adam(0.05);
    const params: P = { w: jnp.array([1, 2], { dtype: 'f32' }), b: jnp.array([0], { dtype: 'f32' }) };
    const g: P = { w: jnp.array([0.3, -0.1], { dtype: 'f32' }), b: jnp.array([0.2], { dtype: 'f32' }) };
    const step = jit((p: PyTree<Tensor>, s: PyTree<Tensor>, gr: PyTree<Tensor>) => {
      const [u, ns] = tx.update(gr, s, p);
      return [optim.applyUpdates(p, u), ns];
    });
    const [pj, sj] = step(params, tx.init(params), g) as [P, PyTree<Tensor>];
    const [u, se] = tx.update(g, tx.init(params), params);
    const pe = optim.applyUpdates(params, u) as P;
    closeTo(nums(pj.w), nums(pe.w), 6);
    expect(((sj as { count: Tensor }[])[0]!).count.item()).toBe(1);
    expect(((se as { count: Tensor }[])[0]!).count.item()).toBe(1);
  });
});

describe('sgd', () => {
  const params = { w: jnp.array([1, -1], { dtype: 'f32' }) };
  const gs = [jnp.array([1, 2], { dtype: 'f32' }), jnp.array([0.5, -1], { dtype: 'f32' })];
  const run = (tx: optim.GradientTransformation): number[] => {
    let state = tx.init(params);
    let p: PyTree<Tensor> = params;
    for (const g of gs) {
      const [u, s] = tx.update({ w: g }, state, p);
      state = s;
      p = optim.applyUpdates(p, u);
    }
    return nums((p as { w: Tensor }).w);
  };
  it('plain, momentum and nesterov match hand values', () => {
    closeTo(run(optim.sgd(0.1)), [1 - 0.1 * 1.5, -1 - 0.1 * 1], 6);
    // momentum 0.9: t1 = g1, t2 = g2 + 0.9 g1.
    closeTo(run(optim.sgd(0.1, { momentum: 0.9 })), [1 - 0.1 * (1 + 0.5 + 0.9), -1 - 0.1 * (2 + -1 + 1.8)], 6);
    // nesterov: update_t = g_t + 0.9 t_t.
    const u1 = [1 + 0.9 * 1, 2 + 0.9 * 2];
    const t2 = [0.5 + 0.9 * 1, -1 + 0.9 * 2];
    const u2 = [0.5 + 0.9 * t2[0]!, -1 + 0.9 * t2[1]!];
    closeTo(run(optim.sgd(0.1, { momentum: 0.9, nesterov: true })), [1 - 0.1 * (u1[0]! + u2[0]!), -1 - 0.1 * (u1[1]! + u2[1]!)], 6);
  });
});

describe('adamw', () => {
  it('adds decoupled weight decay before the learning rate, honouring a mask', () => {
    const params: P = { w: jnp.array([2], { dtype: 'f32' }), b: jnp.array([2], { dtype: 'f32' }) };
    const g: P = { w: jnp.array([0.5], { dtype: 'f32' }), b: jnp.array([0.5], { dtype: 'f32' }) };
    const tx = optim.adamw(0.1, { weightDecay: 0.01, mask: { w: true, b: false } });
    const [u] = tx.update(g, tx.init(params), params);
    // Adam's first step is sign(g) = 1; decay adds 0.01 * 2 on w only.
    closeTo(nums((u as P).w), [-0.1 * (1 + 0.02)], 5);
    closeTo(nums((u as P).b), [-0.1], 5);
  });
});

describe('clipping', () => {
  it('clipByGlobalNorm rescales only above the threshold', () => {
    const g = { a: jnp.array([3], { dtype: 'f32' }), b: jnp.array([4], { dtype: 'f32' }) };
    const [u] = optim.clipByGlobalNorm(1).update(g, [], undefined);
    closeTo([...nums((u as typeof g).a), ...nums((u as typeof g).b)], [0.6, 0.8], 6);
    const [v] = optim.clipByGlobalNorm(10).update(g, [], undefined);
    closeTo([...nums((v as typeof g).a), ...nums((v as typeof g).b)], [3, 4], 6);
    expect(optim.globalNorm(g).item()).toBeCloseTo(5, 6);
  });
});

describe('adafactor', () => {
  it('factors the second moment of a matrix as optax does', () => {
    // One step, w of shape [2, 3] factored (min dim 2): d1 = 0 (rows), d0 = 1 (cols).
    const w = jnp.array([[1, 2, 3], [4, 5, 6]], { dtype: 'f32' });
    const gv = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]];
    const g = jnp.array(gv, { dtype: 'f32' });
    const tx = optim.adafactor(0.01, { minDimSizeToFactor: 2 });
    const [u, state] = tx.update({ w: g }, tx.init({ w }), { w });
    // Step 0: decay = 1 - 1^-0.8 = 0, so the moments are this step's means of g^2 + eps.
    const sq = gv.map((r) => r.map((x) => x * x + 1e-30));
    const vRow = sq.map((r) => r.reduce((a, b) => a + b) / 3);
    const vCol = [0, 1, 2].map((j) => (sq[0]![j]! + sq[1]![j]!) / 2);
    const rowMean = (vRow[0]! + vRow[1]!) / 2;
    let upd = gv.map((r, i) => r.map((x, j) => x / Math.sqrt(vRow[i]! / rowMean) / Math.sqrt(vCol[j]!)));
    const rms = Math.sqrt(upd.flat().reduce((a, b) => a + b * b, 0) / 6);
    upd = upd.map((r) => r.map((x) => x / Math.max(1, rms / 1)));
    const paramRms = Math.sqrt([1, 2, 3, 4, 5, 6].reduce((a, b) => a + b * b, 0) / 6);
    const expected = upd.flat().map((x) => -0.01 * x * paramRms);
    closeTo(nums((u as { w: Tensor }).w), expected, 6);
    const fr = (state as { vRow: { w: Tensor }; vCol: { w: Tensor } }[])[0]!;
    expect(fr.vRow.w.shape).toEqual([2]);
    expect(fr.vCol.w.shape).toEqual([3]);
  });

  it('keeps a full second moment for vectors and small matrices', () => {
    const b = jnp.array([1, -1], { dtype: 'f32' });
    const g = jnp.array([0.5, 0.25], { dtype: 'f32' });
    const tx = optim.adafactor(0.1, { clippingThreshold: null, multiplyByParameterScale: false });
    const [u] = tx.update({ b: g }, tx.init({ b }), { b });
    // v = g^2 at step 0, so the update is -lr * g / |g| = -lr * sign(g).
    closeTo(nums((u as { b: Tensor }).b), [-0.1, -0.1], 5);
    expect(optim.factoredDims([4, 3], true, 128)).toBeNull();
    expect(optim.factoredDims([200, 300, 5], true, 128)).toEqual([0, 1]);
  });
});

describe('schedules', () => {
  const at = (s: optim.Schedule, n: number): number => s(n).item();
  it('constant, linear warmup, cosine, warmup-cosine, cyclic', () => {
    expect(at(optim.constantSchedule(0.3), 100)).toBeCloseTo(0.3, 6);
    const warm = optim.linearSchedule(0, 1, 10);
    expect([0, 5, 10, 20].map((n) => at(warm, n))).toEqual([0, 0.5, 1, 1]);
    const cos = optim.cosineDecaySchedule(1, 100, 0.1);
    expect(at(cos, 0)).toBeCloseTo(1, 6);
    expect(at(cos, 50)).toBeCloseTo(0.1 + 0.9 * 0.5, 5);
    expect(at(cos, 150)).toBeCloseTo(0.1, 6);
    const wc = optim.warmupCosineDecaySchedule(0, 2, 10, 110, 0.2);
    expect(at(wc, 5)).toBeCloseTo(1, 5);
    expect(at(wc, 10)).toBeCloseTo(2, 5);
    expect(at(wc, 60)).toBeCloseTo(0.2 + 1.8 * 0.5, 4);
    expect(at(wc, 200)).toBeCloseTo(0.2, 5);
    const cyc = optim.cyclicSchedule(0.1, 1.1, 5);
    expect([0, 5, 10, 12, 15].map((n) => at(cyc, n))).toEqual([0.1, 1.1, 0.1, 0.5, 1.1].map((v) => expect.closeTo(v, 5)));
    const cyc2 = optim.cyclicSchedule(0, 1, 5, 'triangular2');
    expect(at(cyc2, 15)).toBeCloseTo(0.5, 6);
  });

  it('a schedule drives the learning rate through the optimizer state count', () => {
    const tx = optim.sgd(optim.linearSchedule(1, 0, 4));
    const params = { w: jnp.array([0], { dtype: 'f32' }) };
    let state = tx.init(params);
    const steps: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [u, s] = tx.update({ w: jnp.array([1], { dtype: 'f32' }) }, state, params);
      state = s;
      steps.push(nums((u as { w: Tensor }).w)[0]!);
    }
    closeTo(steps, [-1, -0.75, -0.5], 6);
  });
});
