import { describe, expect, it } from 'vitest';
import type { DType } from '../../../src/tpu/dtype.js';
import { ReduceKind } from '../../../src/tpu/fast/backend.js';
import { makeReduce } from '../../../src/tpu/fast/reduce.js';
import { makeTopK } from '../../../src/tpu/fast/top_k.js';
import { BACKENDS } from './backends.js';
import { absTensor, outputsFor, randomTensor, reference, rng, untouched, worstError } from './helpers.js';

interface ReduceCase {
  readonly shape: readonly number[];
  readonly axes: readonly number[];
}

const REDUCE_CASES: ReduceCase[] = [
  { shape: [1000], axes: [0] },
  { shape: [13, 37], axes: [1] },
  { shape: [13, 37], axes: [0] },
  { shape: [4, 6, 5], axes: [1] },
  { shape: [4, 6, 5], axes: [1, 2] },
  { shape: [3, 4, 6, 5], axes: [0, 1] },
  { shape: [5, 0, 3], axes: [1] },
  { shape: [7, 9], axes: [] },
];

const KINDS = [
  ['reduce_sum', ReduceKind.Sum],
  ['reduce_max', ReduceKind.Max],
  ['reduce_min', ReduceKind.Min],
] as const;

describe.each(BACKENDS)('reductions fast path on $label', ({ backend }) => {
  for (const [name, kind] of KINDS) {
    const kernel = makeReduce<typeof name>(backend, kind);
    for (const dtype of ['f32', 'bf16'] as DType[]) {
      it.each(REDUCE_CASES)(`${name} ${dtype} $shape over $axes matches the reference`, ({ shape, axes }) => {
        const next = rng(shape.reduce((a, b) => a * 7 + b, axes.length));
        const x = randomTensor(dtype, shape, next);
        const params = { axes };
        const out = outputsFor(name, [x], params);
        expect(kernel([x], out, params)).toBe(true);
        const ref = reference(name, [x], params)[0]!;
        if (kind === ReduceKind.Sum) {
          const absSum = reference(name, [absTensor(x)], params)[0]!;
          let terms = 1;
          for (const a of axes) terms *= shape[a]!;
          expect(worstError(out[0]!, ref, absSum, terms)).toBeLessThanOrEqual(1);
        } else {
          // max and min do no arithmetic: bit-exact.
          expect([...out[0]!.data]).toEqual([...ref.data]);
        }
      });
    }

    it(`${name} propagates NaN like the reference`, () => {
      const x = randomTensor('f32', [3, 40], rng(9));
      x.data[45] = NaN;
      x.data[119] = NaN;
      const params = { axes: [1] };
      const out = outputsFor(name, [x], params);
      expect(kernel([x], out, params)).toBe(true);
      const ref = reference(name, [x], params)[0]!;
      expect(Number.isNaN(out[0]!.data[1]!)).toBe(true);
      expect(Number.isNaN(out[0]!.data[2]!)).toBe(true);
      expect(out[0]!.data[0]).toBeCloseTo(ref.data[0]!, 4);
    });
  }

  it('orders signed zeros like the reference (max(-0, +0) = +0, min = -0), bit for bit', () => {
    const x = { dtype: 'f32' as const, shape: [4, 20], data: new Float32Array(80) };
    for (let i = 0; i < 80; i++) x.data[i] = i % 3 === 0 ? -0 : 0;
    x.data[20] = -0; // rows start with either sign
    x.data[40] = 0;
    for (const [name, kind] of KINDS) {
      const kernel = makeReduce<typeof name>(backend, kind);
      for (const axes of [[1], [0]]) {
        const out = outputsFor(name, [x], { axes });
        expect(kernel([x], out, { axes })).toBe(true);
        const ref = reference(name, [x], { axes })[0]!;
        expect([...new Uint32Array(new Float32Array(out[0]!.data as Float32Array).buffer)]).toEqual([
          ...new Uint32Array(new Float32Array(ref.data as Float32Array).buffer),
        ]);
      }
    }
  });

  it('declines non-adjacent axes, writing nothing', () => {
    const kernel = makeReduce<'reduce_sum'>(backend, ReduceKind.Sum);
    const x = randomTensor('f32', [3, 4, 5], rng(1));
    const params = { axes: [0, 2] };
    const out = outputsFor('reduce_sum', [x], params);
    expect(kernel([x], out, params)).toBe(false);
    expect(untouched(out[0]!)).toBe(true);
  });
});

describe.each(BACKENDS)('top_k fast path on $label', ({ backend }) => {
  const topK = makeTopK(backend);
  const cases = [
    { shape: [300], k: 5, ties: false },
    { shape: [17, 64], k: 64, ties: false },
    { shape: [9, 200], k: 1, ties: false },
    { shape: [6, 333], k: 40, ties: true },
    { shape: [2, 3, 50], k: 0, ties: true },
  ];
  for (const dtype of ['f32', 'bf16'] as DType[]) {
    it.each(cases)(`${dtype} $shape k=$k (ties: $ties) matches the reference exactly`, ({ shape, k, ties }) => {
      const next = rng(shape.reduce((a, b) => a * 13 + b, k));
      // With ties: small integers, plus -0, +0 and NaN, exercising the total order and index tie-break.
      const gen = ties
        ? () => {
            const u = next();
            return u < 0.05 ? NaN : u < 0.15 ? -0 : u < 0.25 ? 0 : Math.floor(next() * 9) - 4;
          }
        : undefined;
      const x = randomTensor(dtype, shape, next, gen);
      const params = { k };
      const out = outputsFor('top_k', [x], params);
      expect(topK([x], out, params)).toBe(true);
      const ref = reference('top_k', [x], params);
      expect([...out[1]!.data]).toEqual([...ref[1]!.data]);
      const bits = (t: typeof x) =>
        dtype === 'bf16' ? [...t.data] : [...new Uint32Array(new Float32Array(t.data as Float32Array).buffer)];
      expect(bits(out[0]!)).toEqual(bits(ref[0]!));
    });
  }

  it('declines an i32 operand, writing nothing', () => {
    const x = { dtype: 'i32' as const, shape: [4], data: new Int32Array([3, 1, 2, 0]) };
    const out = outputsFor('top_k', [x], { k: 2 });
    expect(topK([x], out, { k: 2 })).toBe(false);
    expect(untouched(out[0]!) && untouched(out[1]!)).toBe(true);
  });
});

