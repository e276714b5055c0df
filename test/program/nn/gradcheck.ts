/** Central finite-difference check of a gradient along random directions (test helper). */
import { expect } from 'vitest';
import { grad } from '../../../src/program/autodiff/api.js';
import * as jnp from '../../../src/program/numpy.js';
import { type PyTree, treeFlatten, treeUnflatten } from '../../../src/program/pytree.js';
import { Tensor } from '../../../src/program/tracer.js';

/** A small deterministic generator of standard normals (Box-Muller over an LCG). */
export function gaussians(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

export function randn(shape: number[], seed: number, scale = 1): Tensor {
  const g = gaussians(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return jnp.array(Float32Array.from({ length: n }, () => g() * scale), { shape });
}

/**
 * For `directions` random unit-scale directions v, compares <grad f(p), v> with
 * (f(p + h v) - f(p - h v)) / 2h. f must map the params pytree to a scalar.
 */
export function checkGradient(
  f: (p: PyTree<Tensor>) => Tensor,
  params: PyTree<Tensor>,
  { h = 1e-2, rtol = 2e-2, atol = 2e-3, directions = 3, seed = 1 } = {},
): void {
  const g = grad(f)(params) as PyTree<Tensor>;
  const { leaves, treedef } = treeFlatten(params);
  const gl = treeFlatten(g).leaves;
  expect(gl.length).toBe(leaves.length);
  for (let d = 0; d < directions; d++) {
    const rnd = gaussians(seed * 1000 + d);
    const vs = leaves.map((l) => Float64Array.from({ length: l.size }, () => rnd()));
    const shifted = (sign: number): PyTree<Tensor> =>
      treeUnflatten(
        treedef,
        leaves.map((l, i) => {
          const x = l.toNumbers();
          const v = vs[i]!;
          return jnp.array(Float32Array.from(x, (xi, j) => xi + sign * h * v[j]!), { shape: [...l.shape] });
        }),
      );
    const numeric = (f(shifted(1)).item() - f(shifted(-1)).item()) / (2 * h);
    let analytic = 0;
    gl.forEach((gi, i) => {
      const gv = gi.toNumbers();
      const v = vs[i]!;
      for (let j = 0; j < gv.length; j++) analytic += gv[j]! * v[j]!;
    });
    expect(Math.abs(analytic - numeric)).toBeLessThanOrEqual(atol + rtol * Math.abs(numeric));
  }
}
