import { describe, expect, it } from 'vitest';
import type { DType } from '../../../src/tpu/dtype.js';
import { makeDotGeneral } from '../../../src/tpu/fast/dot.js';
import type { PrimitiveParams } from '../../../src/tpu/ops.js';
import { hostTensor } from '../../../src/tpu/tensor.js';
import { BACKENDS } from './backends.js';
import { absTensor, outputsFor, randomTensor, reference, rng, untouched, worstError } from './helpers.js';

type DotParams = PrimitiveParams['dot_general'];

interface DotCase {
  readonly name: string;
  readonly lhs: readonly number[];
  readonly rhs: readonly number[];
  readonly params: DotParams;
}

const mm = (c: [number[], number[]], b: [number[], number[]] = [[], []]): DotParams => ({ contractingDims: c, batchDims: b });

// Sizes straddle every backend's blocking: native avx2 mc/kc/nc 96/512/4080, generic
// 128/256/4096, wasm 64/256/2048, js 64/256/1024; microtiles 6x16, 4x16, 4x8, 4x4.
const CASES: DotCase[] = [
  { name: '1x1x1', lhs: [1, 1], rhs: [1, 1], params: mm([[1], [0]]) },
  { name: 'odd 7x13x5', lhs: [7, 13], rhs: [13, 5], params: mm([[1], [0]]) },
  { name: 'k across kc blocks 37x600x29', lhs: [37, 600], rhs: [600, 29], params: mm([[1], [0]]) },
  { name: 'm across mc blocks 130x65x70', lhs: [130, 65], rhs: [65, 70], params: mm([[1], [0]]) },
  { name: 'n across nc blocks 3x5x4100', lhs: [3, 5], rhs: [5, 4100], params: mm([[1], [0]]) },
  { name: 'transposed lhs (k, m)', lhs: [40, 21], rhs: [40, 19], params: mm([[0], [0]]) },
  { name: 'transposed rhs (n, k): A B^T', lhs: [23, 50], rhs: [17, 50], params: mm([[1], [1]]) },
  { name: 'batched [b,m,k] x [b,k,n]', lhs: [3, 9, 20], rhs: [3, 20, 11], params: mm([[2], [1]], [[0], [0]]) },
  { name: 'batch dim in the middle [m,b,k] x [b,n,k]', lhs: [10, 4, 33], rhs: [4, 9, 33], params: mm([[2], [2]], [[1], [0]]) },
  { name: 'two contracting dims', lhs: [6, 5, 7], rhs: [5, 7, 13], params: mm([[1, 2], [0, 1]]) },
  { name: 'two free dims each side', lhs: [3, 4, 17], rhs: [17, 2, 5], params: mm([[2], [0]]) },
  { name: 'vector . matrix', lhs: [31], rhs: [31, 12], params: mm([[0], [0]]) },
  { name: 'outer product (no contraction)', lhs: [9], rhs: [14], params: mm([[], []]) },
  { name: 'empty contraction size 0', lhs: [4, 0], rhs: [0, 6], params: mm([[1], [0]]) },
];

const DTYPES: { readonly input: DType; readonly out?: DType }[] = [
  { input: 'f32' },
  { input: 'bf16' },
  { input: 'bf16', out: 'f32' },
];

describe.each(BACKENDS)('dot_general fast path on $label', ({ backend }) => {
  const dot = makeDotGeneral(backend);
  for (const dt of DTYPES) {
    it.each(CASES)(`$name, ${dt.input} -> ${dt.out ?? dt.input}, matches the reference`, (c) => {
      const next = rng(c.lhs.length * 1000 + c.rhs.reduce((a, b) => a * 31 + b, 7));
      const params: DotParams = dt.out ? { ...c.params, preferredElementType: dt.out } : c.params;
      const lhs = randomTensor(dt.input, c.lhs, next);
      const rhs = randomTensor(dt.input, c.rhs, next);
      const out = outputsFor('dot_general', [lhs, rhs], params);
      expect(dot([lhs, rhs], out, params)).toBe(true);
      const ref = reference('dot_general', [lhs, rhs], params)[0]!;
      const absSum = reference('dot_general', [absTensor(lhs), absTensor(rhs)], params)[0]!;
      let terms = 1;
      for (const d of c.params.contractingDims[0]) terms *= c.lhs[d]!;
      expect(worstError(out[0]!, ref, absSum, terms)).toBeLessThanOrEqual(1);
    });
  }

  it('declines layouts it cannot flatten, and i32, writing nothing', () => {
    const next = rng(5);
    // Contracting dims listed against row-major order: (k2, k1) does not flatten to one stride.
    const lhs = randomTensor('f32', [4, 3, 5], next);
    const rhs = randomTensor('f32', [5, 3, 6], next);
    const params = mm([[2, 1], [0, 1]]);
    const out = outputsFor('dot_general', [lhs, rhs], params);
    expect(dot([lhs, rhs], out, params)).toBe(false);
    expect(untouched(out[0]!)).toBe(true);

    const li = hostTensor('i32', [2, 3]);
    const ri = hostTensor('i32', [3, 2]);
    const outI = outputsFor('dot_general', [li, ri], mm([[1], [0]]));
    expect(dot([li, ri], outI, mm([[1], [0]]))).toBe(false);
    expect(untouched(outI[0]!)).toBe(true);
  });

  it('reads and writes views into a SharedArrayBuffer arena in place', () => {
    const next = rng(11);
    const sab = new SharedArrayBuffer(4096 * 4);
    const lhs = { dtype: 'f32' as const, shape: [8, 12], data: new Float32Array(sab, 64, 96) };
    const rhs = { dtype: 'f32' as const, shape: [12, 10], data: new Float32Array(sab, 64 + 96 * 4, 120) };
    const out = { dtype: 'f32' as const, shape: [8, 10], data: new Float32Array(sab, 4096, 80) };
    for (const t of [lhs, rhs]) for (let i = 0; i < t.data.length; i++) t.data[i] = next() - 0.5;
    const guard = new Float32Array(sab, 4096 + 80 * 4, 16).fill(42);
    const params = mm([[1], [0]]);
    expect(dot([lhs, rhs], [out], params)).toBe(true);
    const ref = reference('dot_general', [lhs, rhs], params)[0]!;
    const absSum = reference('dot_general', [absTensor(lhs), absTensor(rhs)], params)[0]!;
    expect(worstError(out, ref, absSum, 12)).toBeLessThanOrEqual(1);
    expect([...guard].every((v) => v === 42)).toBe(true);
  });
});
