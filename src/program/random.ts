/**
 * jax.random on the `threefry2x32` primitive: counter-based keys, so a seeded program draws
 * the same numbers on any core, in any run, eagerly or under jit.
 *
 * A key is an i32[2] tensor holding the two uint32 words of a raw jax PRNGKey. Derivations
 * follow jax's threefry implementation (jax/_src/prng.py) with `jax_threefry_partitionable`
 * on, the default since JAX 0.5: `split` and `bits` hash (key, flat index) with one cipher
 * call per element, so `split(key(0), 2)`, `bits`, `uniform` and `normal` give JAX's bits.
 * `foldIn` hashes (0, data) as jax's fold_in does (independent of that flag).
 */
import type { DType } from '../tpu/dtype.js';
import { checkDType, isFloat } from '../tpu/dtype.js';
import { sizeOf } from '../tpu/tensor.js';
import { Tensor } from './tracer.js';
import * as lax from './lax.js';
import { type ArrayLike, asTensorOf, asarray, scalar } from './numpy/dtypes.js';
import { broadcastTo, normalizeAxis } from './numpy/axes.js';
import { argmax } from './numpy/reductions.js';
import { add, clip, less, log, negative } from './numpy/elementwise.js';
import { arange } from './numpy/creation.js';
import { expandDims } from './numpy/shape.js';
import { take } from './numpy/indexing.js';

export type Key = Tensor;

function checkKey(key: Key, op: string): void {
  if (!(key instanceof Tensor) || key.dtype !== 'i32' || key.ndim !== 1 || key.shape[0] !== 2) {
    throw new TypeError(`random.${op}: expected a key (i32[2], from random.key), got ${String(key)}`);
  }
}

function keyWords(key: Key): [Tensor, Tensor] {
  return [lax.reshape(lax.slice(key, [0], [1]), []), lax.reshape(lax.slice(key, [1], [2]), [])];
}

function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`random.${op}: shape [${String(shape)}] must be non-negative integers`);
  }
  if (sizeOf(shape) >= 2 ** 32) throw new RangeError(`random.${op}: shape [${shape.join(',')}] has 2^32 or more elements`);
}

/**
 * A key from an integer seed (jax.random.PRNGKey / key): [seed >> 32, seed & 0xffffffff].
 * Seeds in int32 range give [0, seed] as in JAX without x64; larger non-negative seeds use
 * their high word as JAX with x64 does.
 */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`random.key: seed must be an integer, got ${seed}`);
  const hi = seed >= -2147483648 && seed <= 4294967295 ? 0 : Math.floor(seed / 2 ** 32);
  const lo = seed - Math.floor(seed / 2 ** 32) * 2 ** 32;
  return Tensor.concrete({ dtype: 'i32', shape: [2], data: new Int32Array([hi | 0, lo | 0]) });
}
export const PRNGKey = key;

/** The 64-bit flat index of every element of `shape`, as [hi, lo] words (jax's iota_2x32_shape). */
function iota2x32(shape: readonly number[]): [Tensor, Tensor] {
  const n = sizeOf(shape);
  const lo = lax.reshape(lax.iota('i32', [n]), [...shape]);
  const hi = lax.broadcastInDim(scalar(0, 'i32'), [...shape], []);
  return [hi, lo];
}

/** Both cipher words for every element of `shape` under `key`. */
function hashShape(k: Key, shape: readonly number[]): [Tensor, Tensor] {
  const [k0, k1] = keyWords(k);
  const [hi, lo] = iota2x32(shape);
  return lax.threefry2x32(k0, k1, hi, lo);
}

/**
 * jax's threefry_2x32(keypair, count): the flattened counts are split into two halves (padded
 * by one zero when odd) that go through the cipher as the two words.
 */
export function threefry2x32(k: Key, count: Tensor): Tensor {
  checkKey(k, 'threefry2x32');
  const [k0, k1] = keyWords(k);
  const n = count.size;
  let flat = lax.reshape(count, [n]);
  if (n % 2 === 1) flat = lax.concatenate([flat, lax.reshape(scalar(0, 'i32'), [1])], 0);
  const half = flat.shape[0]! / 2;
  const [y0, y1] = lax.threefry2x32(k0, k1, lax.slice(flat, [0], [half]), lax.slice(flat, [half], [2 * half]));
  let out = lax.concatenate([y0, y1], 0);
  if (n % 2 === 1) out = lax.slice(out, [0], [n]);
  return lax.reshape(out, [...count.shape]);
}

/** jax.random.split: `num` new keys, as an i32[num, 2] tensor. */
export function split(k: Key, num = 2): Tensor {
  checkKey(k, 'split');
  checkShape('split', [num]);
  const [y0, y1] = hashShape(k, [num]);
  return lax.concatenate([lax.reshape(y0, [num, 1]), lax.reshape(y1, [num, 1])], 1);
}

/** `split` returned as a list of keys, for destructuring: `const [k1, k2] = splitKeys(key)`. */
export function splitKeys(k: Key, num = 2): Key[] {
  const keys = split(k, num);
  return Array.from({ length: num }, (_, i) => lax.reshape(lax.slice(keys, [i, 0], [i + 1, 2]), [2]));
}

/** jax.random.fold_in: a new key from `key` and an integer (a step, a core index...). */
export function foldIn(k: Key, data: ArrayLike): Key {
  checkKey(k, 'foldIn');
  const d = asTensorOf(data, 'i32');
  if (d.ndim !== 0) throw new RangeError(`random.foldIn: data must be a scalar, got ${d}`);
  // threefry_seed(data) is [data >> 32, data & 0xffffffff] = [0, data] for 32-bit data.
  return threefry2x32(k, lax.concatenate([lax.reshape(scalar(0, 'i32'), [1]), lax.reshape(d, [1])], 0));
}

/** jax.random.bits with 32-bit width: uniform random words (uint32 bits held in i32). */
export function bits(k: Key, shape: readonly number[] = []): Tensor {
  checkKey(k, 'bits');
  checkShape('bits', shape);
  const [b0, b1] = hashShape(k, shape);
  return lax.bitwiseXor(b0, b1);
}

function floatScalar(v: ArrayLike, dtype: DType, shape: readonly number[]): Tensor {
  return broadcastTo(asTensorOf(v, dtype), shape, 'uniform');
}

export interface UniformOptions {
  readonly dtype?: DType;
  readonly minval?: ArrayLike;
  readonly maxval?: ArrayLike;
}

/**
 * jax.random.uniform on [minval, maxval): mantissa bits under an exponent of 1.0 give a float
 * in [1, 2), minus one. f32 takes 23 of 32 random bits; bf16 takes 7 of 8, as jax does.
 */
export function uniform(k: Key, shape: readonly number[] = [], options: UniformOptions = {}): Tensor {
  checkKey(k, 'uniform');
  checkShape('uniform', shape);
  const dtype = checkDType(options.dtype ?? 'f32');
  if (!isFloat(dtype)) throw new TypeError(`random.uniform: dtype must be a float dtype, got ${dtype}`);
  const words = bits(k, shape);
  const sh = [...shape];
  const c = (v: number): Tensor => lax.broadcastInDim(scalar(v, 'i32'), sh, []);
  let floatBits: Tensor;
  if (dtype === 'f32') {
    floatBits = lax.bitwiseOr(lax.shiftRightLogical(words, c(9)), c(0x3f800000));
  } else {
    // 8 random bits (jax's rng_bits for a 7-bit mantissa), shifted right by one into the bf16 mantissa.
    const mant = lax.shiftRightLogical(lax.bitwiseAnd(words, c(0xff)), c(1));
    floatBits = lax.bitwiseOr(lax.shiftLeft(mant, c(16)), c(0x3f800000));
  }
  const one = lax.convertElementType(lax.bitcastConvertType(floatBits, 'f32'), dtype);
  const floats = lax.sub(one, floatScalar(1, dtype, sh));
  const lo = floatScalar(options.minval ?? 0, dtype, sh);
  const hi = floatScalar(options.maxval ?? 1, dtype, sh);
  return lax.max(lo, lax.add(lax.mul(floats, lax.sub(hi, lo)), lo));
}

/** The largest value below 1 in magnitude of `dtype`: nextafter(-1, 0) is its negation. */
function oneMinusUlp(dtype: DType): number {
  return dtype === 'bf16' ? 1 - 2 ** -8 : 1 - 2 ** -24;
}

/** jax.random.normal: sqrt(2) * erf_inv(u) for u uniform on (-1, 1). */
export function normal(k: Key, shape: readonly number[] = [], dtype: DType = 'f32'): Tensor {
  checkDType(dtype);
  if (!isFloat(dtype)) throw new TypeError(`random.normal: dtype must be a float dtype, got ${dtype}`);
  const u = uniform(k, shape, { dtype, minval: -oneMinusUlp(dtype), maxval: 1 });
  return lax.mul(floatScalar(Math.SQRT2, dtype, [...shape]), lax.erfInv(u));
}

/** jax.random.truncated_normal on (lower, upper), by inverting the normal CDF of a uniform draw. */
export function truncatedNormal(
  k: Key,
  lower: number,
  upper: number,
  shape: readonly number[] = [],
  dtype: DType = 'f32',
): Tensor {
  checkDType(dtype);
  if (!isFloat(dtype)) throw new TypeError(`random.truncatedNormal: dtype must be a float dtype, got ${dtype}`);
  const sqrt2 = scalar(Math.SQRT2, dtype);
  const a = lax.erf(lax.div(scalar(lower, dtype), sqrt2));
  const b = lax.erf(lax.div(scalar(upper, dtype), sqrt2));
  const u = uniform(k, shape, { dtype, minval: a, maxval: b });
  const out = lax.mul(floatScalar(Math.SQRT2, dtype, [...shape]), lax.erfInv(u));
  // Rounding may land on the bounds; clamp into the open interval as jax does.
  const lo = lax.nextafter(scalar(lower, dtype), scalar(Infinity, dtype));
  const hi = lax.nextafter(scalar(upper, dtype), scalar(-Infinity, dtype));
  return clip(out, lo, hi);
}

/** jax.random.bernoulli: true with probability p (a number or a tensor broadcast to shape). */
export function bernoulli(k: Key, p: ArrayLike = 0.5, shape?: readonly number[]): Tensor {
  const pt = asarray(p);
  const sh = shape ?? pt.shape;
  const dtype = isFloat(pt.dtype) ? pt.dtype : 'f32';
  return less(uniform(k, sh, { dtype }), pt);
}

/** jax.random.gumbel: -log(-log(u)) for u uniform on [tiny, 1). */
export function gumbel(k: Key, shape: readonly number[] = [], dtype: DType = 'f32'): Tensor {
  const tiny = 2 ** -126; // finfo(dtype).tiny for f32 and bf16 alike (bf16 keeps f32's exponent)
  return negative(log(negative(log(uniform(k, shape, { dtype, minval: tiny, maxval: 1 })))));
}

/**
 * jax.random.categorical by the Gumbel-max trick: argmax over `axis` of logits + Gumbel noise.
 * `shape` (default: logits' shape without `axis`) may add leading sample dims.
 */
export function categorical(k: Key, logits: Tensor, { axis = -1, shape }: { axis?: number; shape?: readonly number[] } = {}): Tensor {
  const a = normalizeAxis('categorical', axis, logits.ndim);
  const batch = logits.shape.filter((_, i) => i !== a);
  const sampleShape = shape ?? batch;
  const lead = sampleShape.length - batch.length;
  if (lead < 0 || batch.some((d, i) => sampleShape[lead + i] !== d)) {
    throw new RangeError(`random.categorical: shape [${sampleShape.join(',')}] must end with the batch shape [${batch.join(',')}] of ${logits}`);
  }
  let l = logits;
  for (let i = 0; i < lead; i++) l = expandDims(l, 0);
  const noiseShape = [...sampleShape.slice(0, lead), ...logits.shape];
  return argmax(add(gumbel(k, noiseShape, isFloat(logits.dtype) ? logits.dtype : 'f32'), l), a + lead);
}

/** Sort keys holding uint32 bits, mapped so that signed i32 order is unsigned order. */
function unsignedOrder(words: Tensor): Tensor {
  return lax.bitwiseXor(words, lax.broadcastInDim(scalar(-2147483648, 'i32'), [...words.shape], []));
}

/**
 * jax.random.permutation: of arange(n) for a number, or of `x`'s slices along `axis`.
 */
export function permutation(k: Key, x: number | Tensor, axis = 0): Tensor {
  checkKey(k, 'permutation');
  if (typeof x !== 'number' && x.ndim === 0) throw new RangeError(`random.permutation: x must be an integer or an array with a dim, got ${x}`);
  if (typeof x !== 'number' && x.ndim > 1) {
    // Whole slices move together: permute their indices, then gather (jax, independent=False).
    const a = normalizeAxis('permutation', axis, x.ndim);
    return take(x, shuffle(k, arange(x.shape[a]!)), a);
  }
  return shuffle(k, typeof x === 'number' ? arange(x) : x);
}

/** jax's _shuffle of a vector: sorts by random 32-bit keys, ceil(3 ln n / ln(2^32 - 1)) rounds. */
function shuffle(k: Key, x: Tensor): Tensor {
  let t = x;
  const rounds = Math.ceil((3 * Math.log(Math.max(1, t.size))) / Math.log(2 ** 32 - 1));
  let cur = k;
  for (let r = 0; r < rounds; r++) {
    const [next, sub] = splitKeys(cur);
    cur = next!;
    t = lax.sortKeyVal(unsignedOrder(bits(sub!, t.shape)), t, 0)[1];
  }
  return t;
}

// ---- randint: jax's _randint on uint32 words ----------------------------------------------------

/** (a + b) mod s for a, b in [0, s), s in [1, 2^31), without leaving i32. */
function addMod(a: Tensor, b: Tensor, s: Tensor): Tensor {
  const gap = lax.sub(s, b);
  return lax.select(lax.ge(a, gap), lax.sub(a, gap), lax.add(a, b));
}

/** u mod s with both read as uint32 (XLA's u32 remainder), on i32 words. */
function unsignedRem(u: Tensor, s: Tensor): Tensor {
  const c = (v: number): Tensor => lax.broadcastInDim(scalar(v, 'i32'), [...u.shape], []);
  // s < 2^31: split off u's top bit, whose weight 2^31 mod s is ((2^31 - 1) mod s + 1) mod s.
  const sPos = lax.select(lax.lt(s, c(0)), c(1), s);
  const low = lax.rem(lax.bitwiseAnd(u, c(0x7fffffff)), sPos);
  const top = addMod(lax.rem(c(0x7fffffff), sPos), lax.rem(c(1), sPos), sPos);
  const small = addMod(low, lax.select(lax.lt(u, c(0)), top, c(0)), sPos);
  // s >= 2^31: u < 2s, so u mod s is u - s when u >= s (unsigned), else u.
  const uGeS = lax.ge(unsignedOrder(u), unsignedOrder(s));
  const large = lax.select(uGeS, lax.sub(u, s), u);
  return lax.select(lax.lt(s, c(0)), large, small);
}

/**
 * jax.random.randint on [minval, maxval): two 32-bit draws combined modulo the span (jax's
 * algorithm, so the same key gives JAX's integers).
 */
export function randint(k: Key, shape: readonly number[], minval: ArrayLike, maxval: ArrayLike): Tensor {
  checkKey(k, 'randint');
  checkShape('randint', shape);
  const sh = [...shape];
  const lo = broadcastTo(asTensorOf(minval, 'i32'), sh, 'randint');
  const hi = broadcastTo(asTensorOf(maxval, 'i32'), sh, 'randint');
  const [k1, k2] = splitKeys(k);
  const higher = bits(k1!, sh);
  const lower = bits(k2!, sh);
  const c = (v: number): Tensor => lax.broadcastInDim(scalar(v, 'i32'), sh, []);
  const span = lax.select(lax.le(hi, lo), c(1), lax.sub(hi, lo));
  let multiplier = unsignedRem(c(1 << 16), span);
  multiplier = unsignedRem(lax.mul(multiplier, multiplier), span);
  const offset = unsignedRem(lax.add(lax.mul(unsignedRem(higher, span), multiplier), unsignedRem(lower, span)), span);
  return lax.add(lo, offset);
}

/**
 * jax.random.choice (uniform): `shape` draws from arange(n), or from `x`'s slices along
 * axis 0. With replacement by randint; without, the first draws of a permutation.
 */
export function choice(k: Key, x: number | Tensor, shape: readonly number[] = [], { replace = true } = {}): Tensor {
  checkKey(k, 'choice');
  const n = typeof x === 'number' ? x : x.shape[0];
  if (n === undefined || n <= 0) throw new RangeError(`random.choice: cannot choose from an empty population (${String(x)})`);
  const count = sizeOf(shape);
  let idx: Tensor;
  if (replace) idx = randint(k, [count], 0, n);
  else {
    if (count > n) throw new RangeError(`random.choice: cannot take ${count} of ${n} without replacement`);
    idx = lax.slice(permutation(k, n), [0], [count]);
  }
  idx = lax.reshape(idx, [...shape]);
  return typeof x === 'number' ? idx : take(x, idx, 0);
}
