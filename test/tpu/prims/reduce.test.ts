import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { REDUCE_PRIMS as P } from '../../../src/tpu/prims/reduce.js';
import { arange, run, run1, t } from './run.js';

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const E24 = 2 ** -24; // half an f32 ulp at 1

describe('reduce table', () => {
  it('defines exactly its primitives, each under its own name', () => {
    const names = ['reduce_sum','reduce_max','reduce_min','reduce_prod','reduce_and','reduce_or','argmax','argmin','cumsum','cumprod','cummax','cummin'];
    expect(Object.keys(P).sort()).toEqual([...names].sort());
    for (const n of names) expect(P[n as keyof typeof P].name).toBe(n);
  });
});

describe('reduce_*', () => {
  it('reduce_sum over any set of axes', () => {
    const x = arange('f32', [2, 3]);
    expect(run1(P.reduce_sum, [x], { axes: [1] })).toEqual([3, 12]);
    expect(run1(P.reduce_sum, [x], { axes: [0] })).toEqual([3, 5, 7]);
    const [all] = run(P.reduce_sum, [x], { axes: [1, 0] });
    expect(all!.shape).toEqual([]);
    expect([...all!.data]).toEqual([15]);
    expect(run1(P.reduce_sum, [x], { axes: [] })).toEqual([0, 1, 2, 3, 4, 5]);
    expect(run1(P.reduce_sum, [t('f32', [2, 0], [])], { axes: [1] })).toEqual([0, 0]);
  });

  it('f32 sums are sequential in row-major order', () => {
    // 1 + 2^-24 ties back to 1 each step; summing the small ones first would give 1 + 2^-23.
    expect(run1(P.reduce_sum, [t('f32', [3], [1, E24, E24])], { axes: [0] })).toEqual([1]);
    expect(run1(P.reduce_sum, [t('f32', [3], [E24, E24, 1])], { axes: [0] })).toEqual([1 + 2 ** -23]);
  });

  it('bf16 accumulates in f32 and rounds once on store', () => {
    // In bf16 each 1 + 2^-8 would tie back to 1; in f32 the four 2^-8 add up to 2^-6.
    const x = t('bf16', [5], [1, 2 ** -8, 2 ** -8, 2 ** -8, 2 ** -8]);
    expect(run1(P.reduce_sum, [x], { axes: [0] })).toEqual([1 + 2 ** -6]);
  });

  it('i32 sums and products wrap', () => {
    expect(run1(P.reduce_sum, [t('i32', [2], [INT_MAX, 1])], { axes: [0] })).toEqual([INT_MIN]);
    expect(run1(P.reduce_prod, [t('i32', [2], [65536, 65536])], { axes: [0] })).toEqual([0]);
    expect(run1(P.reduce_prod, [t('f32', [2, 2], [1, 2, 3, 4])], { axes: [0, 1] })).toEqual([24]);
  });

  it('reduce_max and reduce_min propagate NaN; empty reductions give the identity', () => {
    const x = t('f32', [2, 3], [1, NaN, 3, -1, -5, 2]);
    expect(run1(P.reduce_max, [x], { axes: [1] })).toEqual([NaN, 2]);
    expect(run1(P.reduce_min, [x], { axes: [1] })).toEqual([NaN, -5]);
    expect(run1(P.reduce_max, [t('f32', [0], [])], { axes: [0] })).toEqual([-Infinity]);
    expect(run1(P.reduce_min, [t('bf16', [0], [])], { axes: [0] })).toEqual([Infinity]);
    expect(run1(P.reduce_max, [t('i32', [0], [])], { axes: [0] })).toEqual([INT_MIN]);
    expect(run1(P.reduce_min, [t('i32', [3], [4, -2, 9])], { axes: [0] })).toEqual([-2]);
    expect(run1(P.reduce_max, [t('bool', [2, 2], [0, 0, 0, 1])], { axes: [1] })).toEqual([0, 1]);
  });

  it('reduce_and and reduce_or on bool and i32', () => {
    const b = t('bool', [2, 2], [1, 1, 1, 0]);
    expect(run1(P.reduce_and, [b], { axes: [1] })).toEqual([1, 0]);
    expect(run1(P.reduce_or, [b], { axes: [0] })).toEqual([1, 1]);
    expect(run1(P.reduce_and, [t('i32', [2], [0b1110, 0b0111])], { axes: [0] })).toEqual([0b0110]);
    expect(run1(P.reduce_or, [t('i32', [2], [0b1000, 0b0001])], { axes: [0] })).toEqual([0b1001]);
    expect(run1(P.reduce_and, [t('i32', [0], [])], { axes: [0] })).toEqual([-1]);
  });

  it('rejects bad dtypes and axes, naming op and shape', () => {
    expect(() => P.reduce_sum.shape([{ dtype: 'bool', shape: [3] }], { axes: [0] })).toThrow(/^reduce_sum: operand dtype bool.*bool\[3\]\)$/);
    expect(() => P.reduce_and.shape([{ dtype: 'f32', shape: [3] }], { axes: [0] })).toThrow(/reduce_and: operand dtype f32/);
    expect(() => P.reduce_max.shape([{ dtype: 'f32', shape: [3] }], { axes: [1] })).toThrow(/reduce_max: axes \[1\] has 1, out of range/);
    expect(() => P.reduce_min.shape([{ dtype: 'f32', shape: [3, 2] }], { axes: [0, 0] })).toThrow(/repeats 0/);
    expect(() => P.reduce_prod.shape([], { axes: [] })).toThrow(ShapeError);
  });

  it('reduce_sum equals the sequential f32 sum over the reduced axes (property)', () => {
    const arb = fc.record({
      a: fc.integer({ min: 1, max: 4 }),
      b: fc.integer({ min: 0, max: 5 }),
      c: fc.integer({ min: 1, max: 4 }),
      seed: fc.array(fc.float({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 80, maxLength: 80 }),
    });
    fc.assert(
      fc.property(arb, ({ a, b, c, seed }) => {
        const values = Array.from({ length: a * b * c }, (_, i) => seed[i % seed.length]!);
        const x = t('f32', [a, b, c], values);
        const at = (i: number, j: number, k: number) => values[(i * b + j) * c + k]!;
        // Reduce the outer axes [0, 2], keep axis 1: order is i, then k.
        const got = run1(P.reduce_sum, [x], { axes: [2, 0] });
        for (let j = 0; j < b; j++) {
          let acc = 0;
          for (let i = 0; i < a; i++) for (let k = 0; k < c; k++) acc = Math.fround(acc + at(i, j, k));
          expect(got[j]).toBe(acc);
        }
      }),
    );
  });
});

describe('argmax and argmin', () => {
  it('first index on ties; NaN wins (first NaN)', () => {
    expect(run1(P.argmax, [t('f32', [4], [1, 3, 3, 2])], { axis: 0, indexDtype: 'i32' })).toEqual([1]);
    expect(run1(P.argmax, [t('f32', [4], [1, NaN, 5, NaN])], { axis: 0, indexDtype: 'i32' })).toEqual([1]);
    expect(run1(P.argmin, [t('f32', [3], [2, -1, NaN])], { axis: 0, indexDtype: 'i32' })).toEqual([2]);
    expect(run1(P.argmin, [t('f32', [3], [NaN, -1, NaN])], { axis: 0, indexDtype: 'i32' })).toEqual([0]);
    expect(run1(P.argmax, [t('f32', [2], [-0, 0])], { axis: 0, indexDtype: 'i32' })).toEqual([0]);
    expect(run1(P.argmin, [t('i32', [3], [5, -7, -7])], { axis: 0, indexDtype: 'i32' })).toEqual([1]);
  });

  it('reduces along any axis and returns i32', () => {
    const x = t('bf16', [2, 3], [1, 9, 2, 8, 0, 7]);
    const [cols] = run(P.argmax, [x], { axis: 0, indexDtype: 'i32' });
    expect(cols!.dtype).toBe('i32');
    expect(cols!.shape).toEqual([3]);
    expect([...cols!.data]).toEqual([1, 0, 1]);
    expect(run1(P.argmin, [x], { axis: 1, indexDtype: 'i32' })).toEqual([0, 1]);
  });

  it('rejects an empty axis and a non-i32 index dtype', () => {
    expect(() => P.argmax.shape([{ dtype: 'f32', shape: [2, 0] }], { axis: 1, indexDtype: 'i32' })).toThrow(/argmax: axis 1 has size 0.*f32\[2,0\]/);
    expect(() => P.argmin.shape([{ dtype: 'f32', shape: [2] }], { axis: 0, indexDtype: 'f32' })).toThrow(/argmin: indexDtype f32/);
    expect(() => P.argmin.shape([{ dtype: 'f32', shape: [2] }], { axis: 1, indexDtype: 'i32' })).toThrow(/axis 1 out of range/);
  });
});

describe('cumulative ops', () => {
  it('cumsum, cumprod, cummax, cummin with reverse', () => {
    const x = t('f32', [4], [1, 2, 3, 4]);
    expect(run1(P.cumsum, [x], { axis: 0, reverse: false })).toEqual([1, 3, 6, 10]);
    expect(run1(P.cumsum, [x], { axis: 0, reverse: true })).toEqual([10, 9, 7, 4]);
    expect(run1(P.cumprod, [x], { axis: 0, reverse: false })).toEqual([1, 2, 6, 24]);
    const y = t('i32', [4], [1, 3, 2, 5]);
    expect(run1(P.cummax, [y], { axis: 0, reverse: false })).toEqual([1, 3, 3, 5]);
    expect(run1(P.cummin, [y], { axis: 0, reverse: true })).toEqual([1, 2, 2, 5]);
  });

  it('walks the chosen axis of a matrix', () => {
    const m = arange('i32', [2, 3]);
    expect(run1(P.cumsum, [m], { axis: 0, reverse: false })).toEqual([0, 1, 2, 3, 5, 7]);
    expect(run1(P.cumsum, [m], { axis: 1, reverse: false })).toEqual([0, 1, 3, 3, 7, 12]);
    expect(run1(P.cumsum, [m], { axis: 1, reverse: true })).toEqual([3, 3, 2, 12, 9, 5]);
  });

  it('NaN propagates through cummax; bf16 accumulates in f32; i32 wraps', () => {
    expect(run1(P.cummax, [t('f32', [3], [1, NaN, 3])], { axis: 0, reverse: false })).toEqual([1, NaN, NaN]);
    // f32 running sums 1, 1 + 2^-8, 1 + 2^-7 stored as bf16: the middle one ties to even (1).
    expect(run1(P.cumsum, [t('bf16', [3], [1, 2 ** -8, 2 ** -8])], { axis: 0, reverse: false })).toEqual([1, 1, 1 + 2 ** -7]);
    expect(run1(P.cumsum, [t('i32', [2], [INT_MAX, 1])], { axis: 0, reverse: false })).toEqual([INT_MAX, INT_MIN]);
  });

  it('rejects bool sums and bad axes', () => {
    expect(() => P.cumsum.shape([{ dtype: 'bool', shape: [3] }], { axis: 0, reverse: false })).toThrow(/^cumsum: operand dtype bool/);
    expect(() => P.cummax.shape([{ dtype: 'f32', shape: [3] }], { axis: 2, reverse: false })).toThrow(/cummax: axis 2 out of range.*f32\[3\]/);
  });

  it('the last cumsum equals reduce_sum along the axis (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ noNaN: true, min: -1e4, max: 1e4 }), { minLength: 1, maxLength: 40 }), fc.boolean(), (vals, reverse) => {
        const x = t('f32', [vals.length], vals);
        const c = run1(P.cumsum, [x], { axis: 0, reverse });
        const ordered = reverse ? [...vals].reverse() : vals;
        const s = run1(P.reduce_sum, [t('f32', [vals.length], ordered)], { axes: [0] })[0];
        expect(c[reverse ? 0 : vals.length - 1]).toBe(s);
      }),
    );
  });
});
