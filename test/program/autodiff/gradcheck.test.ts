/**
 * Gradient checks for every differentiable primitive, driven by the VJP table: each entry
 * must have a case here (a new primitive without one fails the coverage test).
 *
 * Each case checks, for a random input direction v and random output cotangent ct:
 *   ⟨vjp(ct), v⟩  ≈  central finite difference of L(x) = ⟨ct, f(x)⟩ along v   (VJP vs FD)
 *   ⟨ct, jvp(v)⟩  =  ⟨vjp(ct), v⟩                                              (JVP vs VJP)
 *
 * Tolerances. The kernels compute in f32, so L carries a relative rounding error of about
 * 1e-7 per op; the central difference with step eps = 3e-3 divides it by 2·eps and adds a
 * truncation error of order eps^2·|f'''| ≈ 1e-5 for these O(1) inputs. The observed error is
 * at most 3e-5 of the scale Σ|g_i·v_i|, so FD_TOL = 1e-3 of it leaves a 30x margin and still
 * catches a derivative off by 1%. Each case is checked along a random direction and along
 * one aligned with the gradient's signs, so no cancellation can hide an error. JVP and VJP
 * agree to f32 rounding (JVP_TOL = 1e-4). Inputs keep away from kinks (ties, zeros, domain
 * edges) by more than the step, so the checks are of smooth functions.
 */
import { describe, expect, it } from 'vitest';
import { isFloat } from '../../../src/tpu/dtype.js';
import { COLLECTIVE_PRIMITIVES } from '../../../src/collectives/ops.js';
import { PRIMITIVES, type PrimitiveName } from '../../../src/tpu/ops.js';
import { Tensor, bind } from '../../../src/program/tracer.js';
import { grad, jvp, vjp } from '../../../src/program/autodiff/api.js';
import { JVP_RULES } from '../../../src/program/autodiff/jvp.js';
import { NON_DIFFERENTIABLE } from '../../../src/program/autodiff/rule_types.js';
import { VJP_RULES, differentiablePrimitives } from '../../../src/program/autodiff/vjp.js';
import { awayFromZero, distinct, dot, i32, rng, scalarI32, sizeOf, tensor, uniform } from './helpers.js';

const EPS = 3e-3;
const FD_TOL = 1e-3;
const JVP_TOL = 1e-4;

interface Case {
  readonly label?: string;
  readonly inputs: (r: () => number) => Tensor[];
  // Params vary per primitive; each case supplies the right ones for its op.
  readonly params?: any;
  /** Indices of the inputs to differentiate (default: every float input). */
  readonly diff?: readonly number[];
  /**
   * A custom finite-difference step. It also switches the cotangents to quarters and the
   * directions to integers, so that for a linear op every evaluation is exact (bf16 cases).
   */
  readonly eps?: number;
}

const R = (lo: number, hi: number) => (r: () => number, shape: number[]) => uniform(r, shape, lo, hi);

function unaryCase(lo: number, hi: number): Case[] {
  return [{ inputs: (r) => [R(lo, hi)(r, [2, 3])] }];
}

const nhwc = { lhsSpec: [0, 3, 1, 2], rhsSpec: [3, 2, 0, 1], outSpec: [0, 3, 1, 2] };
const nchw = { lhsSpec: [0, 1, 2, 3], rhsSpec: [0, 1, 2, 3], outSpec: [0, 1, 2, 3] };
const convDefaults = { lhsDilation: [1, 1], rhsDilation: [1, 1], featureGroupCount: 1, batchGroupCount: 1 };
const approx = { k: 2, reductionDimension: 1, recallTarget: 0.95, reductionInputSizeOverride: -1, aggregateToTopk: true };

const CASES: Partial<Record<PrimitiveName, Case[]>> = {
  neg: unaryCase(-1, 1),
  abs: [{ inputs: (r) => [awayFromZero(r, [2, 3])] }],
  exp: unaryCase(-1, 1),
  exp2: unaryCase(-1, 1),
  log: unaryCase(0.5, 2),
  log1p: unaryCase(-0.5, 1),
  expm1: unaryCase(-1, 1),
  tanh: unaryCase(-1.5, 1.5),
  logistic: unaryCase(-2, 2),
  sqrt: unaryCase(0.5, 2),
  rsqrt: unaryCase(0.5, 2),
  cbrt: [{ inputs: (r) => [awayFromZero(r, [2, 3], 0.5, 2)] }],
  erf: unaryCase(-1.5, 1.5),
  erf_inv: unaryCase(-0.7, 0.7),
  sin: unaryCase(-2, 2),
  cos: unaryCase(-2, 2),
  tan: unaryCase(-1, 1),
  asin: unaryCase(-0.7, 0.7),
  acos: unaryCase(-0.7, 0.7),
  atan: unaryCase(-2, 2),
  sinh: unaryCase(-1.5, 1.5),
  cosh: unaryCase(-1.5, 1.5),
  asinh: unaryCase(-2, 2),
  acosh: unaryCase(1.5, 3),
  atanh: unaryCase(-0.7, 0.7),
  square: unaryCase(-1, 1),
  reciprocal: [{ inputs: (r) => [awayFromZero(r, [2, 3], 0.5, 2)] }],
  add: [{ inputs: (r) => [R(-1, 1)(r, [2, 3]), R(-1, 1)(r, [2, 3])] }],
  sub: [{ inputs: (r) => [R(-1, 1)(r, [2, 3]), R(-1, 1)(r, [2, 3])] }],
  mul: [{ inputs: (r) => [R(-1, 1)(r, [2, 3]), R(-1, 1)(r, [2, 3])] }],
  div: [{ inputs: (r) => [R(-1, 1)(r, [2, 3]), awayFromZero(r, [2, 3], 0.5, 2)] }],
  rem: [
    {
      // x = q·y with q's fractional part in [0.3, 0.7]: away from rem's jumps at x = k·y.
      inputs: (r) => {
        const y = Array.from({ length: 6 }, () => 0.8 + 0.4 * r());
        const x = y.map((yi) => (2.3 + 0.4 * r()) * yi * (r() < 0.5 ? -1 : 1));
        return [tensor([2, 3], x), tensor([2, 3], y)];
      },
    },
  ],
  pow: [{ inputs: (r) => [R(0.5, 2)(r, [2, 3]), R(-1.5, 1.5)(r, [2, 3])] }],
  max: [
    {
      inputs: (r) => {
        const x = uniform(r, [2, 3]);
        const gap = awayFromZero(r, [2, 3], 0.2, 0.5);
        return [x, bind('add', [x, gap], {})[0]!];
      },
    },
  ],
  min: [
    {
      inputs: (r) => {
        const x = uniform(r, [2, 3]);
        const gap = awayFromZero(r, [2, 3], 0.2, 0.5);
        return [x, bind('add', [x, gap], {})[0]!];
      },
    },
  ],
  atan2: [{ inputs: (r) => [R(0.5, 1.5)(r, [2, 3]), R(-1.5, 1.5)(r, [2, 3])] }],
  integer_pow: [
    { label: 'cube', inputs: (r) => [R(-1.5, 1.5)(r, [2, 3])], params: { y: 3 } },
    { label: 'inverse square', inputs: (r) => [R(0.5, 1.5)(r, [2, 3])], params: { y: -2 } },
  ],
  select: [
    {
      inputs: (r) => [
        tensor([2, 3], Array.from({ length: 6 }, () => (r() < 0.5 ? 1 : 0)), 'bool'),
        uniform(r, [2, 3]),
        uniform(r, [2, 3]),
      ],
    },
  ],
  clamp: [
    {
      label: 'scalar bounds',
      inputs: (r) => [
        tensor([], [-0.5]),
        tensor([2, 4], Array.from({ length: 8 }, (_, i) => (i % 3 === 0 ? 0.55 + 0.4 * r() : i % 3 === 1 ? -0.55 - 0.4 * r() : -0.4 + 0.8 * r()))),
        tensor([], [0.5]),
      ],
    },
    {
      label: 'array bounds',
      inputs: (r) => [
        tensor([2, 3], [-0.5, -0.5, -0.5, 0.2, 0.2, 0.2]),
        tensor([2, 3], [-0.9, 0.1, 0.8, 0.0, 0.5, 0.9].map((v) => v + 0.02 * r())),
        tensor([2, 3], [0.6, 0.6, 0.6, 0.7, 0.7, 0.7]),
      ],
    },
  ],
  convert_element_type: [
    // Linear; quarter-valued inputs and step keep every evaluation exact in bf16.
    { inputs: () => [tensor([2, 3], [0.25, -1.5, 2, 0.75, -0.5, 1])], params: { newDtype: 'bf16' }, eps: 0.25 },
  ],
  broadcast_in_dim: [{ inputs: (r) => [uniform(r, [3, 1])], params: { shape: [2, 3, 4], broadcastDimensions: [1, 2] } }],
  reshape: [{ inputs: (r) => [uniform(r, [2, 3])], params: { newSizes: [3, 2] } }],
  transpose: [{ inputs: (r) => [uniform(r, [2, 3, 4])], params: { permutation: [2, 0, 1] } }],
  slice: [
    { label: 'strided', inputs: (r) => [uniform(r, [5, 6])], params: { startIndices: [1, 0], limitIndices: [4, 6], strides: [2, 3] } },
    { label: 'unit stride', inputs: (r) => [uniform(r, [4, 3])], params: { startIndices: [1, 1], limitIndices: [3, 3] } },
  ],
  dynamic_slice: [
    { label: 'in range', inputs: (r) => [uniform(r, [5, 4]), scalarI32(1), scalarI32(2)], params: { sliceSizes: [2, 2] } },
    { label: 'clamped start', inputs: (r) => [uniform(r, [5, 4]), scalarI32(4), scalarI32(-1)], params: { sliceSizes: [2, 3] } },
  ],
  dynamic_update_slice: [
    { inputs: (r) => [uniform(r, [4, 4]), uniform(r, [2, 3]), scalarI32(1), scalarI32(1)] },
    { label: 'clamped start', inputs: (r) => [uniform(r, [4, 4]), uniform(r, [2, 3]), scalarI32(3), scalarI32(5)] },
  ],
  pad: [
    {
      inputs: (r) => [uniform(r, [3, 4]), tensor([], [0.3])],
      params: { paddingConfig: [[1, -1, 1], [0, 2, 0]] },
    },
  ],
  concatenate: [{ inputs: (r) => [uniform(r, [2, 3]), uniform(r, [2, 1]), uniform(r, [2, 2])], params: { dimension: 1 } }],
  rev: [{ inputs: (r) => [uniform(r, [3, 4])], params: { dimensions: [1] } }],
  reduce_sum: [{ inputs: (r) => [uniform(r, [2, 3, 4])], params: { axes: [0, 2] } }],
  reduce_max: [{ inputs: (r) => [distinct(r, [3, 4])], params: { axes: [1] } }],
  reduce_min: [{ inputs: (r) => [distinct(r, [3, 4])], params: { axes: [0, 1] } }],
  reduce_prod: [
    { label: 'positive', inputs: (r) => [uniform(r, [3, 4], 0.5, 1.5)], params: { axes: [1] } },
    { label: 'with a zero', inputs: (r) => [tensor([2, 3], [0.7, 0, 1.2, -0.8, 1.1, 0.9].map((v) => v * (1 + 0.1 * r())))], params: { axes: [0, 1] } },
  ],
  cumsum: [{ inputs: (r) => [uniform(r, [3, 4])], params: { axis: 1, reverse: false } }],
  cumprod: [
    { label: 'forward', inputs: (r) => [uniform(r, [3, 4], 0.5, 1.5)], params: { axis: 1, reverse: false } },
    { label: 'reverse with a zero', inputs: () => [tensor([4, 2], [0.9, 1.1, 0, 0.8, 1.3, -0.7, 0.6, 1.2])], params: { axis: 0, reverse: true } },
  ],
  cummax: [{ inputs: (r) => [distinct(r, [3, 5])], params: { axis: 1, reverse: false } }],
  cummin: [{ inputs: (r) => [distinct(r, [4, 3])], params: { axis: 0, reverse: true } }],
  dot_general: [
    { label: 'matmul', inputs: (r) => [uniform(r, [3, 4]), uniform(r, [4, 2])], params: { contractingDims: [[1], [0]], batchDims: [[], []] } },
    {
      label: 'batched',
      inputs: (r) => [uniform(r, [2, 3, 4]), uniform(r, [2, 4, 5])],
      params: { contractingDims: [[2], [1]], batchDims: [[0], [0]] },
    },
    {
      label: 'two contracting dims in swapped order, batch dim last',
      inputs: (r) => [uniform(r, [2, 3, 4]), uniform(r, [4, 2, 5, 3])],
      params: { contractingDims: [[1, 2], [3, 0]], batchDims: [[0], [1]] },
    },
  ],
  conv_general_dilated: [
    {
      label: 'NHWC strided, padded, rhs-dilated',
      inputs: (r) => [uniform(r, [2, 5, 5, 3]), uniform(r, [3, 2, 3, 4])],
      params: { ...convDefaults, windowStrides: [2, 1], padding: [[1, 1], [0, 1]], rhsDilation: [1, 2], dimensionNumbers: nhwc },
    },
    {
      label: 'NCHW feature groups, lhs-dilated',
      inputs: (r) => [uniform(r, [2, 4, 3, 3]), uniform(r, [6, 2, 2, 2])],
      params: { ...convDefaults, windowStrides: [1, 1], padding: [[0, 0], [1, 0]], lhsDilation: [2, 1], featureGroupCount: 2, dimensionNumbers: nchw },
    },
    {
      label: 'NCHW batch groups',
      inputs: (r) => [uniform(r, [4, 3, 4, 4]), uniform(r, [6, 3, 2, 2])],
      params: { ...convDefaults, windowStrides: [1, 2], padding: [[0, 0], [0, 0]], batchGroupCount: 2, dimensionNumbers: nchw },
    },
  ],
  gather: [
    {
      label: 'rows, repeated and out-of-range indices',
      inputs: (r) => [uniform(r, [5, 4]), i32([4, 1], [3, 0, 3, 9])],
      params: { dimensionNumbers: { offsetDims: [1], collapsedSliceDims: [0], startIndexMap: [0] }, sliceSizes: [1, 4] },
    },
    {
      label: '2-d windows',
      inputs: (r) => [uniform(r, [5, 6]), i32([2, 2], [1, 2, 4, 5])],
      params: { dimensionNumbers: { offsetDims: [1, 2], collapsedSliceDims: [], startIndexMap: [0, 1] }, sliceSizes: [2, 3] },
    },
  ],
  scatter_add: [
    {
      label: 'rows, repeated and dropped indices',
      inputs: (r) => [uniform(r, [5, 4]), i32([4, 1], [2, 0, 2, 7]), uniform(r, [4, 4])],
      params: { dimensionNumbers: { updateWindowDims: [1], insertedWindowDims: [0], scatterDimsToOperandDims: [0] } },
    },
  ],
  sort: [
    { label: 'one operand', inputs: (r) => [distinct(r, [3, 5])], params: { dimension: 1, isStable: true, numKeys: 1 } },
    { label: 'key and payload', inputs: (r) => [distinct(r, [4, 3]), uniform(r, [4, 3])], params: { dimension: 0, isStable: true, numKeys: 1 } },
  ],
  top_k: [{ inputs: (r) => [distinct(r, [3, 6])], params: { k: 2 } }],
  approx_max_k: [{ inputs: (r) => [distinct(r, [2, 8])], params: approx }],
  approx_min_k: [{ inputs: (r) => [distinct(r, [2, 8])], params: approx }],
  reduce_window_sum: [
    {
      label: 'strided, padded',
      inputs: (r) => [uniform(r, [1, 5, 6, 2])],
      params: { windowDimensions: [1, 2, 3, 1], windowStrides: [1, 2, 1, 1], padding: [[0, 0], [1, 0], [0, 2], [0, 0]] },
    },
    {
      label: 'base and window dilation',
      inputs: (r) => [uniform(r, [4, 5])],
      params: { windowDimensions: [2, 2], windowStrides: [1, 2], padding: [[0, 1], [1, 1]], baseDilation: [2, 1], windowDilation: [1, 2] },
    },
  ],
  reduce_window_max: [
    {
      inputs: (r) => [distinct(r, [2, 5, 5])],
      params: { windowDimensions: [1, 2, 2], windowStrides: [1, 2, 1], padding: [[0, 0], [0, 1], [1, 0]] },
    },
  ],
  reduce_window_min: [
    {
      inputs: (r) => [distinct(r, [4, 6])],
      params: { windowDimensions: [3, 2], windowStrides: [1, 2], padding: [[1, 1], [0, 0]] },
    },
  ],
  select_and_scatter_add: [
    {
      // source has the window output's shape: [2, 3, 5] for this operand and window.
      inputs: (r) => [uniform(r, [2, 3, 5]), distinct(r, [2, 5, 5])],
      params: { windowDimensions: [1, 2, 2], windowStrides: [1, 2, 1], padding: [[0, 0], [0, 1], [1, 0]] },
      diff: [0],
    },
  ],
};

/** [test name, primitive, case, case index] for every case of every differentiable primitive. */
const ENTRIES = differentiableLayer1().flatMap((op) =>
  (CASES[op] ?? []).map((c, i) => [`${op}${c.label ? ` (${c.label})` : ''}`, op, c, i] as const),
);

/** The layer-1 primitives with a VJP rule (collectives are checked in collective_rules.test.ts). */
function differentiableLayer1(): PrimitiveName[] {
  const layer1 = new Set<string>(PRIMITIVES);
  return differentiablePrimitives().filter((n): n is PrimitiveName => layer1.has(n));
}

function floatIndices(xs: readonly Tensor[]): number[] {
  return xs.flatMap((x, i) => (isFloat(x.dtype) ? [i] : []));
}

/** x + s·v, rounded to x's dtype. */
function step(x: Tensor, v: Float64Array, s: number): Tensor {
  const xs = x.toNumbers();
  return tensor(x.shape, Array.from(xs, (xi, i) => xi + s * v[i]!), x.dtype);
}

function check(op: PrimitiveName, c: Case, seed: number): void {
  const r = rng(seed);
  const inputs = c.inputs(r);
  const params = c.params ?? {};
  const diff = c.diff ?? floatIndices(inputs);
  const eps = c.eps ?? EPS;
  const f = (...xs: Tensor[]): Tensor[] => {
    const all = [...inputs];
    diff.forEach((d, k) => (all[d] = xs[k]!));
    return bind(op, all, params);
  };
  const primals = diff.map((d) => inputs[d]!);
  const outs = f(...primals);
  const floatOuts = floatIndices(outs);
  const cts = outs.map((o) =>
    isFloat(o.dtype) ? (c.eps ? tensor(o.shape, Array.from({ length: o.size }, () => Math.round(4 * r() - 2) / 4), o.dtype) : uniform(r, o.shape, -1, 1, o.dtype)) : null,
  );
  const dirs = primals.map((p) => Float64Array.from({ length: p.size }, () => (c.eps ? Math.round(2 * r() - 1) : 2 * r() - 1)));
  const L = (xs: Tensor[]): number =>
    f(...xs).reduce((acc, o, i) => (cts[i] ? acc + dot(o.toNumbers(), cts[i]!.toNumbers()) : acc), 0);

  // Reverse mode.
  const [, vjpFn] = vjp((...xs: Tensor[]) => f(...xs), ...primals);
  const ctTree = outs.map((o, i) => cts[i] ?? tensor(o.shape, new Array(o.size).fill(0), o.dtype));
  const grads = vjpFn(ctTree) as Tensor[];
  grads.forEach((g, k) => {
    expect(g.dtype, `cotangent dtype of input ${diff[k]}`).toBe(primals[k]!.dtype);
    expect([...g.shape]).toEqual([...primals[k]!.shape]);
  });
  const gs = grads.map((g) => g.toNumbers());
  // Two directions: the random one, and one aligned with the gradient's signs, so that no
  // cancellation between elements can hide a wrong derivative.
  const aligned = dirs.map((d, k) => d.map((x, i) => Math.abs(x) * (gs[k]![i]! < 0 ? -1 : 1)));
  for (const v of [dirs, aligned]) {
    const vjpDot = gs.reduce((acc, g, k) => acc + dot(g, v[k]!), 0);
    const scale = Math.max(1e-2, gs.reduce((acc, g, k) => acc + dot(g.map(Math.abs), v[k]!.map(Math.abs)), 0));
    const fd = (L(primals.map((p, k) => step(p, v[k]!, eps))) - L(primals.map((p, k) => step(p, v[k]!, -eps)))) / (2 * eps);
    expect(Math.abs(vjpDot - fd), `VJP ${vjpDot} vs finite difference ${fd}`).toBeLessThanOrEqual(FD_TOL * scale);
  }

  // Forward mode, against reverse mode.
  const tangents = primals.map((p, k) => tensor(p.shape, dirs[k]!, p.dtype));
  const [, tOut] = jvp((...xs: Tensor[]) => f(...xs), primals, tangents);
  const jvpDot = floatOuts.reduce((acc, i) => acc + dot((tOut as Tensor[])[i]!.toNumbers(), cts[i]!.toNumbers()), 0);
  const vjpDot = gs.reduce((acc, g, k) => acc + dot(g, dirs[k]!), 0);
  const scale = Math.max(1e-2, gs.reduce((acc, g, k) => acc + dot(g.map(Math.abs), dirs[k]!.map(Math.abs)), 0));
  expect(Math.abs(jvpDot - vjpDot), `JVP ${jvpDot} vs VJP ${vjpDot}`).toBeLessThanOrEqual(JVP_TOL * scale);
}

describe('differentiation rule tables', () => {
  it('cover every primitive and collective, with a rule or an explicit non-differentiable marker, alike in both tables', () => {
    for (const name of [...PRIMITIVES, ...COLLECTIVE_PRIMITIVES]) {
      expect(VJP_RULES[name], name).toBeDefined();
      expect(JVP_RULES[name], name).toBeDefined();
      expect(VJP_RULES[name] === NON_DIFFERENTIABLE, name).toBe(JVP_RULES[name] === NON_DIFFERENTIABLE);
    }
    expect(Object.keys(VJP_RULES).sort()).toEqual([...PRIMITIVES, ...COLLECTIVE_PRIMITIVES].sort());
    expect(Object.keys(JVP_RULES).sort()).toEqual(Object.keys(VJP_RULES).sort());
  });

  it('have a gradient check case for every differentiable primitive', () => {
    const missing = differentiableLayer1().filter((n) => !CASES[n]?.length);
    expect(missing).toEqual([]);
  });
});

describe('gradient checks against central finite differences', () => {
  it.each(ENTRIES)('%s', (_name, op, c, i) => {
    check(op, c, 1000 + i * 7919 + op.length);
  });
});

describe('cotangent dtypes', () => {
  it('are bf16 for bf16 primals', () => {
    const x = uniform(rng(5), [2, 3], -1, 1, 'bf16');
    const w = uniform(rng(6), [3, 2], -1, 1, 'bf16');
    const [, vjpFn] = vjp(
      (a: Tensor, b: Tensor) => bind('tanh', [bind('dot_general', [a, b], { contractingDims: [[1], [0]], batchDims: [[], []], preferredElementType: 'f32' })[0]!], {})[0]!,
      x,
      w,
    );
    const [gx, gw] = vjpFn(uniform(rng(7), [2, 2])) as Tensor[];
    expect(gx!.dtype).toBe('bf16');
    expect(gw!.dtype).toBe('bf16');
    expect(sizeOf(gx!.shape)).toBe(6);
  });
});

/**
 * Second order: the VJP rules are themselves made of differentiable primitives. For
 * h(x) = ⟨vjp_f(x)(ct), w⟩, grad(h) (reverse over reverse) must match central finite
 * differences of h. h goes through twice as many f32 ops as f and its derivative is of a
 * derivative, so the tolerance is 2e-3 of the scale (observed errors stay below 1.1e-4).
 */
function checkSecondOrder(op: PrimitiveName, c: Case, seed: number): void {
  const r = rng(seed);
  const inputs = c.inputs(r);
  const params = c.params ?? {};
  const diff = c.diff ?? floatIndices(inputs);
  const eps = c.eps ?? EPS;
  const f = (...xs: Tensor[]): Tensor[] => {
    const all = [...inputs];
    diff.forEach((d, k) => (all[d] = xs[k]!));
    return bind(op, all, params);
  };
  const primals = diff.map((d) => inputs[d]!);
  const cts = f(...primals).map((o) =>
    isFloat(o.dtype) ? uniform(r, o.shape, -1, 1, o.dtype) : tensor(o.shape, new Array(o.size).fill(0), o.dtype),
  );
  const ws = primals.map((p) => uniform(r, p.shape, -1, 1, p.dtype));
  const h = (...xs: Tensor[]): Tensor => {
    const [, vjpFn] = vjp(f, ...xs);
    const gs = vjpFn(cts) as Tensor[];
    const terms = gs.map((g, k) => bind('reduce_sum', [bind('mul', [g, ws[k]!], {})[0]!], { axes: g.shape.map((_, i) => i) })[0]!);
    return terms.reduce((a, b) => bind('add', [a, b], {})[0]!);
  };
  const hv = grad(h, { argnums: primals.map((_, k) => k) })(...primals) as Tensor[];
  const gs = hv.map((g) => g.toNumbers());
  const dirs = primals.map((p) => Float64Array.from({ length: p.size }, () => 2 * r() - 1));
  const aligned = dirs.map((d, k) => d.map((x, i) => Math.abs(x) * (gs[k]![i]! < 0 ? -1 : 1)));
  for (const v of [dirs, aligned]) {
    const dotHv = gs.reduce((acc, g, k) => acc + dot(g, v[k]!), 0);
    const scale = Math.max(1e-2, gs.reduce((acc, g, k) => acc + dot(g.map(Math.abs), v[k]!.map(Math.abs)), 0));
    const fd = (h(...primals.map((p, k) => step(p, v[k]!, eps))).item() - h(...primals.map((p, k) => step(p, v[k]!, -eps))).item()) / (2 * eps);
    expect(Math.abs(dotHv - fd), `second order ${dotHv} vs finite difference ${fd}`).toBeLessThanOrEqual(2e-3 * scale);
  }
}

describe('second-order gradient checks (grad of a VJP) against central finite differences', () => {
  it.each(ENTRIES)('%s', (_name, op, c, i) => {
    checkSecondOrder(op, c, 5000 + i * 7919 + op.length);
  });
});

/**
 * bf16: every rule keeps the primal's dtype (cotangents of bf16 inputs are bf16, tangents of
 * bf16 outputs are bf16; a rule that mixed dtypes would fail its shape rule or the result
 * check in the transform). Values are compared with the f32 rules at the same bf16-rounded
 * point: each bf16 op rounds to 8 significant bits (relative 2^-9 ≈ 2e-3), and a rule is a
 * chain of a few ops, so 5e-2 of the scale Σ|g_i| is a safe bound.
 */
function checkBf16(op: PrimitiveName, c: Case, seed: number): void {
  const r = rng(seed);
  const inputs = c.inputs(r);
  const toBf16 = (x: Tensor): Tensor => (x.dtype === 'f32' ? tensor(x.shape, x.toNumbers(), 'bf16') : x);
  const toF32 = (x: Tensor): Tensor => (x.dtype === 'bf16' ? tensor(x.shape, x.toNumbers(), 'f32') : x);
  const params = c.params?.newDtype ? { newDtype: 'f32' } : (c.params ?? {});
  const diff = c.diff ?? floatIndices(inputs);
  const run = (xs: Tensor[]): { grads: Tensor[]; tangents: Tensor[] } => {
    const f = (...ds: Tensor[]): Tensor[] => {
      const all = [...xs];
      diff.forEach((d, k) => (all[d] = ds[k]!));
      return bind(op, all, params);
    };
    const primals = diff.map((d) => xs[d]!);
    const rc = rng(seed + 1);
    const [outs, vjpFn] = vjp(f, ...primals);
    const cts = (outs as Tensor[]).map((o) => (isFloat(o.dtype) ? uniform(rc, o.shape, -1, 1, o.dtype) : tensor(o.shape, new Array(o.size).fill(0), o.dtype)));
    const grads = vjpFn(cts) as Tensor[];
    const [, tangents] = jvp(f, primals, primals.map((p) => uniform(rc, p.shape, -1, 1, p.dtype)));
    return { grads, tangents: tangents as Tensor[] };
  };
  const low = run(inputs.map(toBf16));
  const high = run(inputs.map(toBf16).map(toF32));
  low.grads.forEach((g, k) => {
    expect(g.dtype, `cotangent of input ${diff[k]}`).toBe(inputs[diff[k]!]!.dtype === 'f32' ? 'bf16' : inputs[diff[k]!]!.dtype);
    const want = high.grads[k]!.toNumbers();
    const got = g.toNumbers();
    const scale = Math.max(1, want.reduce((s, x) => s + Math.abs(x), 0));
    const err = got.reduce((s, x, i) => s + Math.abs(x - want[i]!), 0);
    expect(err, `bf16 cotangent of input ${diff[k]} vs f32`).toBeLessThanOrEqual(5e-2 * scale);
  });
  low.tangents.forEach((t, i) => {
    if (isFloat(high.tangents[i]!.dtype)) expect(t.dtype).toBe(op === 'convert_element_type' ? 'f32' : 'bf16');
  });
}

describe('bf16 differentiation', () => {
  it.each(ENTRIES)('%s', (_name, op, c, i) => {
    checkBf16(op, c, 9000 + i * 7919 + op.length);
  });
});
