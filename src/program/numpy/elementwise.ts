/**
 * Element-wise jax.numpy: numpy broadcasting and dtype promotion in front of the layer-1
 * element-wise primitives (which need operands of one shape and dtype).
 */
import { type DType, checkDType, isFloat } from '../../tpu/dtype.js';
import { Tensor } from '../tracer.js';
import * as lax from '../lax.js';
import { type ArrayLike, allWeak, asTensorOf, asarray, markWeak, resultType, toFloat } from './dtypes.js';
import { broadcastShapes, broadcastTo } from './axes.js';

function shapeOf(x: ArrayLike): readonly number[] {
  return x instanceof Tensor ? x.shape : [];
}

/**
 * Promotes `xs` to one dtype (`floatOnly`: at least f32-kind) and broadcasts them to one
 * shape. Errors name `op` and every operand's shape.
 */
export function promoteAndBroadcast(op: string, xs: readonly ArrayLike[], { floatOnly = false } = {}): Tensor[] {
  let dtype = resultType(...xs);
  if (floatOnly && !isFloat(dtype)) dtype = 'f32';
  const shape = broadcastShapes(op, ...xs.map(shapeOf));
  return xs.map((x) => broadcastTo(asTensorOf(x, dtype), shape, op));
}

function binary(op: string, f: (a: Tensor, b: Tensor) => Tensor, floatOnly = false) {
  return (x: ArrayLike, y: ArrayLike): Tensor => {
    const [a, b] = promoteAndBroadcast(op, [x, y], { floatOnly });
    const out = f(a!, b!);
    return allWeak([x, y]) ? markWeak(out) : out;
  };
}

function unary(f: (a: Tensor) => Tensor, floatOnly = true) {
  return (x: ArrayLike): Tensor => {
    const t = asarray(x);
    const out = f(floatOnly ? toFloat(t) : t);
    return allWeak([x]) ? markWeak(out) : out;
  };
}

function compare(op: string, f: (a: Tensor, b: Tensor) => Tensor) {
  return (x: ArrayLike, y: ArrayLike): Tensor => {
    const [a, b] = promoteAndBroadcast(op, [x, y]);
    return f(a!, b!);
  };
}

// ---- arithmetic -----------------------------------------------------------------------------

export const add = binary('add', lax.add);
export const subtract = binary('subtract', lax.sub);
export const multiply = binary('multiply', lax.mul);
/** True division: integer operands give f32, as jnp.divide. */
export const divide = binary('divide', lax.div, true);
export const trueDivide = divide;
export const maximum = binary('maximum', lax.max);
export const minimum = binary('minimum', lax.min);
export const arctan2 = binary('arctan2', lax.atan2, true);
export const nextafter = binary('nextafter', lax.nextafter, true);

/** numpy's floor division (rounds toward -inf). */
export const floorDivide = binary('floor_divide', (a, b) => {
  if (isFloat(a.dtype)) return lax.floor(lax.div(a, b));
  // Integer: truncated quotient, minus one where the signs differ and the division was inexact.
  const q = lax.div(a, b);
  const zero = lax.broadcastInDim(asTensorOf(0, a.dtype), a.shape, []);
  const one = lax.broadcastInDim(asTensorOf(1, a.dtype), a.shape, []);
  const inexact = lax.ne(lax.rem(a, b), zero);
  const signsDiffer = lax.ne(lax.lt(a, zero), lax.lt(b, zero));
  return lax.select(lax.bitwiseAnd(inexact, signsDiffer), lax.sub(q, one), q);
});

/** numpy's remainder: the result has the divisor's sign (jnp.remainder / jnp.mod). */
export const remainder = binary('remainder', (a, b) => {
  const r = lax.rem(a, b);
  const zero = lax.broadcastInDim(asTensorOf(0, a.dtype), a.shape, []);
  const needsShift = lax.bitwiseAnd(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(b, zero)));
  return lax.select(needsShift, lax.add(r, b), r);
});
export const mod = remainder;

/** jnp.power: a static integer exponent uses integer_pow (exact for ints, cheap for floats). */
export function power(x: ArrayLike, y: ArrayLike): Tensor {
  if (typeof y === 'number' && Number.isInteger(y) && Math.abs(y) <= 64 && x instanceof Tensor) {
    if (y < 0 && !isFloat(x.dtype)) throw new RangeError(`power: integers to negative integer powers are not allowed (${x} ** ${y})`);
    return lax.integerPow(x, y);
  }
  const [a, b] = promoteAndBroadcast('power', [x, y], { floatOnly: true });
  const out = lax.pow(a!, b!);
  return allWeak([x, y]) ? markWeak(out) : out;
}

// ---- unary math -----------------------------------------------------------------------------

export const negative = unary(lax.neg, false);
export const abs = unary(lax.abs, false);
export const absolute = abs;
export const sign = unary(lax.sign, false);
export const floor = unary((a) => (isFloat(a.dtype) ? lax.floor(a) : a), false);
export const ceil = unary((a) => (isFloat(a.dtype) ? lax.ceil(a) : a), false);
/** jnp.round rounds half to even, as numpy does. */
export const round = unary((a) => {
  if (!isFloat(a.dtype)) return a;
  const r = lax.round(a); // half away from zero
  const half = lax.broadcastInDim(asTensorOf(0.5, a.dtype), a.shape, []);
  const two = lax.broadcastInDim(asTensorOf(2, a.dtype), a.shape, []);
  const isTie = lax.eq(lax.abs(lax.sub(a, lax.floor(a))), half);
  const rIsOdd = lax.ne(lax.rem(r, two), lax.broadcastInDim(asTensorOf(0, a.dtype), a.shape, []));
  return lax.select(lax.bitwiseAnd(isTie, rIsOdd), lax.sub(r, lax.sign(a)), r);
}, false);
export const square = unary(lax.square, false);
export const exp = unary(lax.exp);
export const exp2 = unary(lax.exp2);
export const log = unary(lax.log);
export const log1p = unary(lax.log1p);
export const expm1 = unary(lax.expm1);
export const log2 = unary((a) => lax.div(lax.log(a), lax.broadcastInDim(asTensorOf(Math.LN2, a.dtype), a.shape, [])));
export const log10 = unary((a) => lax.div(lax.log(a), lax.broadcastInDim(asTensorOf(Math.LN10, a.dtype), a.shape, [])));
export const sqrt = unary(lax.sqrt);
export const rsqrt = unary(lax.rsqrt);
export const cbrt = unary(lax.cbrt);
export const reciprocal = unary(lax.reciprocal);
export const sin = unary(lax.sin);
export const cos = unary(lax.cos);
export const tan = unary(lax.tan);
export const arcsin = unary(lax.asin);
export const arccos = unary(lax.acos);
export const arctan = unary(lax.atan);
export const sinh = unary(lax.sinh);
export const cosh = unary(lax.cosh);
export const tanh = unary(lax.tanh);
export const arcsinh = unary(lax.asinh);
export const arccosh = unary(lax.acosh);
export const arctanh = unary(lax.atanh);
/** jax.scipy.special.erf / erfinv. */
export const erf = unary(lax.erf);
export const erfinv = unary(lax.erfInv);

export function isfinite(x: ArrayLike): Tensor {
  const t = asarray(x);
  return isFloat(t.dtype) ? lax.isFinite(t) : lax.broadcastInDim(asTensorOf(true, 'bool'), t.shape, []);
}
export function isnan(x: ArrayLike): Tensor {
  const t = asarray(x);
  return lax.ne(t, t);
}
export function isinf(x: ArrayLike): Tensor {
  const t = asarray(x);
  if (!isFloat(t.dtype)) return lax.broadcastInDim(asTensorOf(false, 'bool'), t.shape, []);
  return lax.bitwiseAnd(lax.bitwiseNot(lax.isFinite(t)), lax.eq(t, t));
}

// ---- comparisons and logic ------------------------------------------------------------------

export const equal = compare('equal', lax.eq);
export const notEqual = compare('not_equal', lax.ne);
export const less = compare('less', lax.lt);
export const lessEqual = compare('less_equal', lax.le);
export const greater = compare('greater', lax.gt);
export const greaterEqual = compare('greater_equal', lax.ge);

function asBool(x: ArrayLike): Tensor {
  const t = asarray(x);
  return t.dtype === 'bool' ? t : lax.ne(t, lax.broadcastInDim(asTensorOf(0, t.dtype), t.shape, []));
}
function logical(op: string, f: (a: Tensor, b: Tensor) => Tensor) {
  return (x: ArrayLike, y: ArrayLike): Tensor => {
    const shape = broadcastShapes(op, shapeOf(x), shapeOf(y));
    return f(broadcastTo(asBool(x), shape, op), broadcastTo(asBool(y), shape, op));
  };
}
export const logicalAnd = logical('logical_and', lax.bitwiseAnd);
export const logicalOr = logical('logical_or', lax.bitwiseOr);
export const logicalXor = logical('logical_xor', lax.bitwiseXor);
export function logicalNot(x: ArrayLike): Tensor {
  return lax.bitwiseNot(asBool(x));
}

export const bitwiseAnd = binary('bitwise_and', lax.bitwiseAnd);
export const bitwiseOr = binary('bitwise_or', lax.bitwiseOr);
export const bitwiseXor = binary('bitwise_xor', lax.bitwiseXor);
export const bitwiseNot = unary(lax.bitwiseNot, false);
export const leftShift = binary('left_shift', lax.shiftLeft);
export const rightShift = binary('right_shift', lax.shiftRightArithmetic);

/** jnp.where(condition, x, y): broadcasts all three; x and y are promoted together. */
export function where(condition: ArrayLike, x: ArrayLike, y: ArrayLike): Tensor {
  const dtype = resultType(x, y);
  const shape = broadcastShapes('where', shapeOf(condition), shapeOf(x), shapeOf(y));
  const c = broadcastTo(asBool(condition), shape, 'where');
  const out = lax.select(c, broadcastTo(asTensorOf(x, dtype), shape, 'where'), broadcastTo(asTensorOf(y, dtype), shape, 'where'));
  return allWeak([x, y]) ? markWeak(out) : out;
}

/** jnp.clip: bounds are optional; implemented with maximum/minimum so gradients pass inside the range. */
export function clip(x: ArrayLike, min?: ArrayLike | null, max?: ArrayLike | null): Tensor {
  let out = asarray(x);
  if (min !== undefined && min !== null) out = maximum(out, min);
  if (max !== undefined && max !== null) out = minimum(out, max);
  return out;
}

/** x.astype(dtype). */
export function astype(x: ArrayLike, dtype: DType): Tensor {
  return lax.convertElementType(asarray(x), checkDType(dtype));
}
