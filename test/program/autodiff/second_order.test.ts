/**
 * Derivatives of derivatives, the DEQGAN pattern: du/dt and d²u/dt² of a small tanh MLP
 * u(t; θ) with respect to its input t (forward over forward), then the gradient of a loss on
 * them with respect to the parameters θ (reverse over forward over forward).
 *
 * Tolerances: u' and u'' are checked against the closed form evaluated in float64 from the
 * same f32 parameters (relative 1e-5: a few f32 roundings of O(1) terms), and against
 * central differences of u and u' in f32 (step 1e-2: truncation h²·|u'''|/6 ≈ 2e-5, rounding
 * 1e-7/h ≈ 1e-5; tolerance 1e-3). The parameter gradient is checked along a random and a
 * sign-aligned direction against central differences of the loss (step 3e-3; tolerance 2e-3
 * of Σ|g·v|, where the observed error is about 1e-4).
 */
import { describe, expect, it } from 'vitest';
import { Tensor, bind1 } from '../../../src/program/tracer.js';
import { grad, jvp, valueAndGrad } from '../../../src/program/autodiff/api.js';
import { add, broadcastInDim, mul, reduceSum, unary } from '../../../src/program/autodiff/builders.js';
import { dot, rng, tensor, uniform } from './helpers.js';

interface Params {
  w1: Tensor; // [1, H]
  b1: Tensor; // [H]
  w2: Tensor; // [H, 1]
  b2: Tensor; // [1]
}

const N = 5;
const H = 4;

function matmul(a: Tensor, b: Tensor): Tensor {
  return bind1('dot_general', [a, b], { contractingDims: [[1], [0]], batchDims: [[], []] });
}

/** u(t) = tanh(t·w1 + b1)·w2 + b2, per sample: t [N,1] -> u [N,1]. */
function mlp(p: Params, t: Tensor): Tensor {
  const h = unary('tanh', add(matmul(t, p.w1), broadcastInDim(p.b1, [t.shape[0]!, H], [1])));
  return add(matmul(h, p.w2), broadcastInDim(p.b2, [t.shape[0]!, 1], [1]));
}

const ones = (shape: number[]): Tensor => tensor(shape, new Array(shape.reduce((a, b) => a * b, 1)).fill(1));

/** du/dt per sample: one forward-mode pass with a tangent of ones. */
function du(p: Params, t: Tensor): Tensor {
  return jvp((s: Tensor) => mlp(p, s), [t], [ones([...t.shape])])[1] as Tensor;
}

/** d²u/dt² per sample: forward mode over forward mode. */
function d2u(p: Params, t: Tensor): Tensor {
  return jvp((s: Tensor) => du(p, s), [t], [ones([...t.shape])])[1] as Tensor;
}

/** The residual of u'' + u = 0 (a harmonic oscillator, as DEQGAN's ODE problems). */
function loss(p: Params, t: Tensor): Tensor {
  const r = add(d2u(p, t), mlp(p, t));
  return bind1('div', [reduceSum(mul(r, r), [0, 1]), tensor([], [N])], {});
}

function params(seed: number): Params {
  const r = rng(seed);
  return { w1: uniform(r, [1, H], -1.5, 1.5), b1: uniform(r, [H], -0.5, 0.5), w2: uniform(r, [H, 1], -1, 1), b2: uniform(r, [1], -0.5, 0.5) };
}

/** u', u'' in float64 from the closed form: h = tanh(a), a = t·w1 + b1. */
function closedForm(p: Params, t: Float64Array): { d1: number[]; d2: number[] } {
  const [w1, b1, w2] = [p.w1.toNumbers(), p.b1.toNumbers(), p.w2.toNumbers()];
  const d1: number[] = [];
  const d2: number[] = [];
  for (const ti of t) {
    let s1 = 0;
    let s2 = 0;
    for (let j = 0; j < H; j++) {
      const h = Math.tanh(ti * w1[j]! + b1[j]!);
      s1 += w2[j]! * (1 - h * h) * w1[j]!;
      s2 += w2[j]! * -2 * h * (1 - h * h) * w1[j]! * w1[j]!;
    }
    d1.push(s1);
    d2.push(s2);
  }
  return { d1, d2 };
}

function shift(t: Tensor, h: number): Tensor {
  return tensor([...t.shape], Array.from(t.toNumbers(), (x) => x + h));
}

describe('second order through a tanh MLP', () => {
  const p = params(11);
  const t = uniform(rng(12), [N, 1], -1, 1);

  it('du/dt and d²u/dt² match the closed form', () => {
    const exact = closedForm(p, t.toNumbers());
    const d1 = du(p, t).toNumbers();
    const d2 = d2u(p, t).toNumbers();
    for (let i = 0; i < N; i++) {
      expect(Math.abs(d1[i]! - exact.d1[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(exact.d1[i]!)));
      expect(Math.abs(d2[i]! - exact.d2[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(exact.d2[i]!)));
    }
  });

  it('du/dt and d²u/dt² match central finite differences', () => {
    const h = 1e-2;
    const fd1 = Array.from(mlp(p, shift(t, h)).toNumbers(), (u, i) => (u - mlp(p, shift(t, -h)).toNumbers()[i]!) / (2 * h));
    const fd2 = Array.from(du(p, shift(t, h)).toNumbers(), (u, i) => (u - du(p, shift(t, -h)).toNumbers()[i]!) / (2 * h));
    const d1 = du(p, t).toNumbers();
    const d2 = d2u(p, t).toNumbers();
    for (let i = 0; i < N; i++) {
      expect(Math.abs(d1[i]! - fd1[i]!)).toBeLessThanOrEqual(1e-3 * (1 + Math.abs(fd1[i]!)));
      expect(Math.abs(d2[i]! - fd2[i]!)).toBeLessThanOrEqual(1e-3 * (1 + Math.abs(fd2[i]!)));
    }
  });

  it('reverse over reverse gives the same du/dt and d²u/dt² as forward over forward', () => {
    const sumU = (s: Tensor): Tensor => reduceSum(mlp(p, s), [0, 1]);
    const g1 = grad(sumU)(t) as Tensor;
    const g2 = grad((s: Tensor) => reduceSum(grad(sumU)(s) as Tensor, [0, 1]))(t) as Tensor;
    const [d1, d2] = [du(p, t).toNumbers(), d2u(p, t).toNumbers()];
    g1.toNumbers().forEach((g, i) => expect(g).toBeCloseTo(d1[i]!, 5));
    g2.toNumbers().forEach((g, i) => expect(g).toBeCloseTo(d2[i]!, 5));
  });

  it('the parameter gradient of a loss on u and d²u/dt² matches central finite differences', () => {
    const [value, g] = valueAndGrad((q: Params) => loss(q, t))(p) as [Tensor, Params];
    expect(value.item()).toBeCloseTo(loss(p, t).item(), 6);
    const keys = ['b1', 'b2', 'w1', 'w2'] as const;
    const r = rng(13);
    const random = keys.map((k) => Float64Array.from({ length: p[k].size }, () => 2 * r() - 1));
    const gs = keys.map((k) => g[k].toNumbers());
    const aligned = random.map((d, i) => d.map((x, j) => Math.abs(x) * (gs[i]![j]! < 0 ? -1 : 1)));
    const eps = 3e-3;
    const moved = (v: Float64Array[], s: number): Params => {
      const q = { ...p };
      keys.forEach((k, i) => (q[k] = tensor([...p[k].shape], Array.from(p[k].toNumbers(), (x, j) => x + s * v[i]![j]!))));
      return q;
    };
    for (const v of [random, aligned]) {
      const analytic = gs.reduce((acc, gi, i) => acc + dot(gi, v[i]!), 0);
      const scale = gs.reduce((acc, gi, i) => acc + dot(gi.map(Math.abs), v[i]!.map(Math.abs)), 0);
      const fd = (loss(moved(v, eps), t).item() - loss(moved(v, -eps), t).item()) / (2 * eps);
      expect(Math.abs(analytic - fd), `${analytic} vs ${fd}`).toBeLessThanOrEqual(2e-3 * scale);
    }
  });
});
