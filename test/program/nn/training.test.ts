/** End-to-end: small models train on synthetic tasks, seeded, under jit (grad + optimizer in one step). */
import { describe, expect, it } from 'vitest';
import { valueAndGrad } from '../../../src/program/autodiff/api.js';
import { jit } from '../../../src/program/jit.js';
import * as jnp from '../../../src/program/numpy.js';
import * as nn from '../../../src/program/nn.js';
import * as optim from '../../../src/program/optim.js';
import * as random from '../../../src/program/random.js';
import type { PyTree } from '../../../src/program/pytree.js';
import type { Tensor } from '../../../src/program/tracer.js';

type Tree = PyTree<Tensor>;

/** A jitted train step for `loss(params, x, y)` with optimizer `tx`: returns [params, state, loss]. */
function trainStep(loss: (p: Tree, x: Tensor, y: Tensor) => Tensor, tx: optim.GradientTransformation) {
  return jit((params: Tree, state: Tree, x: Tensor, y: Tensor) => {
    const [value, grads] = valueAndGrad(loss)(params, x, y);
    const [updates, newState] = tx.update(grads as Tree, state, params);
    return [optim.applyUpdates(params, updates), newState, value];
  });
}

/** Two interleaved half circles with Gaussian noise (sklearn's make_moons), labels 0/1. */
function twoMoons(key: random.Key, n: number, noise: number): { x: Tensor; y: Tensor } {
  const [kt, kn] = random.splitKeys(key);
  const half = n / 2;
  const t = jnp.multiply(random.uniform(kt!, [n]), Math.PI);
  const upper = jnp.stack([jnp.cos(t), jnp.sin(t)], 1);
  const lower = jnp.stack([jnp.subtract(1, jnp.cos(t)), jnp.subtract(0.5, jnp.sin(t))], 1);
  const isLower = jnp.greaterEqual(jnp.arange(n), half);
  const x = jnp.add(jnp.where(jnp.expandDims(isLower, 1), lower, upper), jnp.multiply(random.normal(kn!, [n, 2]), noise));
  return { x, y: jnp.astype(isLower, 'i32') };
}

/** 8x8 images holding one bar, horizontal (class 0) or vertical (class 1), at a random row/column, plus noise. */
function bars(key: random.Key, n: number): { x: Tensor; y: Tensor } {
  const [kc, kp, kn] = random.splitKeys(key, 3);
  const label = random.randint(kc!, [n], 0, 2);
  const pos = random.randint(kp!, [n], 1, 7);
  const rows = jnp.reshape(jnp.arange(8), [1, 8, 1]);
  const cols = jnp.reshape(jnp.arange(8), [1, 1, 8]);
  const p = jnp.reshape(pos, [n, 1, 1]);
  const horizontal = jnp.equal(rows, p);
  const vertical = jnp.equal(cols, p);
  const isVertical = jnp.reshape(jnp.equal(label, 1), [n, 1, 1]);
  const img = jnp.astype(jnp.where(isVertical, vertical, horizontal), 'f32');
  const x = jnp.add(img, jnp.multiply(random.normal(kn!, [n, 8, 8]), 0.3));
  return { x: jnp.expandDims(x, -1), y: label };
}

const accuracy = (logits: Tensor, y: Tensor): number => jnp.mean(jnp.equal(jnp.argmax(logits, -1), y)).item();

describe('training', () => {
  it('an MLP separates two moons in 60 Adam steps (cross-entropy < 0.02, train accuracy > 97%, held-out > 95%)', () => {
    const key = random.key(0);
    const [kd, k1, k2, k3] = random.splitKeys(key, 4);
    const { x, y } = twoMoons(kd!, 128, 0.1);
    const params = { l1: nn.dense.init(k1!, 2, 32), l2: nn.dense.init(k2!, 32, 32), l3: nn.dense.init(k3!, 32, 2) };
    type MLP = typeof params;
    const forward = (p: MLP, xs: Tensor): Tensor =>
      nn.dense.apply(p.l3, nn.relu(nn.dense.apply(p.l2, nn.relu(nn.dense.apply(p.l1, xs)))));
    const loss = (p: Tree, xs: Tensor, ys: Tensor): Tensor => jnp.mean(nn.softmaxCrossEntropyWithIntegerLabels(forward(p as MLP, xs), ys));
    const tx = optim.adam(0.03);
    const step = trainStep(loss, tx);
    let p: Tree = params;
    let s = tx.init(params);
    const initial = loss(params, x, y).item();
    let last = initial;
    for (let i = 0; i < 60; i++) {
      const [np, ns, l] = step(p, s, x, y) as [Tree, Tree, Tensor];
      p = np;
      s = ns;
      last = l.item();
    }
    expect(initial).toBeGreaterThan(0.5);
    expect(last).toBeLessThan(0.02);
    expect(accuracy(forward(p as MLP, x), y)).toBeGreaterThan(0.97);
    // Held-out points from the same distribution.
    const test = twoMoons(random.key(99), 200, 0.1);
    expect(accuracy(forward(p as MLP, test.x), test.y)).toBeGreaterThan(0.95);
  });

  it('a small CNN tells horizontal from vertical bars in 30 Adam steps (cross-entropy < 0.05, held-out accuracy > 90%)', () => {
    const [kd, kc, kf] = random.splitKeys(random.key(1), 3);
    const params = { conv: nn.conv2d.init(kc!, 1, 4, [3, 3]), out: nn.dense.init(kf!, 4 * 4 * 4, 2) };
    type CNN = typeof params;
    const forward = (p: CNN, xs: Tensor): Tensor => {
      const h = nn.maxPool(nn.relu(nn.conv2d.apply(p.conv, xs)), [2, 2], { strides: [2, 2] });
      return nn.dense.apply(p.out, jnp.reshape(h, [xs.shape[0]!, -1]));
    };
    const loss = (p: Tree, xs: Tensor, ys: Tensor): Tensor => jnp.mean(nn.softmaxCrossEntropyWithIntegerLabels(forward(p as CNN, xs), ys));
    const tx = optim.adam(0.03);
    const step = trainStep(loss, tx);
    const { x, y } = bars(kd!, 64);
    let p: Tree = params;
    let s = tx.init(params);
    const initial = loss(params, x, y).item();
    let last = initial;
    for (let i = 0; i < 30; i++) {
      const [np, ns, l] = step(p, s, x, y) as [Tree, Tree, Tensor];
      p = np;
      s = ns;
      last = l.item();
    }
    expect(initial).toBeGreaterThan(0.5);
    expect(last).toBeLessThan(0.05);
    const test = bars(random.key(7), 100);
    expect(accuracy(forward(p as CNN, test.x), test.y)).toBeGreaterThan(0.9);
  });
});
