/**
 * Element types of the emulated TensorCore.
 *
 * How each dtype is held in HBM (and so in every TensorView):
 * - f32  — Float32Array, 4 bytes.
 * - bf16 — stored compactly as raw bfloat16 bits in a Uint16Array, 2 bytes, exactly as in
 *          TPU HBM. Kernels widen to f32 to compute (bf16 -> f32 is exact: a 16-bit shift)
 *          and narrow results with round-to-nearest-even, as the MXU does on its inputs.
 * - i32  — Int32Array, 4 bytes. Bitwise ops (threefry, shifts) read the same bits as uint32.
 * - bool — Uint8Array holding 0 or 1, 1 byte (XLA's PRED).
 */
export type DType = 'f32' | 'bf16' | 'i32' | 'bool';

export const DTYPES: readonly DType[] = ['f32', 'bf16', 'i32', 'bool'];

export type TypedArrayFor<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'bf16'
    ? Uint16Array
    : D extends 'i32'
      ? Int32Array
      : Uint8Array;

export type DeviceArray = Float32Array | Uint16Array | Int32Array | Uint8Array;

const ITEMSIZE: Record<DType, number> = { f32: 4, bf16: 2, i32: 4, bool: 1 };

export class DTypeError extends Error {
  override name = 'DTypeError';
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && (DTYPES as readonly string[]).includes(x);
}

/** Throws a DTypeError naming the bad value and the known dtypes. */
export function checkDType(x: unknown, what = 'dtype'): DType {
  if (!isDType(x)) {
    throw new DTypeError(`unknown ${what} ${JSON.stringify(x)}; expected one of ${DTYPES.join(', ')}`);
  }
  return x;
}

export function itemsize(dtype: DType): number {
  return ITEMSIZE[dtype];
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'bf16';
}

/** A typed array of `length` elements of `dtype` over `buffer` at `byteOffset`. */
export function typedArrayView(
  dtype: DType,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): DeviceArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(buffer, byteOffset, length);
    case 'bf16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'i32':
      return new Int32Array(buffer, byteOffset, length);
    case 'bool':
      return new Uint8Array(buffer, byteOffset, length);
  }
}

/** A fresh host array (not in any arena) of `length` elements of `dtype`. */
export function allocHostArray(dtype: DType, length: number): DeviceArray {
  switch (dtype) {
    case 'f32':
      return new Float32Array(length);
    case 'bf16':
      return new Uint16Array(length);
    case 'i32':
      return new Int32Array(length);
    case 'bool':
      return new Uint8Array(length);
  }
}

// ---- bfloat16 <-> float32 -------------------------------------------------------------
// One shared scratch word; these functions are synchronous, so it is never observed mid-use.
const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Raw bf16 bits of the f32 value `x`, rounded to nearest, ties to even; NaN stays NaN. */
export function f32ToBf16Bits(x: number): number {
  scratchF32[0] = x;
  const bits = scratchU32[0]!;
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x007fffff) !== 0) {
    return ((bits >>> 16) | 0x0040) & 0xffff; // quiet NaN, sign kept
  }
  const lsb = (bits >>> 16) & 1;
  return ((bits + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** The f32 value of raw bf16 bits (exact). */
export function bf16BitsToF32(bits: number): number {
  scratchU32[0] = (bits & 0xffff) << 16;
  return scratchF32[0]!;
}

/** `x` rounded to the nearest bf16 value, as a JS number. */
export function roundToBf16(x: number): number {
  return bf16BitsToF32(f32ToBf16Bits(x));
}

/**
 * The number stored at `data[i]` for a view of `dtype` (bf16 widened, bool as 0/1).
 * For reference kernels and tests; fast kernels specialise per dtype instead.
 */
export function readElement(dtype: DType, data: DeviceArray, i: number): number {
  const v = data[i]!;
  return dtype === 'bf16' ? bf16BitsToF32(v) : v;
}

/** Stores the number `x` at `data[i]` with `dtype`'s conversion (f32 round, bf16 RNE, i32 truncation toward zero, bool != 0). */
export function writeElement(dtype: DType, data: DeviceArray, i: number, x: number): void {
  switch (dtype) {
    case 'f32':
      data[i] = x;
      return;
    case 'bf16':
      data[i] = f32ToBf16Bits(x);
      return;
    case 'i32':
      // XLA's float -> s32 conversion saturates and maps NaN to 0.
      data[i] = Number.isNaN(x) ? 0 : x >= 2147483647 ? 2147483647 : x <= -2147483648 ? -2147483648 : Math.trunc(x);
      return;
    case 'bool':
      data[i] = x !== 0 ? 1 : 0;
      return;
  }
}
