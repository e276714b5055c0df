import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { GatherDimensionNumbers, ScatterDimensionNumbers } from '../../../src/tpu/ops.js';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { INDEXING_PRIMS as P } from '../../../src/tpu/prims/indexing.js';
import { arange, run, run1, t } from './run.js';

/** jnp.take(table, ids, axis=0) as a gather: ids get a trailing index-vector dim of 1. */
const TAKE_ROWS = (idsRank: number): GatherDimensionNumbers => ({
  offsetDims: [idsRank],
  collapsedSliceDims: [0],
  startIndexMap: [0],
});
/** The transpose of TAKE_ROWS: embedding-gradient accumulation. */
const ADD_ROWS: ScatterDimensionNumbers = { updateWindowDims: [1], insertedWindowDims: [0], scatterDimsToOperandDims: [0] };

describe('indexing table', () => {
  it('defines exactly its primitives, each under its own name', () => {
    const names = ['gather','scatter_add'];
    expect(Object.keys(P).sort()).toEqual([...names].sort());
    for (const n of names) expect(P[n as keyof typeof P].name).toBe(n);
  });
});

describe('gather', () => {
  it('embedding lookup table[ids] picks whole rows (by hand)', () => {
    // table row r is [3r, 3r+1, 3r+2]
    const table = arange('f32', [5, 3]);
    const ids = t('i32', [2, 2, 1], [4, 0, 2, 2]);
    const [out] = run(P.gather, [table, ids], { dimensionNumbers: TAKE_ROWS(2), sliceSizes: [1, 3] });
    expect(out!.shape).toEqual([2, 2, 3]);
    expect(out!.dtype).toBe('f32');
    expect([...out!.data]).toEqual([12, 13, 14, 0, 1, 2, 6, 7, 8, 6, 7, 8]);
  });

  it('clamps out-of-range starts into the operand', () => {
    const table = arange('i32', [5, 3]);
    const ids = t('i32', [3, 1], [7, -1, 5]);
    expect(run1(P.gather, [table, ids], { dimensionNumbers: TAKE_ROWS(1), sliceSizes: [1, 3] })).toEqual([12, 13, 14, 0, 1, 2, 12, 13, 14]);
    // Uncollapsed windows of two rows: start 3 is clamped to 2 so the window fits.
    const windows = run(P.gather, [arange('f32', [4, 3]), t('i32', [2, 1], [1, 3])], {
      dimensionNumbers: { offsetDims: [1, 2], collapsedSliceDims: [], startIndexMap: [0] },
      sliceSizes: [2, 3],
    })[0]!;
    expect(windows.shape).toEqual([2, 2, 3]);
    expect([...windows.data]).toEqual([3, 4, 5, 6, 7, 8, 6, 7, 8, 9, 10, 11]);
  });

  it('point gathers with a two-element index vector, in either start_index_map order', () => {
    const x = arange('f32', [3, 4]);
    const idx = t('i32', [2, 2], [0, 1, 2, 3]);
    const points = (startIndexMap: number[]) =>
      run1(P.gather, [x, idx], { dimensionNumbers: { offsetDims: [], collapsedSliceDims: [0, 1], startIndexMap }, sliceSizes: [1, 1] });
    expect(points([0, 1])).toEqual([1, 11]);
    // [2, 3] read as (dim1=2, dim0=3 -> clamped to 2): x[2, 2] = 10.
    expect(points([1, 0])).toEqual([4, 10]);
  });

  it('puts offset dims where offsetDims says', () => {
    const table = arange('f32', [5, 3]);
    const [out] = run(P.gather, [table, t('i32', [2, 1], [4, 0])], {
      dimensionNumbers: { offsetDims: [0], collapsedSliceDims: [0], startIndexMap: [0] },
      sliceSizes: [1, 3],
    });
    expect(out!.shape).toEqual([3, 2]);
    expect([...out!.data]).toEqual([12, 0, 13, 1, 14, 2]);
  });

  it('supports batching dims (per-batch take_along_axis)', () => {
    const x = arange('f32', [2, 4]);
    const idx = t('i32', [2, 1], [3, 1]);
    const dn: GatherDimensionNumbers = {
      offsetDims: [],
      collapsedSliceDims: [1],
      startIndexMap: [1],
      operandBatchingDims: [0],
      startIndicesBatchingDims: [0],
    };
    expect(run1(P.gather, [x, idx], { dimensionNumbers: dn, sliceSizes: [1, 1] })).toEqual([3, 5]);
  });

  it('copies bf16 bits untouched', () => {
    const table = { dtype: 'bf16' as const, shape: [2, 2], data: new Uint16Array([0x3f80, 0x7fc1, 0xc000, 0x0001]) };
    const [out] = run(P.gather, [table, t('i32', [2, 1], [1, 0])], { dimensionNumbers: TAKE_ROWS(1), sliceSizes: [1, 2] });
    expect([...out!.data]).toEqual([0xc000, 0x0001, 0x3f80, 0x7fc1]);
  });

  it('matches a hand-written clamped take for random ids (property)', () => {
    const arb = fc.record({
      rows: fc.integer({ min: 1, max: 6 }),
      cols: fc.integer({ min: 1, max: 4 }),
      ids: fc.array(fc.integer({ min: -3, max: 9 }), { minLength: 0, maxLength: 8 }),
    });
    fc.assert(
      fc.property(arb, ({ rows, cols, ids }) => {
        const table = arange('i32', [rows, cols]);
        const got = run1(P.gather, [table, t('i32', [ids.length, 1], ids)], { dimensionNumbers: TAKE_ROWS(1), sliceSizes: [1, cols] });
        const want = ids.flatMap((id) => {
          const r = Math.min(Math.max(id, 0), rows - 1);
          return Array.from({ length: cols }, (_, c) => r * cols + c);
        });
        expect(got).toEqual(want);
      }),
    );
  });

  it('rejects malformed dimension numbers, naming gather and the shapes', () => {
    const op = { dtype: 'f32' as const, shape: [5, 3] };
    const ids = { dtype: 'i32' as const, shape: [2, 1] };
    const ok = { dimensionNumbers: TAKE_ROWS(1), sliceSizes: [1, 3] };
    expect(P.gather.shape([op, ids], ok)).toEqual([{ shape: [2, 3], dtype: 'f32' }]);
    expect(() => P.gather.shape([op, { dtype: 'f32', shape: [2, 1] }], ok)).toThrow(/^gather: indices dtype f32.*\(operands: f32\[5,3\], f32\[2,1\]\)$/);
    expect(() => P.gather.shape([op, { dtype: 'i32', shape: [2, 2] }], ok)).toThrow(/gather: the last dim of indices must equal startIndexMap.length/);
    expect(() => P.gather.shape([op, ids], { ...ok, sliceSizes: [2, 3] })).toThrow(/gather: sliceSizes\[0\] must be 1/);
    expect(() => P.gather.shape([op, ids], { ...ok, sliceSizes: [1, 4] })).toThrow(/must be within the operand/);
    expect(() =>
      P.gather.shape([op, ids], { dimensionNumbers: { offsetDims: [], collapsedSliceDims: [0], startIndexMap: [0] }, sliceSizes: [1, 3] }),
    ).toThrow(/offsetDims has 0 dims/);
    expect(() =>
      P.gather.shape([op, ids], {
        dimensionNumbers: { ...TAKE_ROWS(1), collapsedSliceDims: [], operandBatchingDims: [0], startIndicesBatchingDims: [0], startIndexMap: [1] },
        sliceSizes: [1, 1],
      }),
    ).toThrow(/gather: batching dim 0: operand dim 0 and indices dim 0 differ in size/);
    expect(() => P.gather.shape([op], ok)).toThrow(ShapeError);
  });
});

describe('scatter_add', () => {
  it('accumulates embedding gradients into rows, duplicates summed (by hand)', () => {
    const zeros = t('f32', [5, 3], new Array(15).fill(0));
    const ids = t('i32', [3, 1], [4, 0, 4]);
    const updates = t('f32', [3, 3], [1, 2, 3, 10, 20, 30, 100, 200, 300]);
    const [out] = run(P.scatter_add, [zeros, ids, updates], { dimensionNumbers: ADD_ROWS });
    expect(out!.shape).toEqual([5, 3]);
    expect([...out!.data]).toEqual([10, 20, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 101, 202, 303]);
  });

  it('adds onto the operand and drops whole windows that do not fit', () => {
    const x = t('i32', [5], [1, 1, 1, 1, 1]);
    const dn: ScatterDimensionNumbers = { updateWindowDims: [1], insertedWindowDims: [], scatterDimsToOperandDims: [0] };
    // windows of 2 at starts 0, 4 (would overhang: dropped, not clamped), -1 (dropped), 3
    const ids = t('i32', [4, 1], [0, 4, -1, 3]);
    const updates = t('i32', [4, 2], [10, 20, 30, 40, 50, 60, 70, 80]);
    expect(run1(P.scatter_add, [x, ids, updates], { dimensionNumbers: dn })).toEqual([11, 21, 1, 71, 81]);
    const rows = run1(P.scatter_add, [t('f32', [2, 2], [0, 0, 0, 0]), t('i32', [2, 1], [2, -1]), t('f32', [2, 2], [1, 1, 1, 1])], {
      dimensionNumbers: ADD_ROWS,
    });
    expect(rows).toEqual([0, 0, 0, 0]);
  });

  it('adds colliding f32 updates sequentially in row-major order of the updates', () => {
    const e = 2 ** -24;
    const at0 = (u: number[]) =>
      run1(P.scatter_add, [t('f32', [1], [0]), t('i32', [3, 1], [0, 0, 0]), t('f32', [3], u)], {
        dimensionNumbers: { updateWindowDims: [], insertedWindowDims: [0], scatterDimsToOperandDims: [0] },
      });
    expect(at0([1, e, e])).toEqual([1]);
    expect(at0([e, e, 1])).toEqual([1 + 2 ** -23]);
  });

  it('supports batching dims', () => {
    const dn: ScatterDimensionNumbers = {
      updateWindowDims: [],
      insertedWindowDims: [1],
      scatterDimsToOperandDims: [1],
      operandBatchingDims: [0],
      scatterIndicesBatchingDims: [0],
    };
    const out = run1(P.scatter_add, [t('f32', [2, 4], new Array(8).fill(0)), t('i32', [2, 1], [3, 1]), t('f32', [2], [10, 20])], {
      dimensionNumbers: dn,
    });
    expect(out).toEqual([0, 0, 0, 10, 0, 20, 0, 0]);
  });

  it('bf16 rounds each sum to bf16', () => {
    const out = run1(P.scatter_add, [t('bf16', [1, 2], [256, 1]), t('i32', [1, 1], [0]), t('bf16', [1, 2], [1, 1])], {
      dimensionNumbers: ADD_ROWS,
    });
    expect(out).toEqual([256, 2]); // 257 is not a bf16: ties to even 256
  });

  it('gather after scatter_add returns the per-id sums (property)', () => {
    const arb = fc.record({
      rows: fc.integer({ min: 1, max: 6 }),
      cols: fc.integer({ min: 1, max: 3 }),
      n: fc.integer({ min: 1, max: 8 }),
      seed: fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 24, maxLength: 24 }),
      picks: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
    });
    fc.assert(
      fc.property(arb, ({ rows, cols, n, seed, picks }) => {
        const ids = picks.slice(0, n).map((p) => p % rows);
        const u = Array.from({ length: n * cols }, (_, i) => seed[i % seed.length]!);
        const grad = run(P.scatter_add, [t('i32', [rows, cols], new Array(rows * cols).fill(0)), t('i32', [n, 1], ids), t('i32', [n, cols], u)], {
          dimensionNumbers: ADD_ROWS,
        })[0]!;
        const back = run1(P.gather, [grad, t('i32', [n, 1], ids)], { dimensionNumbers: TAKE_ROWS(1), sliceSizes: [1, cols] });
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < cols; c++) {
            let want = 0;
            for (let j = 0; j < n; j++) if (ids[j] === ids[i]) want += u[j * cols + c]!;
            expect(back[i * cols + c]).toBe(want);
          }
        }
        // With one-hot ids (each id once) gather inverts scatter_add exactly.
        if (new Set(ids).size === n) expect(back).toEqual(u);
      }),
    );
  });

  it('rejects malformed operands, naming scatter_add and the shapes', () => {
    const op = { dtype: 'f32' as const, shape: [5, 3] };
    const ids = { dtype: 'i32' as const, shape: [2, 1] };
    const dn = { dimensionNumbers: ADD_ROWS };
    expect(P.scatter_add.shape([op, ids, { dtype: 'f32', shape: [2, 3] }], dn)).toEqual([{ shape: [5, 3], dtype: 'f32' }]);
    expect(() => P.scatter_add.shape([op, ids, { dtype: 'bf16', shape: [2, 3] }], dn)).toThrow(
      /^scatter_add: updates dtype bf16 differs.*\(operands: f32\[5,3\], i32\[2,1\], bf16\[2,3\]\)$/,
    );
    expect(() => P.scatter_add.shape([op, ids, { dtype: 'f32', shape: [3, 3] }], dn)).toThrow(/updates scatter dim 0 must match indices dim 0/);
    expect(() => P.scatter_add.shape([op, ids, { dtype: 'f32', shape: [2, 4] }], dn)).toThrow(/update window dim 1 is larger/);
    expect(() => P.scatter_add.shape([op, ids, { dtype: 'f32', shape: [2, 3, 1] }], dn)).toThrow(/updates rank must be/);
    expect(() => P.scatter_add.shape([{ dtype: 'bool', shape: [5, 3] }, ids, { dtype: 'bool', shape: [2, 3] }], dn)).toThrow(/operand dtype bool/);
    expect(() => P.scatter_add.shape([op, ids], dn)).toThrow(/expected 3 operands, got 2/);
  });
});
