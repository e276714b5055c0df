import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { LAYOUT_PRIMS as P } from '../../../src/tpu/prims/layout.js';
import { sizeOf } from '../../../src/tpu/tensor.js';
import { NO_PARAMS, arange, run, run1, scalar, t } from './run.js';

const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 });

/** A shape and a permutation of its dims. */
const shapeAndPerm = shapeArb.chain((shape) =>
  fc
    .shuffledSubarray(
      shape.map((_, i) => i),
      { minLength: shape.length, maxLength: shape.length },
    )
    .map((perm) => ({ shape, perm })),
);

describe('layout table', () => {
  it('defines exactly its primitives, each under its own name', () => {
    const names = ['iota','broadcast_in_dim','reshape','transpose','slice','dynamic_slice','dynamic_update_slice','pad','concatenate','rev'];
    expect(Object.keys(P).sort()).toEqual([...names].sort());
    for (const n of names) expect(P[n as keyof typeof P].name).toBe(n);
  });
});

describe('iota', () => {
  it('counts along the dimension', () => {
    expect(run1(P.iota, [], { dtype: 'i32', shape: [2, 3], dimension: 1 })).toEqual([0, 1, 2, 0, 1, 2]);
    expect(run1(P.iota, [], { dtype: 'f32', shape: [2, 3], dimension: 0 })).toEqual([0, 0, 0, 1, 1, 1]);
    // bf16 holds integers exactly only to 256: 257 rounds to 256 (ties to even).
    const big = run1(P.iota, [], { dtype: 'bf16', shape: [258], dimension: 0 });
    expect(big.slice(255)).toEqual([255, 256, 256]);
  });

  it('rejects bool, a bad dimension and operands', () => {
    expect(() => P.iota.shape([], { dtype: 'bool', shape: [2], dimension: 0 })).toThrow(/iota: dtype bool/);
    expect(() => P.iota.shape([], { dtype: 'i32', shape: [2], dimension: 1 })).toThrow(/iota: dimension 1 out of range/);
    expect(() => P.iota.shape([{ dtype: 'i32', shape: [2] }], { dtype: 'i32', shape: [2], dimension: 0 })).toThrow(
      /iota: expected 0 operands, got 1 \(operands: i32\[2\]\)/,
    );
  });
});

describe('broadcast_in_dim', () => {
  it('maps operand dims to output dims and stretches size-1 dims', () => {
    const x = t('f32', [3], [1, 2, 3]);
    expect(run1(P.broadcast_in_dim, [x], { shape: [2, 3], broadcastDimensions: [1] })).toEqual([1, 2, 3, 1, 2, 3]);
    expect(run1(P.broadcast_in_dim, [x], { shape: [3, 2], broadcastDimensions: [0] })).toEqual([1, 1, 2, 2, 3, 3]);
    const col = t('i32', [2, 1], [7, 8]);
    expect(run1(P.broadcast_in_dim, [col], { shape: [2, 3], broadcastDimensions: [0, 1] })).toEqual([7, 7, 7, 8, 8, 8]);
    expect(run1(P.broadcast_in_dim, [scalar('bf16', 1.5)], { shape: [2, 2], broadcastDimensions: [] })).toEqual([1.5, 1.5, 1.5, 1.5]);
  });

  it('rejects incompatible sizes and unordered dims', () => {
    const x = { dtype: 'f32' as const, shape: [3] };
    expect(() => P.broadcast_in_dim.shape([x], { shape: [2, 4], broadcastDimensions: [1] })).toThrow(
      /^broadcast_in_dim: operand dim 0 \(size 3\) cannot broadcast to output dim 1 \(size 4\).*f32\[3\]\)$/,
    );
    const y = { dtype: 'f32' as const, shape: [2, 2] };
    expect(() => P.broadcast_in_dim.shape([y], { shape: [2, 2], broadcastDimensions: [1, 0] })).toThrow(/strictly increasing/);
    expect(() => P.broadcast_in_dim.shape([y], { shape: [2, 2], broadcastDimensions: [0] })).toThrow(ShapeError);
  });
});

describe('reshape and transpose', () => {
  it('reshape keeps row-major order', () => {
    const [out] = run(P.reshape, [arange('f32', [2, 3])], { newSizes: [3, 2] });
    expect(out!.shape).toEqual([3, 2]);
    expect([...out!.data]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => P.reshape.shape([{ dtype: 'f32', shape: [2, 3] }], { newSizes: [4] })).toThrow(/reshape: cannot reshape 6 elements to \[4\]/);
  });

  it('transpose permutes dims: out.shape[i] = x.shape[perm[i]]', () => {
    expect(run1(P.transpose, [arange('i32', [2, 3])], { permutation: [1, 0] })).toEqual([0, 3, 1, 4, 2, 5]);
    const x = arange('f32', [2, 3, 4]);
    const [out] = run(P.transpose, [x], { permutation: [2, 0, 1] });
    expect(out!.shape).toEqual([4, 2, 3]);
    // out[i, j, k] = x[j, k, i] = 12 j + 4 k + i
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) expect(out!.data[i * 6 + j * 3 + k]).toBe(12 * j + 4 * k + i);
    expect(() => P.transpose.shape([{ dtype: 'f32', shape: [2, 3] }], { permutation: [0, 0] })).toThrow(/transpose: permutation \[0,0\] repeats 0/);
  });

  it('transpose then inverse transpose is the identity (property)', () => {
    fc.assert(
      fc.property(shapeAndPerm, ({ shape, perm }) => {
        const x = arange('i32', shape);
        const inverse = perm.map((_, i) => perm.indexOf(i));
        const [y] = run(P.transpose, [x], { permutation: perm });
        const [z] = run(P.transpose, [y!], { permutation: inverse });
        expect(z!.shape).toEqual(shape);
        expect([...z!.data]).toEqual([...x.data]);
      }),
    );
  });

  it('reshape round trip is the identity (property)', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: 0, max: 3 }), (shape, cut) => {
        const x = arange('f32', shape);
        const flat = [sizeOf(shape.slice(0, Math.min(cut, shape.length))), sizeOf(shape.slice(Math.min(cut, shape.length)))];
        const [y] = run(P.reshape, [x], { newSizes: flat });
        const [z] = run(P.reshape, [y!], { newSizes: shape });
        expect([...z!.data]).toEqual([...x.data]);
      }),
    );
  });
});

describe('slice', () => {
  it('takes a static strided window', () => {
    expect(run1(P.slice, [arange('i32', [10])], { startIndices: [1], limitIndices: [8], strides: [3] })).toEqual([1, 4, 7]);
    const [out] = run(P.slice, [arange('f32', [3, 4])], { startIndices: [1, 1], limitIndices: [3, 4], strides: [1, 2] });
    expect(out!.shape).toEqual([2, 2]);
    expect([...out!.data]).toEqual([5, 7, 9, 11]);
    expect(run1(P.slice, [arange('f32', [4])], { startIndices: [2], limitIndices: [2] })).toEqual([]);
  });

  it('rejects out-of-range windows and bad strides', () => {
    const x = { dtype: 'f32' as const, shape: [4] };
    expect(() => P.slice.shape([x], { startIndices: [1], limitIndices: [5] })).toThrow(
      /^slice: dim 0: need 0 <= start \(1\) <= limit \(5\) <= size \(4\) \(operands: f32\[4\]\)$/,
    );
    expect(() => P.slice.shape([x], { startIndices: [3], limitIndices: [2] })).toThrow(ShapeError);
    expect(() => P.slice.shape([x], { startIndices: [0], limitIndices: [2], strides: [0] })).toThrow(/slice: dim 0: stride 0/);
    expect(() => P.slice.shape([x], { startIndices: [0, 0], limitIndices: [2, 2] })).toThrow(/startIndices has 2 entries for rank 1/);
  });
});

describe('dynamic_slice and dynamic_update_slice', () => {
  it('clamps starts into [0, dim - size]', () => {
    const x = arange('f32', [5]);
    expect(run1(P.dynamic_slice, [x, scalar('i32', 3)], { sliceSizes: [3] })).toEqual([2, 3, 4]);
    expect(run1(P.dynamic_slice, [x, scalar('i32', -1)], { sliceSizes: [3] })).toEqual([0, 1, 2]);
    const m = arange('i32', [3, 4]);
    expect(run1(P.dynamic_slice, [m, scalar('i32', 1), scalar('i32', 9)], { sliceSizes: [2, 2] })).toEqual([6, 7, 10, 11]);
    const z = t('f32', [5], [0, 0, 0, 0, 0]);
    expect(run1(P.dynamic_update_slice, [z, t('f32', [2], [1, 2]), scalar('i32', 4)], NO_PARAMS)).toEqual([0, 0, 0, 1, 2]);
    expect(run1(P.dynamic_update_slice, [z, t('f32', [2], [1, 2]), scalar('i32', 1)], NO_PARAMS)).toEqual([0, 1, 2, 0, 0]);
  });

  it('rejects missing or non-i32 starts and oversized slices', () => {
    const x = { dtype: 'f32' as const, shape: [4, 4] };
    const i = { dtype: 'i32' as const, shape: [] };
    expect(() => P.dynamic_slice.shape([x, i], { sliceSizes: [2, 2] })).toThrow(/dynamic_slice: expected 2 start indices.*f32\[4,4\], i32\[\]/);
    expect(() => P.dynamic_slice.shape([x, i, { dtype: 'f32', shape: [] }], { sliceSizes: [2, 2] })).toThrow(/start index 1 dtype f32/);
    expect(() => P.dynamic_slice.shape([x, i, i], { sliceSizes: [2, 5] })).toThrow(/dynamic_slice: sliceSizes \[2,5\] exceed/);
    expect(() => P.dynamic_update_slice.shape([x, { dtype: 'f32', shape: [5, 1] }, i, i], NO_PARAMS)).toThrow(/fit inside/);
    expect(() => P.dynamic_update_slice.shape([x, { dtype: 'bf16', shape: [1, 1] }, i, i], NO_PARAMS)).toThrow(/update dtype bf16/);
  });

  it('dynamic_update_slice then dynamic_slice at the same starts returns the update (property)', () => {
    const arb = shapeArb.chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        size: fc.tuple(...shape.map((d) => fc.integer({ min: 0, max: d }))),
        start: fc.tuple(...shape.map(() => fc.integer({ min: -3, max: 6 }))),
      }),
    );
    fc.assert(
      fc.property(arb, ({ shape, size, start }) => {
        const x = arange('f32', shape);
        const update = t('f32', size, Array.from({ length: sizeOf(size) }, (_, i) => -1 - i));
        const starts = start.map((s) => scalar('i32', s));
        const [y] = run(P.dynamic_update_slice, [x, update, ...starts], NO_PARAMS);
        const back = run1(P.dynamic_slice, [y!, ...starts], { sliceSizes: size });
        expect(back).toEqual([...update.data]);
        // Everything else is untouched: exactly sizeOf(size) elements changed.
        let changed = 0;
        for (let i = 0; i < x.data.length; i++) if (y!.data[i] !== x.data[i]) changed++;
        expect(changed).toBe(sizeOf(size));
      }),
    );
  });
});

describe('pad', () => {
  it('pads low, high and interior; negative padding crops', () => {
    const x = t('f32', [3], [1, 2, 3]);
    const zero = scalar('f32', 0);
    expect(run1(P.pad, [x, zero], { paddingConfig: [[1, 2, 1]] })).toEqual([0, 1, 0, 2, 0, 3, 0, 0]);
    expect(run1(P.pad, [x, zero], { paddingConfig: [[-1, -1, 0]] })).toEqual([2]);
    expect(run1(P.pad, [x, scalar('f32', 9)], { paddingConfig: [[-2, 0, 1]] })).toEqual([2, 9, 3]);
    const m = t('i32', [2, 2], [1, 2, 3, 4]);
    expect(run1(P.pad, [m, scalar('i32', -1)], { paddingConfig: [[0, 1, 0], [1, 0, 0]] })).toEqual([-1, 1, 2, -1, 3, 4, -1, -1, -1]);
  });

  it('rejects a non-scalar or mistyped padding value and negative sizes', () => {
    const x = { dtype: 'f32' as const, shape: [3] };
    expect(() => P.pad.shape([x, { dtype: 'i32', shape: [] }], { paddingConfig: [[0, 0, 0]] })).toThrow(/pad: padding value.*f32\[3\], i32\[\]/);
    expect(() => P.pad.shape([x, { dtype: 'f32', shape: [] }], { paddingConfig: [[-3, -1, 0]] })).toThrow(/pad: dim 0: size after padding is -1/);
    expect(() => P.pad.shape([x, { dtype: 'f32', shape: [] }], { paddingConfig: [[0, 0, -1]] })).toThrow(/interior >= 0/);
  });

  it('pad then slice returns the operand (property)', () => {
    const arb = shapeArb.chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        config: fc.tuple(...shape.map(() => fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })))),
      }),
    );
    fc.assert(
      fc.property(arb, ({ shape, config }) => {
        const x = arange('i32', shape);
        const [y] = run(P.pad, [x, scalar('i32', -7)], { paddingConfig: config });
        const back = run1(P.slice, [y!], {
          startIndices: config.map(([lo]) => lo),
          limitIndices: y!.shape.map((d, i) => d - config[i]![1]),
          strides: config.map(([, , interior]) => interior + 1),
        });
        expect(back).toEqual([...x.data]);
        expect(y!.data.filter((v) => v === -7).length).toBe(sizeOf(y!.shape) - sizeOf(shape));
      }),
    );
  });
});

describe('concatenate and rev', () => {
  it('concatenates along a dimension', () => {
    expect(run1(P.concatenate, [t('f32', [2], [1, 2]), t('f32', [3], [3, 4, 5])], { dimension: 0 })).toEqual([1, 2, 3, 4, 5]);
    const [out] = run(P.concatenate, [t('i32', [2, 2], [1, 2, 3, 4]), t('i32', [2, 1], [5, 6])], { dimension: 1 });
    expect(out!.shape).toEqual([2, 3]);
    expect([...out!.data]).toEqual([1, 2, 5, 3, 4, 6]);
  });

  it('rejects mismatched operands', () => {
    const a = { dtype: 'f32' as const, shape: [2, 2] };
    expect(() => P.concatenate.shape([a, { dtype: 'f32', shape: [3, 1] }], { dimension: 1 })).toThrow(
      /^concatenate: operands must match in every dim but 1 \(operands: f32\[2,2\], f32\[3,1\]\)$/,
    );
    expect(() => P.concatenate.shape([a, { dtype: 'i32', shape: [2, 2] }], { dimension: 0 })).toThrow(/one dtype/);
    expect(() => P.concatenate.shape([a], { dimension: 2 })).toThrow(/dimension 2 out of range/);
    expect(() => P.concatenate.shape([], { dimension: 0 })).toThrow(ShapeError);
  });

  it('slicing a concatenation gives back its parts (property)', () => {
    const arb = shapeArb.chain((shape) =>
      fc.record({
        shape: fc.constant(shape),
        dim: fc.integer({ min: 0, max: shape.length - 1 }),
        sizes: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ shape, dim, sizes }) => {
        let next = 0;
        const parts = sizes.map((s) => {
          const ps = shape.map((d, i) => (i === dim ? s : d));
          const p = t('i32', ps, Array.from({ length: sizeOf(ps) }, () => next++));
          return p;
        });
        const [cat] = run(P.concatenate, parts, { dimension: dim });
        let offset = 0;
        for (const p of parts) {
          const got = run1(P.slice, [cat!], {
            startIndices: shape.map((_, i) => (i === dim ? offset : 0)),
            limitIndices: p.shape.map((d, i) => (i === dim ? offset + d : d)),
          });
          expect(got).toEqual([...p.data]);
          offset += p.shape[dim]!;
        }
      }),
    );
  });

  it('rev reverses the given dimensions', () => {
    expect(run1(P.rev, [arange('i32', [2, 3])], { dimensions: [1] })).toEqual([2, 1, 0, 5, 4, 3]);
    expect(run1(P.rev, [arange('i32', [2, 3])], { dimensions: [0, 1] })).toEqual([5, 4, 3, 2, 1, 0]);
    expect(run1(P.rev, [arange('i32', [2, 3])], { dimensions: [] })).toEqual([0, 1, 2, 3, 4, 5]);
    expect(() => P.rev.shape([{ dtype: 'f32', shape: [2] }], { dimensions: [1] })).toThrow(/rev: dimensions \[1\] has 1, out of range for rank 1/);
  });
});
