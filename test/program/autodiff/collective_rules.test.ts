/**
 * Gradient checks of the collectives' rules. Programs with collectives are per-core SPMD
 * programs, so each check traces one rank's program (forward, VJP, JVP) and runs it in
 * lockstep over every rank of a group with the collectives' reference semantics.
 *
 * With per-rank inputs x_r and cotangents ct_r, L = Σ_r ⟨ct_r, f(x)_r⟩; its derivative along
 * per-rank directions v_r must match Σ_r ⟨vjp_r, v_r⟩ (central differences, tolerance as in
 * gradcheck.test.ts: 1e-3 of Σ|g·v|) and Σ_r ⟨ct_r, jvp_r⟩ (to f32 rounding, 1e-4).
 *
 * psum follows shard_map (JAX's pbroadcast transpose): its result is device-invariant and
 * counts once, so its cotangent is the same on every rank and L = ⟨ct, f(x)_0⟩.
 */
import { describe, expect, it } from 'vitest';
import { COLLECTIVE_PRIMITIVES, type CollectiveName, isCollective, referenceCollective } from '../../../src/collectives/ops.js';
import { evalEager } from '../../../src/program/eager.js';
import type { Atom, OpParams, Program } from '../../../src/program/ir.js';
import { Tensor, bind, trace } from '../../../src/program/tracer.js';
import { jvp, vjp } from '../../../src/program/autodiff/api.js';
import { differentiablePrimitives } from '../../../src/program/autodiff/vjp.js';
import type { PrimitiveName } from '../../../src/tpu/ops.js';
import { type TensorView, tensorFrom, toNumbers } from '../../../src/tpu/tensor.js';
import { dot, rng, uniform } from './helpers.js';

const P = 3;
const axis = { axes: ['i'], axisSizes: [P] };

/** Runs a per-rank program over all P ranks in lockstep; collectives use their reference semantics. */
function lockstep(program: Program, inputs: readonly (readonly TensorView[])[]): TensorView[][] {
  const envs = inputs.map((ins) => new Map(program.inputs.map((v, i) => [v.id, ins[i]!] as const)));
  const read = (r: number, a: Atom): TensorView => (a.kind === 'const' ? a.value : envs[r]!.get(a.id)!);
  for (const eq of program.equations) {
    const ins = envs.map((_, r) => eq.inputs.map((a) => read(r, a)));
    const outs = isCollective(eq.op)
      ? referenceCollective(eq.op, eq.params as OpParams[CollectiveName], ins)
      : ins.map((x) => evalEager(eq.op as PrimitiveName, eq.params as never, x));
    outs.forEach((o, r) => eq.outputs.forEach((v, j) => envs[r]!.set(v.id, o[j]!)));
  }
  return envs.map((_, r) => program.outputs.map((a) => read(r, a)));
}

interface Case {
  readonly label: string;
  readonly op: CollectiveName;
  readonly params: object;
  readonly shape: number[];
  /** The output is device-invariant and counts once (psum under shard_map). */
  readonly invariantOutput?: boolean;
}

const CASES: Case[] = [
  { label: 'psum', op: 'psum', params: axis, shape: [2, 3], invariantOutput: true },
  { label: 'all_gather stacked', op: 'all_gather', params: { ...axis, axis: 0, tiled: false }, shape: [2, 2] },
  { label: 'all_gather tiled', op: 'all_gather', params: { ...axis, axis: 1, tiled: true }, shape: [2, 2] },
  { label: 'psum_scatter tiled', op: 'psum_scatter', params: { ...axis, scatterDimension: 1, tiled: true }, shape: [2, 6] },
  { label: 'psum_scatter untiled', op: 'psum_scatter', params: { ...axis, scatterDimension: 0, tiled: false }, shape: [3, 2] },
  { label: 'all_to_all', op: 'all_to_all', params: { ...axis, splitAxis: 0, concatAxis: 1, tiled: true }, shape: [6, 2] },
  { label: 'ppermute', op: 'ppermute', params: { ...axis, perm: [[0, 1], [1, 2]] }, shape: [2, 2] },
];

/** Collectives whose rules raise an error (pmax/pmin, as in JAX). */
const NOT_DIFFERENTIABLE: readonly CollectiveName[] = ['pmax', 'pmin'];

function check(c: Case, seed: number): void {
  const r = rng(seed);
  const xAval = { dtype: 'f32' as const, shape: c.shape };
  const f = (x: Tensor): Tensor => bind(c.op, [x], c.params as never)[0]!;
  const forward = trace((x: Tensor) => [f(x)], [xAval]).program;
  const outAval = forward.outputs[0]!.aval;
  const backward = trace((x: Tensor, ct: Tensor) => vjp(f, x)[1](ct) as Tensor[], [xAval, outAval]).program;
  const tangent = trace((x: Tensor, t: Tensor) => [jvp(f, [x], [t])[1] as Tensor], [xAval, xAval]).program;

  const n = c.shape.reduce((a, b) => a * b, 1);
  const xs = Array.from({ length: P }, () => uniform(r, c.shape).value());
  const ct0 = uniform(r, outAval.shape).value();
  const cts = Array.from({ length: P }, (_, k) => (c.invariantOutput || k === 0 ? ct0 : uniform(r, outAval.shape).value()));
  const counted = c.invariantOutput ? 1 : P; // ranks whose outputs L counts
  const dirs = Array.from({ length: P }, () => Float64Array.from({ length: n }, () => 2 * r() - 1));

  const grads = lockstep(backward, xs.map((x, k) => [x, cts[k]!])).map((o) => toNumbers(o[0]!));
  const L = (s: number): number =>
    lockstep(forward, xs.map((x, k) => [tensorFrom('f32', c.shape, Array.from(toNumbers(x), (xi, i) => xi + s * dirs[k]![i]!))]))
      .slice(0, counted)
      .reduce((acc, o, k) => acc + dot(toNumbers(o[0]!), toNumbers(cts[k]!)), 0);
  const eps = 3e-3;
  const fd = (L(eps) - L(-eps)) / (2 * eps);
  const vjpDot = grads.reduce((acc, g, k) => acc + dot(g, dirs[k]!), 0);
  const scale = Math.max(1e-2, grads.reduce((acc, g, k) => acc + dot(g.map(Math.abs), dirs[k]!.map(Math.abs)), 0));
  expect(Math.abs(vjpDot - fd), `VJP ${vjpDot} vs finite difference ${fd}`).toBeLessThanOrEqual(1e-3 * scale);

  const tangents = lockstep(tangent, xs.map((x, k) => [x, tensorFrom('f32', c.shape, dirs[k]!)]));
  const jvpDot = tangents.slice(0, counted).reduce((acc, o, k) => acc + dot(toNumbers(o[0]!), toNumbers(cts[k]!)), 0);
  expect(Math.abs(jvpDot - vjpDot), `JVP ${jvpDot} vs VJP ${vjpDot}`).toBeLessThanOrEqual(1e-4 * scale);
}

describe('collective differentiation rules', () => {
  it('have a check for every differentiable collective', () => {
    const collectives = new Set<string>(COLLECTIVE_PRIMITIVES);
    const covered = new Set<CollectiveName>([...CASES.map((c) => c.op), ...NOT_DIFFERENTIABLE]);
    expect(differentiablePrimitives().filter((n) => collectives.has(n) && !covered.has(n as CollectiveName))).toEqual([]);
  });

  it.each(CASES.map((c, i) => [c.label, c, i] as const))('%s matches finite differences, and JVP matches VJP', (_l, c, i) => {
    check(c, 300 + 17 * i);
  });

  it.each(NOT_DIFFERENTIABLE)('%s is an error to differentiate, as in JAX', (op) => {
    const f = (x: Tensor): Tensor => bind(op, [x], axis)[0]!;
    const aval = { dtype: 'f32' as const, shape: [2] };
    expect(() => trace((x: Tensor, ct: Tensor) => vjp(f, x)[1](ct) as Tensor[], [aval, aval])).toThrow(/not differentiable/);
    expect(() => trace((x: Tensor, t: Tensor) => [jvp(f, [x], [t])[1] as Tensor], [aval, aval])).toThrow(/not differentiable/);
  });

  it('transposes all_gather into psum_scatter in the backward program', () => {
    const f = (x: Tensor): Tensor => bind('all_gather', [x], { ...axis, axis: 0, tiled: true })[0]!;
    const { program } = trace((x: Tensor, ct: Tensor) => vjp(f, x)[1](ct) as Tensor[], [
      { dtype: 'f32', shape: [2] },
      { dtype: 'f32', shape: [6] },
    ]);
    expect(program.equations.map((e) => e.op)).toEqual(['all_gather', 'psum_scatter']);
  });
});
