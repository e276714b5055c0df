import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from '../../../src/tpu/ops.js';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { bf16BitsToF32, f32ToBf16Bits } from '../../../src/tpu/dtype.js';
import { ELEMENTWISE_PRIMS as P } from '../../../src/tpu/prims/elementwise.js';
import { erf, erfc, erfInv } from '../../../src/tpu/prims/erf.js';
import { NO_PARAMS, run, run1, scalar, t } from './run.js';

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

describe('elementwise table', () => {
  it('defines every unary, binary and compare op plus the extra element-wise primitives', () => {
    const extra = ['integer_pow', 'select', 'clamp', 'convert_element_type', 'bitcast_convert_type', 'threefry2x32'];
    const names = [...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS, ...extra];
    expect(Object.keys(P).sort()).toEqual([...names].sort());
    for (const n of names) expect(P[n as keyof typeof P].name).toBe(n);
  });
});

describe('unary ops', () => {
  it('neg, abs and sign on f32 and i32 (i32 wraps at INT_MIN)', () => {
    expect(run1(P.neg, [t('f32', [3], [1.5, -0, 2])], NO_PARAMS)).toEqual([-1.5, 0, -2]);
    expect(run1(P.neg, [t('i32', [2], [5, INT_MIN])], NO_PARAMS)).toEqual([-5, INT_MIN]);
    expect(run1(P.abs, [t('i32', [3], [-5, 7, INT_MIN])], NO_PARAMS)).toEqual([5, 7, INT_MIN]);
    expect(run1(P.abs, [t('bf16', [2], [-2.5, 3])], NO_PARAMS)).toEqual([2.5, 3]);
    const s = run1(P.sign, [t('f32', [5], [-2, -0, 0, 3, NaN])], NO_PARAMS);
    expect(s).toEqual([-1, -0, 0, 1, NaN]);
    expect(Object.is(s[1], -0)).toBe(true);
    expect(run1(P.sign, [t('i32', [3], [-9, 0, 4])], NO_PARAMS)).toEqual([-1, 0, 1]);
  });

  it('round is half away from zero; floor and ceil', () => {
    const x = t('f32', [7], [0.5, 1.5, 2.5, -0.5, -2.5, 0.49999997, -0.3]);
    const r = run1(P.round, [x], NO_PARAMS);
    expect(r).toEqual([1, 2, 3, -1, -3, 0, -0]);
    expect(Object.is(r[6], -0)).toBe(true);
    expect(run1(P.floor, [t('f32', [2], [-1.5, 1.5])], NO_PARAMS)).toEqual([-2, 1]);
    expect(run1(P.ceil, [t('bf16', [2], [-1.5, 1.5])], NO_PARAMS)).toEqual([-1, 2]);
  });

  it('is_finite gives bool', () => {
    const [out] = run(P.is_finite, [t('f32', [4], [1, Infinity, -Infinity, NaN])], NO_PARAMS);
    expect(out!.dtype).toBe('bool');
    expect([...out!.data]).toEqual([1, 0, 0, 0]);
  });

  it('transcendentals round to f32 and bf16 on store', () => {
    expect(run1(P.exp, [t('f32', [1], [1])], NO_PARAMS)).toEqual([Math.fround(Math.E)]);
    expect(run1(P.exp, [t('f32', [1], [1])], NO_PARAMS)[0]).toBe(2.7182817459106445);
    expect(run1(P.sqrt, [t('f32', [1], [2])], NO_PARAMS)[0]).toBe(1.4142135381698608);
    // bf16 has 8 significant bits: sqrt(2) = 1.41421... -> 1.4140625 (1 + 53/128).
    expect(run1(P.sqrt, [t('bf16', [1], [2])], NO_PARAMS)[0]).toBe(1.4140625);
    expect(run1(P.log, [t('f32', [3], [0, -1, 1])], NO_PARAMS)).toEqual([-Infinity, NaN, 0]);
    expect(run1(P.rsqrt, [t('f32', [1], [4])], NO_PARAMS)).toEqual([0.5]);
    expect(run1(P.cbrt, [t('f32', [1], [-27])], NO_PARAMS)).toEqual([-3]);
    expect(run1(P.logistic, [t('f32', [3], [0, -1000, 1000])], NO_PARAMS)).toEqual([0.5, 0, 1]);
    expect(run1(P.exp2, [t('f32', [2], [10, -1])], NO_PARAMS)).toEqual([1024, 0.5]);
    expect(run1(P.log1p, [t('f32', [1], [1e-10])], NO_PARAMS)[0]).toBe(Math.fround(1e-10));
    expect(run1(P.expm1, [t('f32', [1], [1e-10])], NO_PARAMS)[0]).toBe(Math.fround(1e-10));
    expect(run1(P.tanh, [t('f32', [2], [0, 50])], NO_PARAMS)).toEqual([0, 1]);
    expect(run1(P.atanh, [t('f32', [1], [1])], NO_PARAMS)).toEqual([Infinity]);
    expect(run1(P.acosh, [t('f32', [1], [0.5])], NO_PARAMS)).toEqual([NaN]);
    const tr = run1(P.sin, [t('f32', [1], [Math.PI / 6])], NO_PARAMS)[0]!;
    expect(tr).toBeCloseTo(0.5, 6);
    expect(run1(P.reciprocal, [t('f32', [2], [4, 0])], NO_PARAMS)).toEqual([0.25, Infinity]);
    expect(run1(P.square, [t('f32', [1], [-3])], NO_PARAMS)).toEqual([9]);
    expect(run1(P.square, [t('i32', [1], [65536])], NO_PARAMS)).toEqual([0]);
  });

  it('erf and erf_inv match known values', () => {
    // Values from Abramowitz & Stegun table 7.1 / DLMF 7.
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 14);
    expect(erf(-3.5)).toBeCloseTo(-0.9999992569016276, 14);
    expect(erfc(3) / 2.209049699858544e-5).toBeCloseTo(1, 12);
    expect(erfc(5) / 1.5374597944280349e-12).toBeCloseTo(1, 12);
    expect(erfInv(0.5)).toBeCloseTo(0.4769362762044699, 13);
    expect(erfInv(0.9)).toBeCloseTo(1.1630871536766743, 13);
    expect(erfInv(-0.999)).toBeCloseTo(-2.326753765513525, 12);
    expect(run1(P.erf, [t('f32', [2], [1, 0])], NO_PARAMS)).toEqual([Math.fround(0.8427007929497149), 0]);
    // bf16: 0.8427 lies between 215/256 and 216/256, nearer 216/256.
    expect(run1(P.erf, [t('bf16', [1], [1])], NO_PARAMS)).toEqual([0.84375]);
    expect(run1(P.erf_inv, [t('f32', [4], [1, -1, 1.5, 0])], NO_PARAMS)).toEqual([Infinity, -Infinity, NaN, 0]);
  });

  it('erf_inv inverts erf (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: -0.9999999, max: 0.9999999, noNaN: true }), (y) => {
        const x = erfInv(y);
        if (Math.abs(y) <= 0.5) expect(Math.abs(erf(x) - y)).toBeLessThanOrEqual(1e-15);
        else expect(Math.abs(erfc(Math.abs(x)) - (1 - Math.abs(y)))).toBeLessThanOrEqual(1e-12 * (1 - Math.abs(y)) + 1e-16);
      }),
    );
  });

  it('bitwise unary ops: not, population_count, clz', () => {
    expect(run1(P.not, [t('i32', [3], [0, -1, 5])], NO_PARAMS)).toEqual([-1, 0, -6]);
    expect(run1(P.not, [t('bool', [2], [0, 1])], NO_PARAMS)).toEqual([1, 0]);
    expect(run1(P.population_count, [t('i32', [5], [0, 1, 7, -1, INT_MIN])], NO_PARAMS)).toEqual([0, 1, 3, 32, 1]);
    expect(run1(P.clz, [t('i32', [4], [0, 1, -1, 256])], NO_PARAMS)).toEqual([32, 31, 0, 23]);
  });

  it('rejects dtypes as XLA does, naming op and shapes', () => {
    expect(() => P.exp.shape([{ dtype: 'i32', shape: [2] }], NO_PARAMS)).toThrow(ShapeError);
    expect(() => P.exp.shape([{ dtype: 'i32', shape: [2] }], NO_PARAMS)).toThrow(/^exp: .*i32\[2\]/);
    expect(() => P.erf_inv.shape([{ dtype: 'bool', shape: [] }], NO_PARAMS)).toThrow(/erf_inv.*bool\[\]/);
    expect(() => P.not.shape([{ dtype: 'f32', shape: [1] }], NO_PARAMS)).toThrow(/not.*f32\[1\]/);
    expect(() => P.population_count.shape([{ dtype: 'bool', shape: [1] }], NO_PARAMS)).toThrow(ShapeError);
    expect(() => P.neg.shape([{ dtype: 'bool', shape: [1] }], NO_PARAMS)).toThrow(ShapeError);
    expect(() => P.neg.shape([], NO_PARAMS)).toThrow(/neg: expected 1 operand, got 0/);
  });
});

describe('binary ops', () => {
  it('f32 add rounds like float32 (0.1f + 0.2f == 0.3f)', () => {
    const out = run1(P.add, [t('f32', [1], [0.1]), t('f32', [1], [0.2])], NO_PARAMS);
    expect(out).toEqual([0.30000001192092896]);
  });

  it('i32 add and mul wrap', () => {
    expect(run1(P.add, [t('i32', [1], [INT_MAX]), t('i32', [1], [1])], NO_PARAMS)).toEqual([INT_MIN]);
    expect(run1(P.sub, [t('i32', [1], [INT_MIN]), t('i32', [1], [1])], NO_PARAMS)).toEqual([INT_MAX]);
    expect(run1(P.mul, [t('i32', [2], [65536, -3]), t('i32', [2], [65536, 7])], NO_PARAMS)).toEqual([0, -21]);
  });

  it('i32 div and rem truncate toward zero with XLA edge cases', () => {
    const a = t('i32', [6], [7, -7, 7, 5, INT_MIN, -5]);
    const b = t('i32', [6], [-2, 2, 2, 0, -1, 0]);
    expect(run1(P.div, [a, b], NO_PARAMS)).toEqual([-3, -3, 3, -1, INT_MIN, -1]);
    expect(run1(P.rem, [a, b], NO_PARAMS)).toEqual([1, -1, 1, 5, 0, -5]);
  });

  it('i32 div/rem satisfy a = div*b + rem (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: INT_MIN, max: INT_MAX }), fc.integer({ min: INT_MIN, max: INT_MAX }), (a, b) => {
        fc.pre(b !== 0 && !(a === INT_MIN && b === -1));
        const q = run1(P.div, [t('i32', [1], [a]), t('i32', [1], [b])], NO_PARAMS)[0]!;
        const r = run1(P.rem, [t('i32', [1], [a]), t('i32', [1], [b])], NO_PARAMS)[0]!;
        expect((Math.imul(q, b) + r) | 0).toBe(a);
        expect(Math.abs(r)).toBeLessThan(Math.abs(b));
        expect(r === 0 || Math.sign(r) === Math.sign(a)).toBe(true);
      }),
    );
  });

  it('float div and rem (fmod)', () => {
    expect(run1(P.div, [t('f32', [2], [1, -1]), t('f32', [2], [0, 0])], NO_PARAMS)).toEqual([Infinity, -Infinity]);
    expect(run1(P.rem, [t('f32', [3], [5.5, -5.5, 1]), t('f32', [3], [2, 2, 0])], NO_PARAMS)).toEqual([1.5, -1.5, NaN]);
  });

  it('pow follows IEEE pow', () => {
    const x = t('f32', [5], [2, 1, -1, NaN, -8]);
    const y = t('f32', [5], [10, NaN, Infinity, 0, 1 / 3]);
    expect(run1(P.pow, [x, y], NO_PARAMS)).toEqual([1024, 1, 1, 1, NaN]);
    expect(() => P.pow.shape([{ dtype: 'i32', shape: [] }, { dtype: 'i32', shape: [] }], NO_PARAMS)).toThrow(ShapeError);
  });

  it('max and min propagate NaN; work on i32 and bool', () => {
    const a = t('f32', [3], [NaN, 1, 2]);
    const b = t('f32', [3], [1, NaN, -3]);
    expect(run1(P.max, [a, b], NO_PARAMS)).toEqual([NaN, NaN, 2]);
    expect(run1(P.min, [a, b], NO_PARAMS)).toEqual([NaN, NaN, -3]);
    expect(run1(P.max, [t('i32', [2], [-4, 9]), t('i32', [2], [3, 2])], NO_PARAMS)).toEqual([3, 9]);
    expect(run1(P.min, [t('bool', [3], [0, 1, 1]), t('bool', [3], [1, 0, 1])], NO_PARAMS)).toEqual([0, 0, 1]);
    expect(run1(P.max, [t('bool', [3], [0, 1, 0]), t('bool', [3], [1, 0, 0])], NO_PARAMS)).toEqual([1, 1, 0]);
  });

  it('atan2 and nextafter in the operand dtype', () => {
    expect(run1(P.atan2, [t('f32', [1], [1]), t('f32', [1], [-1])], NO_PARAMS)[0]).toBe(Math.fround((3 * Math.PI) / 4));
    const x = t('f32', [5], [1, 1, 0, -1, 2]);
    const y = t('f32', [5], [2, 0, -1, 0, 2]);
    expect(run1(P.nextafter, [x, y], NO_PARAMS)).toEqual([1 + 2 ** -23, 1 - 2 ** -24, -(2 ** -149), -1 + 2 ** -24, 2]);
    const xb = t('bf16', [3], [1, 1, 0]);
    const yb = t('bf16', [3], [2, 0, 1]);
    expect(run1(P.nextafter, [xb, yb], NO_PARAMS)).toEqual([1 + 2 ** -7, 1 - 2 ** -8, 2 ** -133]);
  });

  it('bitwise and, or, xor on i32 and bool', () => {
    const a = t('i32', [2], [0b1100, -1]);
    const b = t('i32', [2], [0b1010, 0x0f0f]);
    expect(run1(P.and, [a, b], NO_PARAMS)).toEqual([0b1000, 0x0f0f]);
    expect(run1(P.or, [a, b], NO_PARAMS)).toEqual([0b1110, -1]);
    expect(run1(P.xor, [a, b], NO_PARAMS)).toEqual([0b0110, ~0x0f0f]);
    expect(run1(P.xor, [t('bool', [2], [1, 1]), t('bool', [2], [0, 1])], NO_PARAMS)).toEqual([1, 0]);
    expect(() => P.and.shape([{ dtype: 'f32', shape: [2] }, { dtype: 'f32', shape: [2] }], NO_PARAMS)).toThrow(/and: .*f32\[2\], f32\[2\]/);
  });

  it('shifts treat amounts as unsigned; >= 32 gives 0 or the sign fill', () => {
    const x = t('i32', [6], [1, 1, 1, -1, -8, 8]);
    const n = t('i32', [6], [31, 32, -1, 28, 1, 40]);
    expect(run1(P.shift_left, [x, n], NO_PARAMS)).toEqual([INT_MIN, 0, 0, -268435456, -16, 0]);
    expect(run1(P.shift_right_logical, [x, n], NO_PARAMS)).toEqual([0, 0, 0, 15, 2147483644, 0]);
    expect(run1(P.shift_right_arithmetic, [x, n], NO_PARAMS)).toEqual([0, 0, 0, -1, -4, 0]);
    expect(run1(P.shift_right_arithmetic, [t('i32', [1], [-8]), t('i32', [1], [40])], NO_PARAMS)).toEqual([-1]);
    expect(run1(P.shift_right_logical, [t('i32', [1], [-1]), t('i32', [1], [0])], NO_PARAMS)).toEqual([-1]);
    expect(() => P.shift_left.shape([{ dtype: 'bool', shape: [] }, { dtype: 'bool', shape: [] }], NO_PARAMS)).toThrow(ShapeError);
  });

  it('rejects mismatched shapes, dtypes and bool arithmetic', () => {
    const f2 = { dtype: 'f32', shape: [2] } as const;
    const f3 = { dtype: 'f32', shape: [3] } as const;
    expect(() => P.add.shape([f2, f3], NO_PARAMS)).toThrow(/^add: operand shapes differ \(operands: f32\[2\], f32\[3\]\)$/);
    expect(() => P.mul.shape([f2, { dtype: 'bf16', shape: [2] }], NO_PARAMS)).toThrow(/mul: operand dtypes differ/);
    expect(() => P.add.shape([{ dtype: 'bool', shape: [] }, { dtype: 'bool', shape: [] }], NO_PARAMS)).toThrow(ShapeError);
    expect(() => P.add.shape([f2], NO_PARAMS)).toThrow(/add: expected 2 operands, got 1/);
  });

  it('bf16 results are the nearest bf16 to the exact result (property)', () => {
    const bf16 = fc
      .integer({ min: 0, max: 0xffff })
      .map(bf16BitsToF32)
      .filter((v) => Number.isFinite(v) && Math.abs(v) > 2 ** -40 && Math.abs(v) < 2 ** 40);
    fc.assert(
      fc.property(bf16, bf16, fc.constantFrom('add' as const, 'mul' as const, 'sub' as const), (a, b, op) => {
        const exact = op === 'add' ? a + b : op === 'sub' ? a - b : a * b; // exact in double for these ranges
        const [out] = run(P[op], [t('bf16', [1], [a]), t('bf16', [1], [b])], NO_PARAMS);
        const bits = out!.data[0]!;
        const r = bf16BitsToF32(bits);
        const up = bf16BitsToF32((bits + 1) & 0xffff);
        const down = bf16BitsToF32((bits - 1) & 0xffff);
        for (const c of [up, down]) {
          if (Number.isFinite(c) && Math.sign(c) === Math.sign(r)) {
            expect(Math.abs(r - exact)).toBeLessThanOrEqual(Math.abs(c - exact));
          }
        }
      }),
    );
  });
});

describe('compare ops', () => {
  it('return bool with IEEE NaN semantics', () => {
    const a = t('f32', [3], [NaN, 1, 2]);
    const b = t('f32', [3], [NaN, 2, 2]);
    const [eq] = run(P.eq, [a, b], NO_PARAMS);
    expect(eq!.dtype).toBe('bool');
    expect([...eq!.data]).toEqual([0, 0, 1]);
    expect(run1(P.ne, [a, b], NO_PARAMS)).toEqual([1, 1, 0]);
    expect(run1(P.lt, [a, b], NO_PARAMS)).toEqual([0, 1, 0]);
    expect(run1(P.le, [a, b], NO_PARAMS)).toEqual([0, 1, 1]);
    expect(run1(P.gt, [t('i32', [2], [3, -1]), t('i32', [2], [2, 0])], NO_PARAMS)).toEqual([1, 0]);
    expect(run1(P.ge, [t('bool', [2], [1, 0]), t('bool', [2], [1, 1])], NO_PARAMS)).toEqual([1, 0]);
  });

  it('ne is not-eq and lt is not-ge off NaN (property)', () => {
    fc.assert(
      fc.property(fc.float(), fc.float(), (x, y) => {
        const a = t('f32', [1], [x]);
        const b = t('f32', [1], [y]);
        const e = run1(P.eq, [a, b], NO_PARAMS)[0]!;
        expect(run1(P.ne, [a, b], NO_PARAMS)[0]).toBe(1 - e);
        if (!Number.isNaN(x) && !Number.isNaN(y)) {
          expect(run1(P.lt, [a, b], NO_PARAMS)[0]).toBe(1 - run1(P.ge, [a, b], NO_PARAMS)[0]!);
        }
      }),
    );
  });
});

describe('integer_pow', () => {
  it('computes small powers on i32, f32 and bf16', () => {
    expect(run1(P.integer_pow, [t('i32', [3], [3, -2, 0])], { y: 4 })).toEqual([81, 16, 0]);
    expect(run1(P.integer_pow, [t('f32', [2], [2, -4])], { y: -2 })).toEqual([0.25, 0.0625]);
    expect(run1(P.integer_pow, [t('f32', [2], [NaN, 0])], { y: 0 })).toEqual([1, 1]);
    expect(run1(P.integer_pow, [t('bf16', [1], [3])], { y: 7 })).toEqual([2192]); // 2187 -> nearest bf16 (step 16)
  });

  it('rounds every product to the dtype, as JAX lowers it by square-and-multiply', () => {
    // x = 1 + 2^-12: x*x rounds to 1 + 2^-11 in f32, then (1 + 2^-11) * x = 1 + 3*2^-12 + 2^-23
    // exactly; rounding x^3 once would give 1 + 3*2^-12 + 2^-22 instead.
    const x = 1 + 2 ** -12;
    expect(run1(P.integer_pow, [t('f32', [1], [x])], { y: 3 })).toEqual([1 + 3 * 2 ** -12 + 2 ** -23]);
  });

  it('rejects negative powers of integers and non-integer exponents', () => {
    expect(() => P.integer_pow.shape([{ dtype: 'i32', shape: [2] }], { y: -1 })).toThrow(/integer_pow: .*negative.*i32\[2\]/);
    expect(() => P.integer_pow.shape([{ dtype: 'f32', shape: [2] }], { y: 0.5 })).toThrow(ShapeError);
    expect(() => P.integer_pow.shape([{ dtype: 'bool', shape: [2] }], { y: 2 })).toThrow(ShapeError);
  });
});

describe('select and clamp', () => {
  it('select picks onTrue where pred, copying bf16 bits untouched', () => {
    const pred = t('bool', [3], [1, 0, 1]);
    expect(run1(P.select, [pred, t('f32', [3], [1, 2, 3]), t('f32', [3], [10, 20, 30])], NO_PARAMS)).toEqual([1, 20, 3]);
    const nan = new Uint16Array([0x7fc1, 0x3f80, 0xffff]);
    const onTrue = { dtype: 'bf16' as const, shape: [3], data: nan };
    const [out] = run(P.select, [pred, onTrue, t('bf16', [3], [0, 0, 0])], NO_PARAMS);
    expect([...out!.data]).toEqual([0x7fc1, 0, 0xffff]);
  });

  it('select rejects a non-bool predicate and mismatched cases', () => {
    const f = { dtype: 'f32', shape: [2] } as const;
    expect(() => P.select.shape([f, f, f], NO_PARAMS)).toThrow(/select: predicate dtype f32/);
    expect(() => P.select.shape([{ dtype: 'bool', shape: [2] }, f, { dtype: 'f32', shape: [3] }], NO_PARAMS)).toThrow(
      /select: .*bool\[2\], f32\[2\], f32\[3\]/,
    );
  });

  it('clamp with scalar and full bounds; NaN propagates', () => {
    const x = t('f32', [4], [-1, 0.5, 2, NaN]);
    expect(run1(P.clamp, [scalar('f32', 0), x, scalar('f32', 1)], NO_PARAMS)).toEqual([0, 0.5, 1, NaN]);
    const lo = t('i32', [3], [0, 5, -10]);
    const hi = t('i32', [3], [1, 6, 10]);
    expect(run1(P.clamp, [lo, t('i32', [3], [7, 7, 7]), hi], NO_PARAMS)).toEqual([1, 6, 7]);
    expect(() => P.clamp.shape([{ dtype: 'f32', shape: [2] }, { dtype: 'f32', shape: [3] }, { dtype: 'f32', shape: [] }], NO_PARAMS)).toThrow(
      /clamp: min must be a scalar/,
    );
  });
});

describe('conversions', () => {
  it('convert_element_type follows XLA: truncation, saturation, NaN -> 0, RNE to bf16, x != 0 to bool', () => {
    const x = t('f32', [5], [1.9, -1.9, NaN, 3e9, -3e9]);
    expect(run1(P.convert_element_type, [x], { newDtype: 'i32' })).toEqual([1, -1, 0, INT_MAX, INT_MIN]);
    // Ties go to even: 1 + 2^-8 -> 1, 1 + 3*2^-8 -> 1 + 2^-6.
    const b = run1(P.convert_element_type, [t('f32', [3], [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20])], { newDtype: 'bf16' });
    expect(b).toEqual([1, 1 + 2 ** -6, 1 + 2 ** -7]);
    expect(run1(P.convert_element_type, [t('f32', [4], [0, -0, 2, NaN])], { newDtype: 'bool' })).toEqual([0, 0, 1, 1]);
    expect(run1(P.convert_element_type, [t('bool', [2], [1, 0])], { newDtype: 'f32' })).toEqual([1, 0]);
    expect(run1(P.convert_element_type, [t('i32', [2], [257, 16777217])], { newDtype: 'f32' })).toEqual([257, 16777216]);
    expect(run1(P.convert_element_type, [t('i32', [1], [257])], { newDtype: 'bf16' })).toEqual([256]);
    expect(() => P.convert_element_type.shape([{ dtype: 'f32', shape: [] }], { newDtype: 'f64' as never })).toThrow(
      /convert_element_type: unknown newDtype "f64"/,
    );
  });

  it('bitcast_convert_type reinterprets bits', () => {
    expect(run1(P.bitcast_convert_type, [t('f32', [3], [1, -0, -2])], { newDtype: 'i32' })).toEqual([0x3f800000, INT_MIN, -0x40000000]);
    const nanBits = t('i32', [2], [0x7fa00001, 0x40490fdb]);
    const [f] = run(P.bitcast_convert_type, [nanBits], { newDtype: 'f32' });
    expect(Number.isNaN(f!.data[0])).toBe(true);
    expect(f!.data[1]).toBe(Math.fround(Math.PI));
    expect(run1(P.bitcast_convert_type, [f!], { newDtype: 'i32' })).toEqual([0x7fa00001, 0x40490fdb]);
    expect(() => P.bitcast_convert_type.shape([{ dtype: 'f32', shape: [2] }], { newDtype: 'bf16' })).toThrow(
      /bitcast_convert_type: cannot bitcast f32 to bf16.*f32\[2\]/,
    );
  });

  it('bf16 stores are exact bf16 values (property)', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true }), (x) => {
        const [out] = run(P.convert_element_type, [t('f32', [1], [x])], { newDtype: 'bf16' });
        const bits = out!.data[0]!;
        expect(bits).toBe(f32ToBf16Bits(x));
        const r = bf16BitsToF32(bits);
        // Within half a bf16 ulp (2^-8 relative) unless it overflowed to infinity.
        if (Number.isFinite(r) && Math.abs(x) > 2 ** -126) expect(Math.abs(r - x)).toBeLessThanOrEqual(Math.abs(x) * 2 ** -8);
      }),
    );
  });
});

describe('threefry2x32', () => {
  const u = (x: number) => x | 0;
  // Random123 known-answer vectors (kat_vectors, 20 rounds), also in jax's tests/random_test.py.
  const KATS = [
    { key: [0, 0], ctr: [0, 0], out: [0x6b200159, 0x99ba4efe] },
    { key: [0xffffffff, 0xffffffff], ctr: [0xffffffff, 0xffffffff], out: [0x1cb996fc, 0xbb002be7] },
    { key: [0x13198a2e, 0x03707344], ctr: [0x243f6a88, 0x85a308d3], out: [0xc4923a9c, 0x483df7a0] },
  ];

  it('matches the Random123 known answers', () => {
    for (const { key, ctr, out } of KATS) {
      const [y0, y1] = run(
        P.threefry2x32,
        [scalar('i32', u(key[0]!)), scalar('i32', u(key[1]!)), t('i32', [1], [u(ctr[0]!)]), t('i32', [1], [u(ctr[1]!)])],
        NO_PARAMS,
      );
      expect([y0!.data[0]! >>> 0, y1!.data[0]! >>> 0]).toEqual(out);
    }
  });

  it('broadcasts scalar keys like per-element keys', () => {
    const x0 = t('i32', [3], [0, 1, u(0x243f6a88)]);
    const x1 = t('i32', [3], [0, 2, u(0x85a308d3)]);
    const k0 = u(0x13198a2e);
    const k1 = u(0x03707344);
    const a = run(P.threefry2x32, [scalar('i32', k0), scalar('i32', k1), x0, x1], NO_PARAMS);
    const b = run(P.threefry2x32, [t('i32', [3], [k0, k0, k0]), t('i32', [3], [k1, k1, k1]), x0, x1], NO_PARAMS);
    expect([...a[0]!.data]).toEqual([...b[0]!.data]);
    expect([...a[1]!.data]).toEqual([...b[1]!.data]);
    expect(a[0]!.data[2]! >>> 0).toBe(0xc4923a9c);
  });

  it('rejects non-i32 operands and mismatched key shapes', () => {
    const i = (shape: number[]) => ({ dtype: 'i32' as const, shape });
    expect(() => P.threefry2x32.shape([i([]), i([]), { dtype: 'f32', shape: [2] }, i([2])], NO_PARAMS)).toThrow(/threefry2x32: .*f32/);
    expect(() => P.threefry2x32.shape([i([3]), i([]), i([2]), i([2])], NO_PARAMS)).toThrow(/threefry2x32: keys must be scalars/);
  });
});
