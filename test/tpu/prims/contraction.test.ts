import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { CONTRACTION_PRIMS } from '../../../src/tpu/prims/contraction.js';
import type { PrimitiveParams } from '../../../src/tpu/ops.js';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { type TensorView, sizeOf, tensorFrom, toNumbers } from '../../../src/tpu/tensor.js';
import { runDef } from './run_def.js';

const DOT = CONTRACTION_PRIMS.dot_general;
const CONV = CONTRACTION_PRIMS.conv_general_dilated;

function dot(lhs: TensorView, rhs: TensorView, params: PrimitiveParams['dot_general']): TensorView {
  return runDef(DOT, [lhs, rhs], params)[0]!;
}

const MATMUL: PrimitiveParams['dot_general'] = { contractingDims: [[1], [0]], batchDims: [[], []] };

describe('dot_general by hand', () => {
  it('multiplies matrices', () => {
    const a = tensorFrom('f32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const b = tensorFrom('f32', [3, 2], [7, 8, 9, 10, 11, 12]);
    const c = dot(a, b, MATMUL);
    expect(c.shape).toEqual([2, 2]);
    expect([...toNumbers(c)]).toEqual([58, 64, 139, 154]);
  });

  it('orders output dims as batch, lhs free, rhs free', () => {
    // lhs [K=2, B=2, M=1], rhs [N=3, B=2, K=2]
    const lhs = tensorFrom('f32', [2, 2, 1], [1, 2, 3, 4]); // lhs[k][b][0]
    const rhs = tensorFrom('f32', [3, 2, 2], [1, 0, 0, 1, 1, 1, 1, 1, 2, 0, 0, 2]); // rhs[n][b][k]
    const out = dot(lhs, rhs, { contractingDims: [[0], [2]], batchDims: [[1], [1]] });
    expect(out.shape).toEqual([2, 1, 3]);
    // b=0: lhs k-vector (1,3); b=1: (2,4). rhs[n][b] k-vectors: n0 (1,0),(0,1); n1 (1,1),(1,1); n2 (2,0),(0,2)
    expect([...toNumbers(out)]).toEqual([1, 4, 2, 4, 6, 8]);
  });

  it('accumulates in f32, rounding after every multiply-add in k order', () => {
    // 1e8 + 1 rounds back to 1e8 in f32 (spacing 8 there), so the 1 is lost: exact math gives 1.
    const a = tensorFrom('f32', [1, 3], [1e8, 1, -1e8]);
    const b = tensorFrom('f32', [3, 1], [1, 1, 1]);
    expect(toNumbers(dot(a, b, MATMUL))[0]).toBe(0);
    const reordered = tensorFrom('f32', [1, 3], [1e8, -1e8, 1]);
    expect(toNumbers(dot(reordered, b, MATMUL))[0]).toBe(1);
  });

  it('widens bf16 exactly and rounds a bf16 result once, at the end', () => {
    const a = tensorFrom('bf16', [1, 3], [1, 2 ** -8, 2 ** -8]);
    const b = tensorFrom('bf16', [3, 1], [1, 1, 1]);
    const wide = dot(a, b, { ...MATMUL, preferredElementType: 'f32' });
    expect(wide.dtype).toBe('f32');
    expect(toNumbers(wide)[0]).toBe(1 + 2 ** -7);
    // Rounding to bf16 after each add would give 1 (1 + 2^-8 ties to even); once at the end keeps 1 + 2^-7.
    const narrow = dot(a, b, MATMUL);
    expect(narrow.dtype).toBe('bf16');
    expect(toNumbers(narrow)[0]).toBe(1 + 2 ** -7);
  });

  it('wraps i32 products and sums like int32', () => {
    const a = tensorFrom('i32', [1, 2], [2 ** 30, 2 ** 30]);
    const b = tensorFrom('i32', [2, 1], [2, 1]);
    const c = dot(a, b, MATMUL);
    expect(c.dtype).toBe('i32');
    expect(c.data[0]).toBe(-(2 ** 30));
  });

  it('converts i32 operands to a float preferredElementType', () => {
    const a = tensorFrom('i32', [1, 2], [3, 4]);
    const b = tensorFrom('i32', [2, 1], [5, 6]);
    const c = dot(a, b, { ...MATMUL, preferredElementType: 'f32' });
    expect(c.dtype).toBe('f32');
    expect(toNumbers(c)[0]).toBe(39);
  });

  it('computes OR of ANDs for bool', () => {
    const a = tensorFrom('bool', [2, 2], [1, 0, 0, 0]);
    const b = tensorFrom('bool', [2, 2], [0, 1, 1, 0]);
    expect([...toNumbers(dot(a, b, MATMUL))]).toEqual([0, 1, 0, 0]);
  });

  it('contracts to a scalar when every dim is contracted', () => {
    const a = tensorFrom('f32', [3], [1, 2, 3]);
    const out = dot(a, a, { contractingDims: [[0], [0]], batchDims: [[], []] });
    expect(out.shape).toEqual([]);
    expect(toNumbers(out)[0]).toBe(14);
  });
});

describe('dot_general shape rule', () => {
  const f = (shape: number[]) => ({ shape, dtype: 'f32' as const });

  it('names both shapes on a contracting-size mismatch', () => {
    expect(() => DOT.shape([f([2, 3]), f([4, 5])], MATMUL)).toThrow(ShapeError);
    expect(() => DOT.shape([f([2, 3]), f([4, 5])], MATMUL)).toThrow(/dot_general.*contracting.*f32\[2,3\].*f32\[4,5\]/);
  });

  it('rejects bad batch dims, repeated dims and mixed dtypes', () => {
    expect(() => DOT.shape([f([2, 3, 4]), f([3, 4, 5])], { contractingDims: [[2], [1]], batchDims: [[0], [0]] })).toThrow(/batch dim sizes/);
    expect(() => DOT.shape([f([2, 3]), f([3, 2])], { contractingDims: [[0], [1]], batchDims: [[0], [0]] })).toThrow(/distinct/);
    expect(() => DOT.shape([f([2, 3]), { shape: [3, 2], dtype: 'bf16' }], MATMUL)).toThrow(/dtypes differ/);
    expect(() => DOT.shape([f([2, 3]), f([3, 2])], { ...MATMUL, preferredElementType: 'bf16' })).toThrow(/narrower/);
    expect(() => DOT.shape([f([2, 3]), f([3, 2])], { ...MATMUL, preferredElementType: 'i32' })).toThrow(/incompatible/);
  });

  it('infers the output of a batched dot', () => {
    const out = DOT.shape([f([5, 2, 3, 7]), f([7, 5, 3, 4])], { contractingDims: [[2], [2]], batchDims: [[0, 3], [1, 0]] });
    expect(out).toEqual([{ shape: [5, 7, 2, 4], dtype: 'f32' }]);
  });
});

/** A dot problem: each dim of lhs and rhs has a role (batch i, lhs free i, rhs free i, contracting i). */
interface DotCase {
  batch: number[];
  m: number[];
  n: number[];
  k: number[];
  lhsRoles: [string, number][];
  rhsRoles: [string, number][];
  lhs: number[];
  rhs: number[];
}

const dotCase: fc.Arbitrary<DotCase> = fc
  .record({
    batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    m: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    n: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    k: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    seedL: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
    seedR: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
  })
  .chain(({ batch, m, n, k, seedL, seedR }) => {
    const shuffle = <T>(xs: T[], seed: number[]) => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = seed[i % seed.length]! % (i + 1);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    };
    const roles = (tag: string, sizes: number[]) => sizes.map((_, i) => [tag, i] as [string, number]);
    const lhsRoles = shuffle([...roles('b', batch), ...roles('m', m), ...roles('k', k)], seedL);
    const rhsRoles = shuffle([...roles('b', batch), ...roles('n', n), ...roles('k', k)], seedR);
    const size = (r: [string, number]) => ({ b: batch, m, n, k })[r[0] as 'b']![r[1]]!;
    const values = (count: number) => fc.array(fc.integer({ min: -8, max: 8 }), { minLength: count, maxLength: count });
    const lhsCount = lhsRoles.reduce((p, r) => p * size(r), 1);
    const rhsCount = rhsRoles.reduce((p, r) => p * size(r), 1);
    return fc.record({ lhs: values(lhsCount), rhs: values(rhsCount) }).map(({ lhs, rhs }) => ({ batch, m, n, k, lhsRoles, rhsRoles, lhs, rhs }));
  });

/** Naive dot written from the definition: enumerate every (batch, m, n) and sum over k. */
function naiveDot(c: DotCase): { shape: number[]; values: number[] } {
  const sizeOfRole = (r: [string, number]) => ({ b: c.batch, m: c.m, n: c.n, k: c.k })[r[0] as 'b']![r[1]]!;
  const flat = (roles: [string, number][], idx: Record<string, number[]>) => {
    let off = 0;
    for (const r of roles) off = off * sizeOfRole(r) + idx[r[0]]![r[1]]!;
    return off;
  };
  // Output free dims follow their operand's dim order.
  const mOrder = c.lhsRoles.filter((r) => r[0] === 'm').map((r) => r[1]);
  const nOrder = c.rhsRoles.filter((r) => r[0] === 'n').map((r) => r[1]);
  const shape = [...c.batch, ...mOrder.map((i) => c.m[i]!), ...nOrder.map((i) => c.n[i]!)];
  const all = (sizes: number[]): number[][] =>
    sizes.reduce<number[][]>((acc, s) => acc.flatMap((p) => [...Array(s).keys()].map((i) => [...p, i])), [[]]);
  const values: number[] = [];
  for (const b of all(c.batch)) {
    for (const mPerm of all(mOrder.map((i) => c.m[i]!))) {
      for (const nPerm of all(nOrder.map((i) => c.n[i]!))) {
        const m: number[] = [];
        mOrder.forEach((role, j) => (m[role] = mPerm[j]!));
        const n: number[] = [];
        nOrder.forEach((role, j) => (n[role] = nPerm[j]!));
        let sum = 0;
        for (const k of all(c.k)) sum += c.lhs[flat(c.lhsRoles, { b, m, k })]! * c.rhs[flat(c.rhsRoles, { b, n, k })]!;
        values.push(sum);
      }
    }
  }
  return { shape, values };
}

describe('dot_general against a naive loop', () => {
  it('matches for random batch/contracting layouts (small integers: exact)', () => {
    fc.assert(
      fc.property(dotCase, (c) => {
        const sizeOfRole = (r: [string, number]) => ({ b: c.batch, m: c.m, n: c.n, k: c.k })[r[0] as 'b']![r[1]]!;
        const lhs = tensorFrom('f32', c.lhsRoles.map(sizeOfRole), c.lhs);
        const rhs = tensorFrom('f32', c.rhsRoles.map(sizeOfRole), c.rhs);
        const pos = (roles: [string, number][], tag: string, count: number) =>
          [...Array(count).keys()].map((i) => roles.findIndex((r) => r[0] === tag && r[1] === i));
        const params: PrimitiveParams['dot_general'] = {
          contractingDims: [pos(c.lhsRoles, 'k', c.k.length), pos(c.rhsRoles, 'k', c.k.length)],
          batchDims: [pos(c.lhsRoles, 'b', c.batch.length), pos(c.rhsRoles, 'b', c.batch.length)],
        };
        const out = dot(lhs, rhs, params);
        const expected = naiveDot(c);
        expect(out.shape).toEqual(expected.shape);
        expect([...toNumbers(out)]).toEqual(expected.values);
      }),
      { numRuns: 150 },
    );
  });
});

// ---- conv_general_dilated ---------------------------------------------------------------

type ConvParams = PrimitiveParams['conv_general_dilated'];
const NHWC: ConvParams['dimensionNumbers'] = { lhsSpec: [0, 3, 1, 2], rhsSpec: [3, 2, 0, 1], outSpec: [0, 3, 1, 2] };

function conv(lhs: TensorView, rhs: TensorView, p: Partial<ConvParams> & { windowStrides: number[] }): TensorView {
  const nSpatial = p.windowStrides.length;
  return runDef(CONV, [lhs, rhs], {
    padding: Array.from({ length: nSpatial }, () => [0, 0] as const),
    lhsDilation: Array(nSpatial).fill(1),
    rhsDilation: Array(nSpatial).fill(1),
    dimensionNumbers: NHWC,
    featureGroupCount: 1,
    batchGroupCount: 1,
    ...p,
  })[0]!;
}

/**
 * Direct NHWC x HWIO 2-D convolution written another way: build the lhs-dilated, padded
 * (or cropped) input and the rhs-dilated kernel as explicit arrays, then slide with strides.
 */
function directConv2d(
  x: number[], [N, H, W, C]: number[],
  w: number[], [KH, KW, I, O]: number[],
  o: { stride: [number, number]; pad: [[number, number], [number, number]]; lhsDil: [number, number]; rhsDil: [number, number]; groups: number; batchGroups: number },
): { shape: number[]; values: number[] } {
  // Dilate then pad (negative padding crops) the input.
  const dil = (n: number, d: number) => (n === 0 ? 0 : (n - 1) * d + 1);
  const PH = o.pad[0][0] + dil(H, o.lhsDil[0]) + o.pad[0][1];
  const PW = o.pad[1][0] + dil(W, o.lhsDil[1]) + o.pad[1][1];
  const padded = (n: number, y: number, xx: number, c: number) => {
    const dy = y - o.pad[0][0];
    const dx = xx - o.pad[1][0];
    if (dy < 0 || dx < 0 || dy % o.lhsDil[0] !== 0 || dx % o.lhsDil[1] !== 0) return 0;
    const iy = dy / o.lhsDil[0];
    const ix = dx / o.lhsDil[1];
    if (iy >= H || ix >= W) return 0;
    return x[((n * H + iy) * W + ix) * C + c]!;
  };
  // Dilated kernel, zeros in the holes.
  const DKH = dil(KH, o.rhsDil[0]);
  const DKW = dil(KW, o.rhsDil[1]);
  const kernel = (ky: number, kx: number, i: number, oc: number) =>
    ky % o.rhsDil[0] === 0 && kx % o.rhsDil[1] === 0 ? w[(((ky / o.rhsDil[0]) * KW + kx / o.rhsDil[1]) * I + i) * O + oc]! : 0;
  const OH = PH < DKH ? 0 : Math.floor((PH - DKH) / o.stride[0]) + 1;
  const OW = PW < DKW ? 0 : Math.floor((PW - DKW) / o.stride[1]) + 1;
  const NB = N / o.batchGroups;
  const values: number[] = [];
  for (let n = 0; n < NB; n++) {
    for (let y = 0; y < OH; y++) {
      for (let xx = 0; xx < OW; xx++) {
        for (let oc = 0; oc < O; oc++) {
          const g = Math.floor(oc / (O / o.groups));
          const bg = Math.floor(oc / (O / o.batchGroups));
          let sum = 0;
          for (let ky = 0; ky < DKH; ky++) {
            for (let kx = 0; kx < DKW; kx++) {
              for (let i = 0; i < I; i++) {
                sum += padded(bg * NB + n, y * o.stride[0] + ky, xx * o.stride[1] + kx, g * I + i) * kernel(ky, kx, i, oc);
              }
            }
          }
          values.push(sum);
        }
      }
    }
  }
  return { shape: [NB, OH, OW, O], values };
}

describe('conv_general_dilated by hand', () => {
  it('computes a 1-D valid convolution (cross-correlation, no kernel flip)', () => {
    const x = tensorFrom('f32', [1, 4, 1], [1, 2, 3, 4]); // N W C
    const w = tensorFrom('f32', [2, 1, 1], [1, 10]); // W I O
    const out = runDef(CONV, [x, w], {
      windowStrides: [1], padding: [[0, 0]], lhsDilation: [1], rhsDilation: [1],
      dimensionNumbers: { lhsSpec: [0, 2, 1], rhsSpec: [2, 1, 0], outSpec: [0, 2, 1] },
      featureGroupCount: 1, batchGroupCount: 1,
    })[0]!;
    expect(out.shape).toEqual([1, 3, 1]);
    expect([...toNumbers(out)]).toEqual([21, 32, 43]);
  });

  it('handles lhs dilation (transposed conv) and negative padding', () => {
    const x = tensorFrom('f32', [1, 3, 1], [1, 2, 3]);
    const w = tensorFrom('f32', [1, 1, 1], [1]);
    const dn = { lhsSpec: [0, 2, 1], rhsSpec: [2, 1, 0], outSpec: [0, 2, 1] };
    // dilated input: 1 0 2 0 3, then padding [-1, 1]: 0 2 0 3 0
    const out = runDef(CONV, [x, w], {
      windowStrides: [1], padding: [[-1, 1]], lhsDilation: [2], rhsDilation: [1],
      dimensionNumbers: dn, featureGroupCount: 1, batchGroupCount: 1,
    })[0]!;
    expect([...toNumbers(out)]).toEqual([0, 2, 0, 3, 0]);
  });

  it('splits batch into contiguous groups with batchGroupCount (the weight-gradient form)', () => {
    // N=4 batch, C=1, W=1; O=2 features, batchGroupCount 2: feature 0 reads batches 0,1 and feature 1 batches 2,3.
    const x = tensorFrom('f32', [4, 1, 1], [1, 2, 3, 4]);
    const w = tensorFrom('f32', [1, 1, 2], [10, 100]);
    const out = runDef(CONV, [x, w], {
      windowStrides: [1], padding: [[0, 0]], lhsDilation: [1], rhsDilation: [1],
      dimensionNumbers: { lhsSpec: [0, 2, 1], rhsSpec: [2, 1, 0], outSpec: [0, 2, 1] },
      featureGroupCount: 1, batchGroupCount: 2,
    })[0]!;
    expect(out.shape).toEqual([2, 1, 2]);
    expect([...toNumbers(out)]).toEqual([10, 300, 20, 400]);
  });

  it('rejects inconsistent groups and layouts with a ShapeError', () => {
    const base: ConvParams = {
      windowStrides: [1, 1], padding: [[0, 0], [0, 0]], lhsDilation: [1, 1], rhsDilation: [1, 1],
      dimensionNumbers: NHWC, featureGroupCount: 1, batchGroupCount: 1,
    };
    const x = { shape: [1, 5, 5, 4], dtype: 'f32' as const };
    expect(() => CONV.shape([x, { shape: [3, 3, 3, 8], dtype: 'f32' }], base)).toThrow(/features 4.*rhs input features 3/);
    expect(() => CONV.shape([x, { shape: [3, 3, 2, 8], dtype: 'f32' }], { ...base, featureGroupCount: 2 })).not.toThrow();
    expect(() => CONV.shape([x, { shape: [3, 3, 2, 8], dtype: 'f32' }], { ...base, featureGroupCount: 2, batchGroupCount: 2 })).toThrow(/cannot both/);
    expect(() => CONV.shape([x, { shape: [3, 3, 4, 8], dtype: 'f32' }], { ...base, padding: [[-4, -4], [0, 0]] })).toThrow(/negative padded size/);
    expect(() => CONV.shape([x, { shape: [3, 3, 4, 8], dtype: 'f32' }], { ...base, dimensionNumbers: { ...NHWC, lhsSpec: [0, 3, 1, 1] } })).toThrow(/permutation/);
  });

  it('gives an empty output when the window does not fit', () => {
    const out = CONV.shape([{ shape: [1, 2, 2, 1], dtype: 'f32' }, { shape: [3, 3, 1, 1], dtype: 'f32' }], {
      windowStrides: [1, 1], padding: [[0, 0], [0, 0]], lhsDilation: [1, 1], rhsDilation: [1, 1],
      dimensionNumbers: NHWC, featureGroupCount: 1, batchGroupCount: 1,
    });
    expect(out[0]!.shape).toEqual([1, 0, 0, 1]);
  });
});

describe('conv_general_dilated properties', () => {
  const convCase = fc.record({
    n: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 5 }),
    w: fc.integer({ min: 1, max: 5 }),
    groups: fc.integer({ min: 1, max: 2 }),
    batchGroups: fc.integer({ min: 1, max: 2 }),
    cPerGroup: fc.integer({ min: 1, max: 2 }),
    oPerGroup: fc.integer({ min: 1, max: 2 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
    pad: fc.tuple(
      fc.tuple(fc.integer({ min: -1, max: 2 }), fc.integer({ min: -1, max: 2 })),
      fc.tuple(fc.integer({ min: -1, max: 2 }), fc.integer({ min: -1, max: 2 })),
    ),
    lhsDil: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    rhsDil: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
    seed: fc.nat(),
  });

  it('matches a direct NHWC/HWIO loop (strides, padding, dilations, feature and batch groups)', () => {
    fc.assert(
      fc.property(convCase, (c) => {
        const groups = c.batchGroups > 1 ? 1 : c.groups; // XLA forbids both > 1
        const N = c.n * c.batchGroups;
        const C = c.cPerGroup * groups;
        const I = c.cPerGroup;
        const O = c.oPerGroup * groups * c.batchGroups;
        const ints = (count: number, salt: number) => Array.from({ length: count }, (_, i) => ((i * 7 + salt + c.seed) % 9) - 4);
        const xShape = [N, c.h, c.w, C];
        const wShape = [c.kh, c.kw, I, O];
        const x = ints(sizeOf(xShape), 1);
        const w = ints(sizeOf(wShape), 5);
        const expected = directConv2d(x, xShape, w, wShape, {
          stride: c.stride, pad: c.pad, lhsDil: c.lhsDil, rhsDil: c.rhsDil, groups, batchGroups: c.batchGroups,
        });
        const padded = (i: 0 | 1) => c.pad[i][0] + ([c.h, c.w][i]! - 1) * c.lhsDil[i] + 1 + c.pad[i][1];
        fc.pre(padded(0) >= 0 && padded(1) >= 0);
        const out = conv(tensorFrom('f32', xShape, x), tensorFrom('f32', wShape, w), {
          windowStrides: c.stride, padding: c.pad, lhsDilation: c.lhsDil, rhsDilation: c.rhsDil,
          featureGroupCount: groups, batchGroupCount: c.batchGroups,
        });
        expect(out.shape).toEqual(expected.shape);
        expect([...toNumbers(out)]).toEqual(expected.values);
      }),
      { numRuns: 150 },
    );
  });

  it('gives the same numbers in NCHW/OIHW layout as in NHWC/HWIO', () => {
    fc.assert(
      fc.property(convCase, (c) => {
        const xShape = [c.n, c.h, c.w, c.cPerGroup];
        const wShape = [c.kh, c.kw, c.cPerGroup, c.oPerGroup];
        const x = Array.from({ length: sizeOf(xShape) }, (_, i) => ((i * 5 + c.seed) % 7) - 3);
        const w = Array.from({ length: sizeOf(wShape) }, (_, i) => ((i * 3 + c.seed) % 5) - 2);
        const params = { windowStrides: c.stride, padding: [[1, 0], [0, 1]] as [number, number][], rhsDilation: c.rhsDil };
        const nhwc = conv(tensorFrom('f32', xShape, x), tensorFrom('f32', wShape, w), params);
        // Transpose x to NCHW and w to OIHW by hand.
        const [N, H, W, C] = xShape as [number, number, number, number];
        const [KH, KW, I, O] = wShape as [number, number, number, number];
        const xT: number[] = [];
        for (let n = 0; n < N; n++) for (let ch = 0; ch < C; ch++) for (let y = 0; y < H; y++) for (let z = 0; z < W; z++) xT.push(x[((n * H + y) * W + z) * C + ch]!);
        const wT: number[] = [];
        for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let y = 0; y < KH; y++) for (let z = 0; z < KW; z++) wT.push(w[((y * KW + z) * I + i) * O + o]!);
        const nchw = conv(tensorFrom('f32', [N, C, H, W], xT), tensorFrom('f32', [O, I, KH, KW], wT), {
          ...params,
          dimensionNumbers: { lhsSpec: [0, 1, 2, 3], rhsSpec: [0, 1, 2, 3], outSpec: [0, 1, 2, 3] },
        });
        const [, OH, OW] = nhwc.shape as [number, number, number, number];
        expect(nchw.shape).toEqual([N, O, OH, OW]);
        const a = toNumbers(nhwc);
        const b = toNumbers(nchw);
        for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let y = 0; y < OH; y++) for (let z = 0; z < OW; z++) {
          expect(b[((n * O + o) * OH + y) * OW + z]).toBe(a[((n * OH + y) * OW + z) * O + o]);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a 1x1 conv equals a dot over the feature dim', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 1, max: 4 }), w: fc.integer({ min: 1, max: 4 }), c: fc.integer({ min: 1, max: 4 }), o: fc.integer({ min: 1, max: 4 }), seed: fc.integer() }),
        ({ n, h, w, c, o, seed }) => {
          let s = seed;
          const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) | 0), (s >>> 8) / 2 ** 24 - 0.5);
          const x = tensorFrom('f32', [n, h, w, c], Array.from({ length: n * h * w * c }, rand));
          const k = tensorFrom('f32', [1, 1, c, o], Array.from({ length: c * o }, rand));
          const viaConv = conv(x, k, { windowStrides: [1, 1] });
          const kernel2d = tensorFrom('f32', [c, o], toNumbers(k));
          const viaDot = dot(x, kernel2d, { contractingDims: [[3], [0]], batchDims: [[], []] });
          expect(viaConv.shape).toEqual(viaDot.shape);
          // Same terms in the same (input-feature) order, so bit-identical.
          expect([...toNumbers(viaConv)]).toEqual([...toNumbers(viaDot)]);
        },
      ),
      { numRuns: 50 },
    );
  });
});
