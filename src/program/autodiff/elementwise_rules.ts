/**
 * Differentiation rules of the element-wise primitives (JAX: jax/_src/lax/lax.py, the
 * `ad.defjvp` calls beside each primitive). A unary op is described by its derivative
 * f'(x) (from x and y = f(x)); its JVP is t·f'(x) and its VJP ct·f'(x).
 */
import { isFloat } from '../../tpu/dtype.js';
import type { BinaryOp, CompareOp, UnaryOp } from '../../tpu/ops.js';
import type { Tensor } from '../tracer.js';
import {
  add,
  addAll,
  binary,
  broadcastTo,
  compare,
  convert,
  div,
  fullLike,
  integerPow,
  mul,
  neg,
  orZeros,
  scale,
  select,
  sub,
  sumToShape,
  unary,
  zerosLike,
} from './builders.js';
import { NON_DIFFERENTIABLE, type JvpRule, type RuleFamily, type VjpRule } from './rule_types.js';

type Deriv = (x: Tensor, y: Tensor) => Tensor;

const one = (x: Tensor): Tensor => fullLike(x, 1);

/** f'(x) of each differentiable unary op. */
const UNARY_DERIVS = {
  neg: (x) => fullLike(x, -1),
  // JAX: select(x >= 0, g, -g): the derivative at 0 is taken as 1.
  abs: (x) => select(compare('ge', x, zerosLike(x)), one(x), fullLike(x, -1)),
  exp: (_x, y) => y,
  exp2: (_x, y) => scale(y, Math.LN2),
  log: (x) => unary('reciprocal', x),
  log1p: (x) => unary('reciprocal', add(x, one(x))),
  expm1: (_x, y) => add(y, one(y)),
  tanh: (_x, y) => sub(one(y), mul(y, y)),
  logistic: (_x, y) => mul(y, sub(one(y), y)),
  sqrt: (_x, y) => div(fullLike(y, 0.5), y),
  rsqrt: (x, y) => mul(fullLike(y, -0.5), div(y, x)),
  cbrt: (_x, y) => scale(integerPow(y, -2), 1 / 3),
  erf: (x) => scale(unary('exp', neg(mul(x, x))), 2 / Math.sqrt(Math.PI)),
  erf_inv: (_x, y) => scale(unary('exp', mul(y, y)), Math.sqrt(Math.PI) / 2),
  sin: (x) => unary('cos', x),
  cos: (x) => neg(unary('sin', x)),
  tan: (_x, y) => add(one(y), mul(y, y)),
  asin: (x) => unary('rsqrt', sub(one(x), mul(x, x))),
  acos: (x) => neg(unary('rsqrt', sub(one(x), mul(x, x)))),
  atan: (x) => unary('reciprocal', add(one(x), mul(x, x))),
  sinh: (x) => unary('cosh', x),
  cosh: (x) => unary('sinh', x),
  asinh: (x) => unary('rsqrt', add(mul(x, x), one(x))),
  acosh: (x) => unary('rsqrt', mul(sub(x, one(x)), add(x, one(x)))),
  atanh: (x) => unary('reciprocal', sub(one(x), mul(x, x))),
  square: (x) => scale(x, 2),
  reciprocal: (_x, y) => neg(mul(y, y)),
} satisfies Partial<Record<UnaryOp, Deriv>>;

type DiffUnary = keyof typeof UNARY_DERIVS;
type NonDiffUnary = Exclude<UnaryOp, DiffUnary>;
const NON_DIFF_UNARY: readonly NonDiffUnary[] = [
  'sign', 'floor', 'ceil', 'round', 'is_finite', 'not', 'population_count', 'clz',
];

function unaryJvp(d: Deriv): JvpRule<DiffUnary> {
  return ([x], [t], [y]) => (isFloat(y!.dtype) && t ? [mul(t, d(x!, y!))] : [null]);
}

function unaryVjp(d: Deriv): VjpRule<DiffUnary> {
  return ([x], [y], [ct], _p, [active]) => (active && ct && isFloat(x!.dtype) ? [mul(ct, d(x!, y!))] : [null]);
}

/** ∂out/∂x and ∂out/∂y of a binary op, given x, y and out. */
interface BinaryDeriv {
  dx(x: Tensor, y: Tensor, out: Tensor): Tensor;
  dy(x: Tensor, y: Tensor, out: Tensor): Tensor;
}

/** 1 where x is the result z, halved where y ties it: JAX's `_balanced_eq` for max/min. */
function balancedEq(x: Tensor, z: Tensor, y: Tensor): Tensor {
  const half = select(compare('eq', y, z), fullLike(x, 0.5), one(x));
  return select(compare('eq', x, z), half, zerosLike(x));
}

/** x/y truncated toward zero, as a float: the y-derivative of rem is its negation. */
function truncDiv(x: Tensor, y: Tensor): Tensor {
  const q = div(x, y);
  return mul(unary('sign', q), unary('floor', unary('abs', q)));
}

const BINARY_DERIVS = {
  mul: { dx: (_x, y) => y, dy: (x) => x },
  rem: { dx: (x) => one(x), dy: (x, y) => neg(truncDiv(x, y)) },
  pow: {
    // JAX _pow_jvp_lhs: y·x^(y-1), taken as 0 where y == 0 (avoids 0·inf at x == 0).
    dx: (x, y) => {
      const zero = zerosLike(x);
      return select(compare('eq', y, zero), zero, mul(y, binary('pow', x, sub(y, one(y)))));
    },
    // JAX _pow_jvp_rhs: log(x)·x^y with log(0) replaced by log(1).
    dy: (x, _y, out) => mul(unary('log', select(compare('eq', x, zerosLike(x)), one(x), x)), out),
  },
  max: { dx: (x, y, out) => balancedEq(x, out, y), dy: (x, y, out) => balancedEq(y, out, x) },
  min: { dx: (x, y, out) => balancedEq(x, out, y), dy: (x, y, out) => balancedEq(y, out, x) },
  atan2: {
    dx: (x, y) => div(y, add(mul(x, x), mul(y, y))),
    dy: (x, y) => neg(div(x, add(mul(x, x), mul(y, y)))),
  },
} satisfies Partial<Record<BinaryOp, BinaryDeriv>>;

type GenericBinary = keyof typeof BINARY_DERIVS;
type NonDiffBinary = Exclude<BinaryOp, GenericBinary | 'add' | 'sub' | 'div'>;
const NON_DIFF_BINARY: readonly NonDiffBinary[] = [
  'nextafter', 'and', 'or', 'xor', 'shift_left', 'shift_right_logical', 'shift_right_arithmetic',
];
const COMPARES: readonly CompareOp[] = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'];

function binaryJvp(d: BinaryDeriv): JvpRule<GenericBinary> {
  return ([x, y], [tx, ty], [out]) => {
    if (!isFloat(out!.dtype)) return [null];
    return [addAll([tx ? mul(tx, d.dx(x!, y!, out!)) : null, ty ? mul(ty, d.dy(x!, y!, out!)) : null])];
  };
}

function binaryVjp(d: BinaryDeriv): VjpRule<GenericBinary> {
  return ([x, y], [out], [ct], _p, [ax, ay]) => {
    if (!ct || !isFloat(out!.dtype)) return [null, null];
    return [ax ? mul(ct, d.dx(x!, y!, out!)) : null, ay ? mul(ct, d.dy(x!, y!, out!)) : null];
  };
}

const floatOut = (outs: readonly Tensor[]): boolean => isFloat(outs[0]!.dtype);

type ElementwiseName =
  | UnaryOp
  | BinaryOp
  | CompareOp
  | 'integer_pow'
  | 'select'
  | 'clamp'
  | 'convert_element_type'
  | 'bitcast_convert_type';

function fromEntries<T>(names: readonly string[], value: T): Record<string, T> {
  return Object.fromEntries(names.map((n) => [n, value]));
}

const nonDiff = <N extends string>(names: readonly N[]) =>
  fromEntries(names, NON_DIFFERENTIABLE) as { [K in N]: typeof NON_DIFFERENTIABLE };

function mapRecord<K extends string, A, B>(rec: Record<K, A>, f: (a: A) => B): Record<K, B> {
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, f(v as A)])) as Record<K, B>;
}

/** clamp(lo, x, hi): the masks of which operand the result follows (JAX clamp_p's defjvp). */
function clampMasks(lo: Tensor, x: Tensor, hi: Tensor): { lo: Tensor; x: Tensor; hi: Tensor } {
  const l = broadcastTo(lo, x.shape);
  const h = broadcastTo(hi, x.shape);
  return {
    lo: binary('and', compare('gt', l, x), compare('lt', l, h)),
    x: binary('and', compare('gt', x, l), compare('lt', x, h)),
    hi: compare('lt', h, x),
  };
}

const integerPowFactor = (x: Tensor, y: number): Tensor => (y === 1 ? one(x) : scale(integerPow(x, y - 1), y));

export const ELEMENTWISE_RULES: RuleFamily<ElementwiseName> = {
  jvp: {
    ...mapRecord(UNARY_DERIVS, unaryJvp),
    ...nonDiff(NON_DIFF_UNARY),
    ...mapRecord(BINARY_DERIVS, binaryJvp),
    ...nonDiff(NON_DIFF_BINARY),
    ...nonDiff(COMPARES),
    add: (_p, [tx, ty], outs) => (floatOut(outs) ? [addAll([tx ?? null, ty ?? null])] : [null]),
    sub: (_p, [tx, ty], outs) => (floatOut(outs) ? [ty ? (tx ? sub(tx, ty) : neg(ty)) : tx!] : [null]),
    div: ([_x, y], [tx, ty], [out]) => {
      if (!isFloat(out!.dtype)) return [null];
      return [addAll([tx ? div(tx, y!) : null, ty ? neg(div(mul(ty, out!), y!)) : null])];
    },
    integer_pow: ([x], [t], [out], { y }) => (isFloat(out!.dtype) && y !== 0 ? [mul(t!, integerPowFactor(x!, y))] : [null]),
    select: ([pred, a, b], [, ta, tb], [out]) =>
      isFloat(out!.dtype) ? [select(pred!, orZeros(ta ?? null, a!), orZeros(tb ?? null, b!))] : [null],
    clamp: ([lo, x, hi], [tlo, tx, thi], [out]) => {
      if (!isFloat(out!.dtype)) return [null];
      const m = clampMasks(lo!, x!, hi!);
      const z = zerosLike(x!);
      return [
        addAll([
          tlo ? select(m.lo, broadcastTo(tlo, x!.shape), z) : null,
          tx ? select(m.x, tx, z) : null,
          thi ? select(m.hi, broadcastTo(thi, x!.shape), z) : null,
        ]),
      ];
    },
    convert_element_type: ([x], [t], _outs, { newDtype }) =>
      isFloat(x!.dtype) && isFloat(newDtype) ? [convert(t!, newDtype)] : [null],
    bitcast_convert_type: NON_DIFFERENTIABLE,
  },
  vjp: {
    ...mapRecord(UNARY_DERIVS, unaryVjp),
    ...nonDiff(NON_DIFF_UNARY),
    ...mapRecord(BINARY_DERIVS, binaryVjp),
    ...nonDiff(NON_DIFF_BINARY),
    ...nonDiff(COMPARES),
    add: (_p, outs, [ct], _params, [ax, ay]) =>
      floatOut(outs) ? [ax ? ct! : null, ay ? ct! : null] : [null, null],
    sub: (_p, outs, [ct], _params, [ax, ay]) =>
      floatOut(outs) ? [ax ? ct! : null, ay ? neg(ct!) : null] : [null, null],
    div: ([_x, y], [out], [ct], _params, [ax, ay]) => {
      if (!isFloat(out!.dtype)) return [null, null];
      return [ax ? div(ct!, y!) : null, ay ? neg(div(mul(ct!, out!), y!)) : null];
    },
    integer_pow: ([x], [out], [ct], { y }, [active]) =>
      active && isFloat(out!.dtype) && y !== 0 ? [mul(ct!, integerPowFactor(x!, y))] : [null],
    select: ([pred, a], [out], [ct], _params, [, aa, ab]) => {
      if (!isFloat(out!.dtype)) return [null, null, null];
      const z = zerosLike(a!);
      return [null, aa ? select(pred!, ct!, z) : null, ab ? select(pred!, z, ct!) : null];
    },
    clamp: ([lo, x, hi], [out], [ct], _params, [alo, ax, ahi]) => {
      if (!isFloat(out!.dtype)) return [null, null, null];
      const m = clampMasks(lo!, x!, hi!);
      const z = zerosLike(x!);
      return [
        alo ? sumToShape(select(m.lo, ct!, z), lo!.shape) : null,
        ax ? select(m.x, ct!, z) : null,
        ahi ? sumToShape(select(m.hi, ct!, z), hi!.shape) : null,
      ];
    },
    convert_element_type: ([x], _outs, [ct], { newDtype }, [active]) =>
      active && isFloat(x!.dtype) && isFloat(newDtype) ? [convert(ct!, x!.dtype)] : [null],
    bitcast_convert_type: NON_DIFFERENTIABLE,
  },
};
