import { describe, expect, it } from 'vitest';
import * as random from '../../src/program/random.js';
import * as jnp from '../../src/program/numpy.js';
import type { Tensor } from '../../src/program/tracer.js';
import { jit } from '../../src/program/jit.js';

const u32 = (t: Tensor): number[] => Array.from(t.toNumbers(), (v) => v >>> 0);

describe('keys', () => {
  it('key(seed) is [0, seed] like jax.random.PRNGKey', () => {
    expect(u32(random.key(0))).toEqual([0, 0]);
    expect(u32(random.key(42))).toEqual([0, 42]);
    expect(u32(random.key(-1))).toEqual([0, 0xffffffff]);
    expect(u32(random.key(2 ** 40 + 5))).toEqual([256, 5]);
  });

  it('threefry2x32 matches the Random123 known-answer vector', () => {
    // Random123 kat_vectors / jax random_test testThreefry2x32: key (0,0), count (0,0).
    const out = random.threefry2x32(random.key(0), jnp.array([0, 0], { dtype: 'i32' }));
    expect(u32(out)).toEqual([0x6b200159, 0x99ba4efe]);
  });

  it('split(key(0), 8) gives the keys JAX (threefry_partitionable) gives', () => {
    const keys = random.split(random.key(0), 8);
    expect(keys.shape).toEqual([8, 2]);
    expect(u32(keys).slice(0, 6)).toEqual([1797259609, 2579123966, 928981903, 3453687069, 4146024105, 2718843009]);
  });

  it('uniform(key(0), [4]) gives the floats JAX gives', () => {
    // jax.random.uniform(jax.random.key(0), (4,)) with threefry_partitionable (JAX >= 0.5).
    const u = Array.from(random.uniform(random.key(0), [4]).toNumbers());
    [0.9476670027, 0.9785798788, 0.3322914839, 0.4686684608].forEach((v, i) => expect(u[i]).toBeCloseTo(v, 8));
  });

  it('bits are deterministic and split keys are independent', () => {
    const k = random.key(7);
    expect(u32(random.bits(k, [16]))).toEqual(u32(random.bits(k, [16])));
    const [a, b] = random.splitKeys(k);
    const ba = u32(random.bits(a!, [64]));
    const bb = u32(random.bits(b!, [64]));
    expect(ba.filter((v, i) => v === bb[i]).length).toBe(0);
    // Correlation of uniforms from sibling keys is near zero.
    const ua = random.uniform(a!, [4000]);
    const ub = random.uniform(b!, [4000]);
    const corr = jnp.mean(jnp.multiply(jnp.subtract(ua, 0.5), jnp.subtract(ub, 0.5))).item() / (1 / 12);
    expect(Math.abs(corr)).toBeLessThan(0.05);
    expect(u32(random.foldIn(k, 3))).not.toEqual(u32(random.foldIn(k, 4)));
    expect(u32(random.foldIn(k, 3))).toEqual(u32(random.foldIn(k, 3)));
  });

  it('draws the same numbers eagerly and under jit', () => {
    const draw = (k: Tensor): Tensor[] => {
      const [a, b] = random.splitKeys(random.foldIn(k, 5));
      return [random.normal(a!, [3, 4]), random.permutation(b!, 10), random.bits(k, [5])];
    };
    const eager = draw(random.key(11)).map((t) => Array.from(t.toNumbers()));
    const jitted = (jit(draw)(random.key(11)) as Tensor[]).map((t) => Array.from(t.toNumbers()));
    expect(jitted).toEqual(eager);
  });

  it('rejects things that are not keys', () => {
    expect(() => random.split(jnp.zeros([2]))).toThrow(/random.split: expected a key/);
    expect(() => random.uniform(random.key(0), [2], { dtype: 'i32' })).toThrow(/float dtype/);
    expect(() => random.uniform(random.key(0), [2], { dtype: 'f16' as never })).toThrow(/unknown dtype/);
  });
});

describe('distributions', () => {
  const k = random.key(1234);
  it('uniform has the moments of U[lo, hi)', () => {
    const u = random.uniform(k, [20000], { minval: -2, maxval: 3 });
    const v = u.toNumbers();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...v)).toBeLessThan(3);
    expect(jnp.mean(u).item()).toBeCloseTo(0.5, 1);
    expect(jnp.variance(u).item()).toBeCloseTo(25 / 12, 1);
    const b = random.uniform(k, [1000], { dtype: 'bf16' });
    expect(b.dtype).toBe('bf16');
    expect(Math.abs(jnp.mean(b).item() - 0.5)).toBeLessThan(0.05);
  });

  it('normal has mean 0 and variance 1; truncatedNormal stays in bounds', () => {
    const n = random.normal(k, [20000]);
    expect(Math.abs(jnp.mean(n).item())).toBeLessThan(0.03);
    expect(jnp.variance(n).item()).toBeCloseTo(1, 1);
    const t = random.truncatedNormal(k, -2, 2, [5000]).toNumbers();
    expect(Math.max(...t)).toBeLessThan(2);
    expect(Math.min(...t)).toBeGreaterThan(-2);
  });

  it('bernoulli frequency follows p; categorical follows softmax(logits)', () => {
    const b = random.bernoulli(k, 0.3, [10000]);
    expect(jnp.mean(b).item()).toBeCloseTo(0.3, 1);
    const logits = jnp.log(jnp.array([0.1, 0.2, 0.7]));
    const draws = random.categorical(k, logits, { shape: [6000] });
    expect(draws.shape).toEqual([6000]);
    const freq = jnp.mean(jnp.oneHot(draws, 3), { axis: 0 }).toNumbers();
    [0.1, 0.2, 0.7].forEach((p, i) => expect(Math.abs(freq[i]! - p)).toBeLessThan(0.03));
  });

  it('permutation is a permutation, and differs by key', () => {
    const p = Array.from(random.permutation(k, 50).toNumbers());
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    const q = Array.from(random.permutation(random.key(1), 50).toNumbers());
    expect(q).not.toEqual(p);
    const x = jnp.reshape(jnp.arange(12), [6, 2]);
    const rows = random.permutation(k, x).toNumbers();
    for (let i = 0; i < 6; i++) expect(rows[2 * i + 1]).toBe(rows[2 * i]! + 1);
  });

  it('choice draws with and without replacement', () => {
    const without = Array.from(random.choice(k, 20, [2, 5], { replace: false }).toNumbers());
    expect(new Set(without).size).toBe(10);
    without.forEach((v) => expect(v >= 0 && v < 20).toBe(true));
    const rows = random.choice(k, jnp.reshape(jnp.arange(8), [4, 2]), [3]);
    expect(rows.shape).toEqual([3, 2]);
    expect(() => random.choice(k, 3, [4], { replace: false })).toThrow(/cannot take 4 of 3/);
  });

  it('randint stays in [min, max) and covers it, for small and huge spans', () => {
    const r = random.randint(k, [3000], -3, 4).toNumbers();
    expect(new Set(r)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    const big = random.randint(k, [2000], -2147483648, 2147483647).toNumbers();
    expect(Math.min(...big)).toBeLessThan(-1e9);
    expect(Math.max(...big)).toBeGreaterThan(1e9);
    expect(random.randint(k, [4], 5, 5).toNumbers()).toEqual(new Float64Array([5, 5, 5, 5]));
  });
});
