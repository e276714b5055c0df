/**
 * Element-wise primitives: unary and binary math, comparisons, integer_pow, select, clamp,
 * dtype conversions and the Threefry-2x32 block cipher. Semantics and dtype rules follow
 * jax.lax / XLA.
 *
 * Float math on f32 and bf16 is computed in JS doubles on the widened inputs and rounded
 * on store (f32: round to nearest even; bf16: to f32, then round to nearest even, which is
 * how the TPU VPU computes bf16 element-wise ops, widened to f32). For +, -, *, / and sqrt
 * this equals XLA's correctly rounded f32 result; for transcendentals XLA uses its own f32
 * approximations, so results agree within an ulp-level tolerance, not bitwise.
 * i32 arithmetic wraps modulo 2^32 as XLA's does.
 */
import type { BinaryOp, CompareOp, UnaryOp } from '../ops.js';
import { BINARY_OPS, COMPARE_OPS, UNARY_OPS } from '../ops.js';
import {
  type DType,
  DTYPES,
  bf16BitsToF32,
  f32ToBf16Bits,
  itemsize,
  readElement,
  writeElement,
} from '../dtype.js';
import { type PrimitiveDef, type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView, sameShape } from '../tensor.js';
import { erf, erfInv } from './erf.js';
import { defsFor, expectArity, expectDType, isScalar, roundToDType } from './util.js';

const INT32_MIN = -2147483648;

/** Per dtype class, the scalar function an op applies; the classes present are the dtypes it accepts. */
interface Impl<F> {
  readonly float?: F;
  readonly int?: F;
  readonly bool?: F;
}
type Unary = (x: number) => number;
type Binary = (a: number, b: number, dtype: DType) => number;

function acceptedDTypes(impl: Impl<unknown>): DType[] {
  const out: DType[] = [];
  if (impl.float) out.push('f32', 'bf16');
  if (impl.int) out.push('i32');
  if (impl.bool) out.push('bool');
  return out;
}

function implFor<F>(op: string, impl: Impl<F>, dtype: DType): F {
  const f = dtype === 'f32' || dtype === 'bf16' ? impl.float : dtype === 'i32' ? impl.int : impl.bool;
  if (!f) throw new Error(`${op}: no ${dtype} kernel (the shape rule should have rejected it)`);
  return f;
}

// ---- unary ---------------------------------------------------------------------------------

/** lax.round's default rounding method: half away from zero (-0.5 -> -1, 0.5 -> 1). */
function roundHalfAwayFromZero(x: number): number {
  return Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
}

/** lax.sign on floats: -1, +-0 (sign kept), 1, NaN. */
function floatSign(x: number): number {
  return Number.isNaN(x) || x === 0 ? x : x > 0 ? 1 : -1;
}

function popcount32(x: number): number {
  let v = x >>> 0;
  let n = 0;
  while (v !== 0) {
    v &= v - 1;
    n++;
  }
  return n;
}

const UNARY_IMPLS: { readonly [K in UnaryOp]: Impl<Unary> & { readonly result?: DType } } = {
  neg: { float: (x) => -x, int: (x) => -x | 0 },
  // abs(INT32_MIN) wraps to INT32_MIN, as in XLA.
  abs: { float: Math.abs, int: (x) => Math.abs(x) | 0 },
  sign: { float: floatSign, int: Math.sign },
  floor: { float: Math.floor },
  ceil: { float: Math.ceil },
  round: { float: roundHalfAwayFromZero },
  is_finite: { float: (x) => (Number.isFinite(x) ? 1 : 0), result: 'bool' },
  exp: { float: Math.exp },
  exp2: { float: (x) => 2 ** x },
  log: { float: Math.log },
  log1p: { float: Math.log1p },
  expm1: { float: Math.expm1 },
  tanh: { float: Math.tanh },
  logistic: { float: (x) => 1 / (1 + Math.exp(-x)) },
  sqrt: { float: Math.sqrt },
  rsqrt: { float: (x) => 1 / Math.sqrt(x) },
  cbrt: { float: Math.cbrt },
  erf: { float: erf },
  erf_inv: { float: erfInv },
  sin: { float: Math.sin },
  cos: { float: Math.cos },
  tan: { float: Math.tan },
  asin: { float: Math.asin },
  acos: { float: Math.acos },
  atan: { float: Math.atan },
  sinh: { float: Math.sinh },
  cosh: { float: Math.cosh },
  asinh: { float: Math.asinh },
  acosh: { float: Math.acosh },
  atanh: { float: Math.atanh },
  square: { float: (x) => x * x, int: (x) => Math.imul(x, x) },
  // lax.reciprocal is integer_pow(x, -1), which rejects integers.
  reciprocal: { float: (x) => 1 / x },
  not: { int: (x) => ~x, bool: (x) => (x ? 0 : 1) },
  // lax.population_count and lax.clz take integers only (not bool), as in JAX.
  population_count: { int: popcount32 },
  clz: { int: Math.clz32 },
};

function unaryDef<N extends UnaryOp>(name: N): PrimitiveDef<N> {
  const impl = UNARY_IMPLS[name];
  const accepted = acceptedDTypes(impl);
  return {
    name,
    shape(inputs) {
      expectArity(name, inputs, 1);
      const x = inputs[0]!;
      expectDType(name, inputs, x, accepted);
      return [{ shape: [...x.shape], dtype: impl.result ?? x.dtype }];
    },
    reference(inputs, outputs) {
      const x = inputs[0]!;
      const out = outputs[0]!;
      const f = implFor(name, impl, x.dtype);
      for (let i = 0; i < x.data.length; i++) {
        writeElement(out.dtype, out.data, i, f(readElement(x.dtype, x.data, i)));
      }
    },
  };
}

// ---- binary --------------------------------------------------------------------------------

/** XLA's max/min on floats propagate NaN (unlike IEEE maxNum). */
function floatMax(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}
function floatMin(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b);
}

/** s32 division truncates toward zero; x / 0 = -1 and INT32_MIN / -1 = INT32_MIN, as XLA defines them. */
function intDiv(a: number, b: number): number {
  if (b === 0) return -1;
  if (a === INT32_MIN && b === -1) return INT32_MIN;
  return Math.trunc(a / b) | 0;
}

/** s32 remainder has the dividend's sign; x % 0 = x and INT32_MIN % -1 = 0, as XLA defines them. */
function intRem(a: number, b: number): number {
  if (b === 0) return a;
  return a % b | 0;
}

/**
 * IEEE 754 pow (C99 Annex F, what XLA's pow lowers to). JS's `**` differs in two cases:
 * pow(1, y) = 1 for every y (NaN too) and pow(-1, +-inf) = 1.
 */
function ieeePow(a: number, b: number): number {
  if (a === 1) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return a ** b;
}

const F32_BITS = new Float32Array(1);
const F32_BITS_I = new Int32Array(F32_BITS.buffer);

/** nextafter in the operands' own dtype: the next representable f32 or bf16 after a toward b. */
function nextAfter(a: number, b: number, dtype: DType): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  if (a === b) return b;
  if (a === 0) {
    // Smallest subnormal, signed like b: 2^-149 for f32, 2^-133 for bf16 (7 fraction bits).
    const tiny = dtype === 'bf16' ? 2 ** -133 : 2 ** -149;
    return b > 0 ? tiny : -tiny;
  }
  // Sign-magnitude encoding: moving away from zero adds one to the bits, toward zero subtracts one.
  const step = a < b === a > 0 ? 1 : -1;
  if (dtype === 'bf16') return bf16BitsToF32((f32ToBf16Bits(a) + step) & 0xffff);
  F32_BITS[0] = a;
  F32_BITS_I[0] = F32_BITS_I[0]! + step;
  return F32_BITS[0]!;
}

/** Shift amounts are read as unsigned; amounts >= 32 give 0 (logical) or the sign fill (arithmetic), as XLA does. */
function shiftTooFar(b: number): boolean {
  return b >>> 0 >= 32;
}

const BINARY_IMPLS: { readonly [K in BinaryOp]: Impl<Binary> } = {
  add: { float: (a, b) => a + b, int: (a, b) => (a + b) | 0 },
  sub: { float: (a, b) => a - b, int: (a, b) => (a - b) | 0 },
  mul: { float: (a, b) => a * b, int: Math.imul },
  div: { float: (a, b) => a / b, int: intDiv },
  // Float rem is C fmod (result has the dividend's sign), which is JS's %.
  rem: { float: (a, b) => a % b, int: intRem },
  pow: { float: ieeePow },
  max: { float: floatMax, int: (a, b) => Math.max(a, b), bool: (a, b) => a | b },
  min: { float: floatMin, int: (a, b) => Math.min(a, b), bool: (a, b) => a & b },
  atan2: { float: Math.atan2 },
  nextafter: { float: nextAfter },
  and: { int: (a, b) => a & b, bool: (a, b) => a & b },
  or: { int: (a, b) => a | b, bool: (a, b) => a | b },
  xor: { int: (a, b) => a ^ b, bool: (a, b) => a ^ b },
  shift_left: { int: (a, b) => (shiftTooFar(b) ? 0 : a << b) },
  shift_right_logical: { int: (a, b) => (shiftTooFar(b) ? 0 : (a >>> b) | 0) },
  shift_right_arithmetic: { int: (a, b) => (shiftTooFar(b) ? a >> 31 : a >> b) },
};

const COMPARE_IMPLS: { readonly [K in CompareOp]: (a: number, b: number) => boolean } = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
};

/** Both operands of one shape and dtype, the dtype one of `accepted`. */
function binaryShape(op: string, inputs: readonly AbstractValue[], accepted: readonly DType[]): AbstractValue {
  expectArity(op, inputs, 2);
  const [x, y] = [inputs[0]!, inputs[1]!];
  if (x.dtype !== y.dtype) throw new ShapeError(op, inputs, `operand dtypes differ (${x.dtype} vs ${y.dtype})`);
  if (!sameShape(x.shape, y.shape)) throw new ShapeError(op, inputs, 'operand shapes differ');
  expectDType(op, inputs, x, accepted);
  return x;
}

function binaryDef<N extends BinaryOp>(name: N): PrimitiveDef<N> {
  const impl = BINARY_IMPLS[name];
  const accepted = acceptedDTypes(impl);
  return {
    name,
    shape(inputs) {
      const x = binaryShape(name, inputs, accepted);
      return [{ shape: [...x.shape], dtype: x.dtype }];
    },
    reference(inputs, outputs) {
      const [x, y] = [inputs[0]!, inputs[1]!];
      const out = outputs[0]!;
      const f = implFor(name, impl, x.dtype);
      for (let i = 0; i < x.data.length; i++) {
        const r = f(readElement(x.dtype, x.data, i), readElement(y.dtype, y.data, i), x.dtype);
        writeElement(out.dtype, out.data, i, r);
      }
    },
  };
}

function compareDef<N extends CompareOp>(name: N): PrimitiveDef<N> {
  const f = COMPARE_IMPLS[name];
  return {
    name,
    shape(inputs) {
      const x = binaryShape(name, inputs, DTYPES);
      return [{ shape: [...x.shape], dtype: 'bool' }];
    },
    reference(inputs, outputs) {
      const [x, y] = [inputs[0]!, inputs[1]!];
      const out = outputs[0]!;
      for (let i = 0; i < x.data.length; i++) {
        out.data[i] = f(readElement(x.dtype, x.data, i), readElement(y.dtype, y.data, i)) ? 1 : 0;
      }
    },
  };
}

// ---- the rest --------------------------------------------------------------------------------

/**
 * lax.integer_pow as JAX lowers it: square-and-multiply with every product rounded to the
 * dtype (so f32/bf16 results match XLA bit for bit), then 1/acc for negative y; y = 0 gives 1.
 */
function integerPow(x: number, y: number, dtype: DType): number {
  if (y === 0) return 1;
  const mul = dtype === 'i32' ? Math.imul : (a: number, b: number) => roundToDType(dtype, a * b);
  let e = Math.abs(y);
  let base = x;
  let acc: number | undefined;
  while (e > 0) {
    if (e & 1) acc = acc === undefined ? base : mul(acc, base);
    e >>= 1;
    if (e > 0) base = mul(base, base);
  }
  return y < 0 ? 1 / acc! : acc!;
}

const integer_pow: PrimitiveDef<'integer_pow'> = {
  name: 'integer_pow',
  shape(inputs, { y }) {
    expectArity('integer_pow', inputs, 1);
    const x = inputs[0]!;
    expectDType('integer_pow', inputs, x, ['f32', 'bf16', 'i32']);
    if (!Number.isInteger(y) || Math.abs(y) > 2 ** 31 - 1) {
      throw new ShapeError('integer_pow', inputs, `exponent y=${y} must be an int32`);
    }
    if (x.dtype === 'i32' && y < 0) {
      throw new ShapeError('integer_pow', inputs, `integers cannot be raised to negative powers (y=${y})`);
    }
    return [{ shape: [...x.shape], dtype: x.dtype }];
  },
  reference(inputs, outputs, { y }) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    for (let i = 0; i < x.data.length; i++) {
      writeElement(out.dtype, out.data, i, integerPow(readElement(x.dtype, x.data, i), y, x.dtype));
    }
  },
};

const select: PrimitiveDef<'select'> = {
  name: 'select',
  shape(inputs) {
    expectArity('select', inputs, 3);
    const [pred, onTrue, onFalse] = [inputs[0]!, inputs[1]!, inputs[2]!];
    expectDType('select', inputs, pred, ['bool'], 'predicate');
    if (onTrue.dtype !== onFalse.dtype) {
      throw new ShapeError('select', inputs, `case dtypes differ (${onTrue.dtype} vs ${onFalse.dtype})`);
    }
    if (!sameShape(pred.shape, onTrue.shape) || !sameShape(onTrue.shape, onFalse.shape)) {
      throw new ShapeError('select', inputs, 'predicate and cases must have one shape');
    }
    return [{ shape: [...onTrue.shape], dtype: onTrue.dtype }];
  },
  reference(inputs, outputs) {
    const [pred, onTrue, onFalse] = [inputs[0]!, inputs[1]!, inputs[2]!];
    const out = outputs[0]!;
    // Raw copies: the element bits pass through untouched (bf16 bits, NaN payloads).
    for (let i = 0; i < out.data.length; i++) out.data[i] = pred.data[i] ? onTrue.data[i]! : onFalse.data[i]!;
  },
};

const clamp: PrimitiveDef<'clamp'> = {
  name: 'clamp',
  shape(inputs) {
    expectArity('clamp', inputs, 3);
    const [lo, x, hi] = [inputs[0]!, inputs[1]!, inputs[2]!];
    if (lo.dtype !== x.dtype || hi.dtype !== x.dtype) {
      throw new ShapeError('clamp', inputs, 'min, operand and max must have one dtype');
    }
    for (const [bound, what] of [[lo, 'min'], [hi, 'max']] as const) {
      if (!isScalar(bound) && !sameShape(bound.shape, x.shape)) {
        throw new ShapeError('clamp', inputs, `${what} must be a scalar or the operand's shape`);
      }
    }
    return [{ shape: [...x.shape], dtype: x.dtype }];
  },
  reference(inputs, outputs) {
    const [lo, x, hi] = [inputs[0]!, inputs[1]!, inputs[2]!];
    const out = outputs[0]!;
    const max = implFor('clamp', BINARY_IMPLS.max, x.dtype);
    const min = implFor('clamp', BINARY_IMPLS.min, x.dtype);
    for (let i = 0; i < x.data.length; i++) {
      const l = readElement(lo.dtype, lo.data, isScalar(lo) ? 0 : i);
      const h = readElement(hi.dtype, hi.data, isScalar(hi) ? 0 : i);
      // XLA: clamp(lo, x, hi) = min(max(x, lo), hi), NaN-propagating.
      writeElement(out.dtype, out.data, i, min(max(readElement(x.dtype, x.data, i), l, x.dtype), h, x.dtype));
    }
  },
};

const convert_element_type: PrimitiveDef<'convert_element_type'> = {
  name: 'convert_element_type',
  shape(inputs, { newDtype }) {
    expectArity('convert_element_type', inputs, 1);
    if (!(DTYPES as readonly unknown[]).includes(newDtype)) {
      throw new ShapeError('convert_element_type', inputs, `unknown newDtype ${JSON.stringify(newDtype)}`);
    }
    return [{ shape: [...inputs[0]!.shape], dtype: newDtype }];
  },
  reference(inputs, outputs) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    if (x.dtype === out.dtype) {
      out.data.set(x.data as never);
      return;
    }
    // writeElement applies XLA's conversions: f32 -> bf16 round to nearest even; float -> s32
    // truncate toward zero, saturating, NaN -> 0; anything -> pred is x != 0 (NaN -> true).
    for (let i = 0; i < x.data.length; i++) writeElement(out.dtype, out.data, i, readElement(x.dtype, x.data, i));
  },
};

const bitcast_convert_type: PrimitiveDef<'bitcast_convert_type'> = {
  name: 'bitcast_convert_type',
  shape(inputs, { newDtype }) {
    expectArity('bitcast_convert_type', inputs, 1);
    const x = inputs[0]!;
    if (!(DTYPES as readonly unknown[]).includes(newDtype) || itemsize(newDtype) !== itemsize(x.dtype)) {
      throw new ShapeError(
        'bitcast_convert_type',
        inputs,
        `cannot bitcast ${x.dtype} to ${String(newDtype)}: element sizes must match`,
      );
    }
    return [{ shape: [...x.shape], dtype: newDtype }];
  },
  reference(inputs, outputs) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    // A view of x's bytes typed like the output; set() between arrays of one type copies bytes.
    const Ctor = out.data.constructor as new (b: ArrayBufferLike, off: number, len: number) => typeof out.data;
    out.data.set(new Ctor(x.data.buffer, x.data.byteOffset, x.data.length) as never);
  },
};

// ---- threefry2x32 ------------------------------------------------------------------------------

function rotl32(v: number, r: number): number {
  return (v << r) | (v >>> (32 - r));
}

// Rotation constants of Threefry-2x32 (Salmon et al. 2011, Table 4), as in jax's _threefry2x32_lowering.
const ROTATIONS: readonly (readonly number[])[] = [
  [13, 15, 26, 6],
  [17, 29, 16, 24],
];
// Key-schedule parity constant of Threefish (Skein 1.3 spec), as in jax's threefry2x32.
const KS_PARITY = 0x1bd11bda;
const KEY_SCHEDULE = new Int32Array(3); // scratch: threefry2x32Block is synchronous

/**
 * Threefry-2x32, 20 rounds: five groups of four rounds with a key injection after each,
 * exactly as jax.random's _threefry2x32_lowering. Works on int32 values holding uint32 bits.
 * Writes the two output words into `out[0]`, `out[1]`.
 */
export function threefry2x32Block(k0: number, k1: number, x0: number, x1: number, out: Int32Array): void {
  const ks = KEY_SCHEDULE;
  ks[0] = k0;
  ks[1] = k1;
  ks[2] = k0 ^ k1 ^ KS_PARITY;
  let a = (x0 + ks[0]!) | 0;
  let b = (x1 + ks[1]!) | 0;
  for (let group = 0; group < 5; group++) {
    for (const r of ROTATIONS[group % 2]!) {
      a = (a + b) | 0;
      b = rotl32(b, r) ^ a;
    }
    a = (a + ks[(group + 1) % 3]!) | 0;
    b = (b + ks[(group + 2) % 3]! + group + 1) | 0;
  }
  out[0] = a;
  out[1] = b;
}

const threefry2x32: PrimitiveDef<'threefry2x32'> = {
  name: 'threefry2x32',
  shape(inputs) {
    expectArity('threefry2x32', inputs, 4);
    const [k0, k1, x0, x1] = [inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!];
    for (const v of inputs) expectDType('threefry2x32', inputs, v, ['i32']);
    if (!sameShape(x0.shape, x1.shape)) throw new ShapeError('threefry2x32', inputs, 'x0 and x1 must have one shape');
    for (const k of [k0, k1]) {
      if (!isScalar(k) && !sameShape(k.shape, x0.shape)) {
        throw new ShapeError('threefry2x32', inputs, "keys must be scalars or the counters' shape");
      }
    }
    return [
      { shape: [...x0.shape], dtype: 'i32' },
      { shape: [...x0.shape], dtype: 'i32' },
    ];
  },
  reference(inputs, outputs) {
    const [k0, k1, x0, x1] = inputs as readonly [TensorView, TensorView, TensorView, TensorView];
    const [y0, y1] = [outputs[0]!.data, outputs[1]!.data];
    const block = new Int32Array(2);
    for (let i = 0; i < x0.data.length; i++) {
      const a = k0.data[isScalar(k0) ? 0 : i]!;
      const b = k1.data[isScalar(k1) ? 0 : i]!;
      threefry2x32Block(a, b, x0.data[i]!, x1.data[i]!, block);
      y0[i] = block[0]!;
      y1[i] = block[1]!;
    }
  },
};

type ElementwiseName =
  | UnaryOp
  | BinaryOp
  | CompareOp
  | 'integer_pow'
  | 'select'
  | 'clamp'
  | 'convert_element_type'
  | 'bitcast_convert_type'
  | 'threefry2x32';

const OTHERS: PrimitiveDefs<Exclude<ElementwiseName, UnaryOp | BinaryOp | CompareOp>> = {
  integer_pow,
  select,
  clamp,
  convert_element_type,
  bitcast_convert_type,
  threefry2x32,
};

export const ELEMENTWISE_PRIMS: PrimitiveDefs<ElementwiseName> = {
  ...defsFor<UnaryOp>(UNARY_OPS, unaryDef),
  ...defsFor<BinaryOp>(BINARY_OPS, binaryDef),
  ...defsFor<CompareOp>(COMPARE_OPS, compareDef),
  ...OTHERS,
};
