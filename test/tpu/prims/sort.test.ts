import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SORT_PRIMS } from '../../../src/tpu/prims/sort.js';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { type TensorView, tensorFrom, toNumbers } from '../../../src/tpu/tensor.js';
import { runDef } from './run_def.js';

const sort = (inputs: TensorView[], dimension: number, numKeys = 1) =>
  runDef(SORT_PRIMS.sort, inputs, { dimension, isStable: true, numKeys });
const topK = (x: TensorView, k: number) => runDef(SORT_PRIMS.top_k, [x], { k });

describe('sort by hand', () => {
  it('sorts ascending with NaN last', () => {
    const [out] = sort([tensorFrom('f32', [5], [3, NaN, -Infinity, 1, Infinity])], 0);
    expect([...toNumbers(out!)]).toEqual([-Infinity, 1, 3, Infinity, NaN]);
  });

  it('treats -0 and +0 as equal keys (JAX canonicalises them), keeping input order and signs', () => {
    const keys = tensorFrom('f32', [4], [0, -0, -1, 0]);
    const tags = tensorFrom('i32', [4], [0, 1, 2, 3]);
    const [k, t] = sort([keys, tags], 0);
    expect([...toNumbers(t!)]).toEqual([2, 0, 1, 3]);
    expect(Object.is(toNumbers(k!)[2], -0)).toBe(true);
  });

  it('permutes every operand by the keys, lexicographically over numKeys', () => {
    const a = tensorFrom('i32', [5], [2, 1, 2, 1, 0]);
    const b = tensorFrom('f32', [5], [9, 8, 7, 8, 5]);
    const c = tensorFrom('i32', [5], [0, 1, 2, 3, 4]);
    const [, , byA] = sort([a, b, c], 0, 1);
    expect([...toNumbers(byA!)]).toEqual([4, 1, 3, 0, 2]);
    const [, , byAB] = sort([a, b, c], 0, 2);
    expect([...toNumbers(byAB!)]).toEqual([4, 1, 3, 2, 0]);
  });

  it('sorts along a leading dimension and keeps bf16 bits', () => {
    const x = tensorFrom('bf16', [3, 2], [3, 0.5, 1, 2.5, 2, 1.5]);
    const [out] = sort([x], 0);
    expect([...toNumbers(out!)]).toEqual([1, 0.5, 2, 1.5, 3, 2.5]);
    expect(out!.dtype).toBe('bf16');
  });

  it('rejects a bad dimension, numKeys or mismatched shapes', () => {
    const v = { shape: [2, 3], dtype: 'f32' as const };
    expect(() => SORT_PRIMS.sort.shape([v], { dimension: 2, isStable: true, numKeys: 1 })).toThrow(ShapeError);
    expect(() => SORT_PRIMS.sort.shape([v], { dimension: 0, isStable: true, numKeys: 2 })).toThrow(/numKeys/);
    expect(() => SORT_PRIMS.sort.shape([v, { shape: [3, 2], dtype: 'i32' }], { dimension: 0, isStable: true, numKeys: 1 })).toThrow(/sort.*same shape.*f32\[2,3\], i32\[3,2\]/);
  });
});

const special = fc.constantFrom(NaN, -0, 0, Infinity, -Infinity, 1, -1);
const f32Values = fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), special, fc.float({ noDefaultInfinity: true })), { minLength: 1, maxLength: 30 });

describe('sort properties', () => {
  it('returns a sorted permutation of each row, and is stable', () => {
    fc.assert(
      fc.property(f32Values, fc.integer({ min: 1, max: 3 }), (values, rows) => {
        const n = values.length;
        const data = Array.from({ length: rows * n }, (_, i) => values[(i * 7) % n]!);
        const x = tensorFrom('f32', [rows, n], data);
        const iota = tensorFrom('i32', [rows, n], data.map((_, i) => i % n));
        const [sorted, perm] = sort([x, iota], 1);
        const s = toNumbers(sorted!);
        const p = toNumbers(perm!);
        const input = toNumbers(x);
        for (let r = 0; r < rows; r++) {
          const row = [...s.slice(r * n, (r + 1) * n)];
          const idx = [...p.slice(r * n, (r + 1) * n)];
          // a permutation, carrying the values along
          expect([...idx].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
          idx.forEach((j, i) => expect(Object.is(row[i], input[r * n + j])).toBe(true));
          for (let i = 1; i < n; i++) {
            const a = row[i - 1]!;
            const b = row[i]!;
            if (Number.isNaN(a)) {
              expect(Number.isNaN(b)).toBe(true);
            } else if (!Number.isNaN(b)) {
              expect(a <= b).toBe(true);
            }
            if (a === b || (Number.isNaN(a) && Number.isNaN(b))) expect(idx[i - 1]! < idx[i]!).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('top_k by hand', () => {
  it('returns the k largest, descending, with i32 indices', () => {
    const [v, i] = topK(tensorFrom('f32', [2, 4], [1, 4, 2, 3, 9, 7, 8, 6]), 2);
    expect(v!.shape).toEqual([2, 2]);
    expect(i!.dtype).toBe('i32');
    expect([...toNumbers(v!)]).toEqual([4, 3, 9, 8]);
    expect([...toNumbers(i!)]).toEqual([1, 3, 0, 2]);
  });

  it('breaks ties by lower index, puts NaN first and +0 above -0', () => {
    const [v, i] = topK(tensorFrom('f32', [6], [-0, 5, NaN, 5, 0, -1]), 5);
    expect([...toNumbers(i!)]).toEqual([2, 1, 3, 4, 0]);
    expect(Number.isNaN(toNumbers(v!)[0]!)).toBe(true);
  });

  it('allows k = 0 and rejects k beyond the last axis', () => {
    expect(topK(tensorFrom('f32', [3], [1, 2, 3]), 0)[0]!.shape).toEqual([0]);
    expect(() => SORT_PRIMS.top_k.shape([{ shape: [3], dtype: 'f32' }], { k: 4 })).toThrow(/top_k.*k 4.*f32\[3\]/);
  });
});

describe('top_k properties', () => {
  it('agrees with sort: the last k sorted values, reversed, with indices pointing at them', () => {
    fc.assert(
      fc.property(f32Values, fc.nat(), (values, kSeed) => {
        // Drop -0 so sort's (±0 equal) and top_k's (+0 > -0) orders agree on the value sequence.
        const xs = values.map((v) => (Object.is(v, -0) ? 0 : v));
        const n = xs.length;
        const k = kSeed % (n + 1);
        const x = tensorFrom('f32', [n], xs);
        const [v, i] = topK(x, k);
        const sorted = [...toNumbers(sort([x], 0)[0]!)].reverse().slice(0, k);
        const got = [...toNumbers(v!)];
        expect(got.map(String)).toEqual(sorted.map(String));
        const idx = [...toNumbers(i!)];
        const input = toNumbers(x);
        expect(new Set(idx).size).toBe(k);
        idx.forEach((j, t) => expect(String(input[j])).toBe(String(got[t])));
        for (let t = 1; t < k; t++) if (String(got[t]) === String(got[t - 1])) expect(idx[t]! > idx[t - 1]!).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
