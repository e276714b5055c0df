/**
 * Readers for the vector files ANN benchmarks ship:
 * - TexMex `.fvecs` / `.ivecs` / `.bvecs` (corpus-texmex.irisa.fr): each vector is a
 *   little-endian int32 dimension d followed by d float32 / int32 / uint8 components;
 * - NumPy `.npy` (numpy.lib.format, versions 1-3): a magic string, a header dict with
 *   'descr', 'fortran_order' and 'shape', then the C-order data.
 * Vectors are widened to float32; neighbor lists (ground truth) to int32. A malformed file
 * is a DatasetFormatError naming the file, the byte offset and what was wrong.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import type { VectorSet } from './generators.js';

export class DatasetFormatError extends Error {
  override name = 'DatasetFormatError';
}

/** Ground-truth neighbor ids: n rows of k int32. */
export interface NeighborSet {
  readonly n: number;
  readonly k: number;
  readonly data: Int32Array;
}

type VecsKind = 'fvecs' | 'ivecs' | 'bvecs';
const VECS_ITEMSIZE: Readonly<Record<VecsKind, number>> = { fvecs: 4, ivecs: 4, bvecs: 1 };

/** Reads `length` bytes at `position` (fewer at the end of the file). */
function readBytes(fd: number, position: number, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const r = readSync(fd, buf, got, length - got, position + got);
    if (r === 0) break;
    got += r;
  }
  return got === length ? buf : buf.subarray(0, got);
}

function withFile<T>(path: string, f: (fd: number, size: number) => T): T {
  const fd = openSync(path, 'r');
  try {
    return f(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** The first `limit` (default all) vectors of a TexMex file, widened to f32 (fvecs, bvecs) or kept i32 (ivecs). */
function readVecs(path: string, kind: VecsKind, limit: number): { n: number; d: number; data: Float32Array | Int32Array } {
  return withFile(path, (fd, size) => {
    if (size < 4) throw new DatasetFormatError(`${path}: ${size} bytes is too short for a ${kind} file (a 4-byte dimension comes first)`);
    const d = new DataView(readBytes(fd, 0, 4).buffer).getInt32(0, true);
    if (!(d > 0 && d <= 1 << 20)) throw new DatasetFormatError(`${path}: byte 0: dimension ${d} is not in [1, 2^20]; not a little-endian ${kind} file?`);
    const item = VECS_ITEMSIZE[kind];
    const record = 4 + d * item;
    if (size % record !== 0) {
      throw new DatasetFormatError(`${path}: ${size} bytes is not a whole number of ${record}-byte records (d = ${d}); the file is truncated or not ${kind}`);
    }
    const n = Math.min(size / record, limit);
    const bytes = readBytes(fd, 0, n * record);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = kind === 'ivecs' ? new Int32Array(n * d) : new Float32Array(n * d);
    for (let r = 0; r < n; r++) {
      const at = r * record;
      const dr = view.getInt32(at, true);
      if (dr !== d) throw new DatasetFormatError(`${path}: byte ${at}: vector ${r} has dimension ${dr}, but the first has ${d}`);
      const body = at + 4;
      for (let t = 0; t < d; t++) {
        data[r * d + t] =
          kind === 'fvecs' ? view.getFloat32(body + 4 * t, true) : kind === 'ivecs' ? view.getInt32(body + 4 * t, true) : bytes[body + t]!;
      }
    }
    return { n, d, data };
  });
}

// ---- .npy ---------------------------------------------------------------------------------

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

interface NpyHeader {
  readonly descr: string;
  readonly shape: readonly number[];
  readonly dataOffset: number;
}

function parseNpyHeader(path: string, head: Uint8Array): NpyHeader {
  if (head.length < 10 || NPY_MAGIC.some((b, i) => head[i] !== b)) throw new DatasetFormatError(`${path}: byte 0: not a .npy file (no \\x93NUMPY magic)`);
  const major = head[6]!;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let len: number;
  let start: number;
  if (major === 1) {
    len = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (head.length < 12) throw new DatasetFormatError(`${path}: truncated .npy header`);
    len = view.getUint32(8, true);
    start = 12;
  } else {
    throw new DatasetFormatError(`${path}: byte 6: .npy format version ${major} is not supported (1, 2 or 3)`);
  }
  if (head.length < start + len) throw new DatasetFormatError(`${path}: the .npy header says ${len} bytes but the file ends first`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(head.subarray(start, start + len));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new DatasetFormatError(`${path}: byte ${start}: the .npy header ${JSON.stringify(text.trim())} lacks 'descr', 'fortran_order' or 'shape'`);
  }
  if (fortran === 'True') throw new DatasetFormatError(`${path}: fortran_order arrays are not supported; save with np.ascontiguousarray`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new DatasetFormatError(`${path}: bad .npy shape (${shapeText})`);
  return { descr, shape, dataOffset: start + len };
}

/** Bytes per element and a reader for the little-endian dtypes we accept. */
function npyElement(path: string, descr: string): { size: number; read: (v: DataView, at: number) => number } {
  const bo = descr[0];
  const code = descr.slice(1);
  if (bo === '>' && code !== 'u1' && code !== 'i1') throw new DatasetFormatError(`${path}: big-endian .npy data (${descr}) is not supported`);
  switch (code) {
    case 'f4':
      return { size: 4, read: (v, at) => v.getFloat32(at, true) };
    case 'f8':
      return { size: 8, read: (v, at) => v.getFloat64(at, true) };
    case 'f2':
      return { size: 2, read: (v, at) => halfToFloat(v.getUint16(at, true)) };
    case 'i4':
      return { size: 4, read: (v, at) => v.getInt32(at, true) };
    case 'i8':
      return { size: 8, read: (v, at) => Number(v.getBigInt64(at, true)) };
    case 'u1':
      return { size: 1, read: (v, at) => v.getUint8(at) };
    case 'i1':
      return { size: 1, read: (v, at) => v.getInt8(at) };
    default:
      throw new DatasetFormatError(`${path}: .npy dtype ${descr} is not supported (float16/32/64, int8/32/64, uint8)`);
  }
}

/** IEEE half-precision bits to a number. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function readNpy(path: string, limit: number, asInt: boolean): { n: number; d: number; data: Float32Array | Int32Array } {
  return withFile(path, (fd, size) => {
    const head = readBytes(fd, 0, Math.min(size, 1 << 16));
    const h = parseNpyHeader(path, head);
    if (h.shape.length !== 2) throw new DatasetFormatError(`${path}: expected a 2-D array (rows, dims), got shape (${h.shape.join(', ')})`);
    const el = npyElement(path, h.descr);
    if (asInt && h.descr.slice(1).startsWith('f')) throw new DatasetFormatError(`${path}: neighbor ids must be integers, got .npy dtype ${h.descr}`);
    const [rows, d] = h.shape as [number, number];
    if (size < h.dataOffset + rows * d * el.size) {
      throw new DatasetFormatError(`${path}: shape (${rows}, ${d}) of ${h.descr} needs ${rows * d * el.size} data bytes, the file has ${size - h.dataOffset}`);
    }
    const n = Math.min(rows, limit);
    const bytes = readBytes(fd, h.dataOffset, n * d * el.size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = asInt ? new Int32Array(n * d) : new Float32Array(n * d);
    for (let i = 0; i < n * d; i++) data[i] = el.read(view, i * el.size);
    return { n, d, data };
  });
}

function formatOf(path: string): VecsKind | 'npy' {
  const ext = extname(path).toLowerCase().slice(1);
  if (ext === 'fvecs' || ext === 'ivecs' || ext === 'bvecs' || ext === 'npy') return ext;
  throw new DatasetFormatError(`${path}: unknown vector file type '.${ext}'; expected .fvecs, .ivecs, .bvecs or .npy`);
}

/** The first `limit` vectors of a .fvecs, .bvecs, .ivecs or .npy file, as float32. */
export function loadVectors(path: string, limit = Number.POSITIVE_INFINITY): VectorSet {
  const fmt = formatOf(path);
  const r = fmt === 'npy' ? readNpy(path, limit, false) : readVecs(path, fmt, limit);
  return { n: r.n, d: r.d, data: r.data instanceof Float32Array ? r.data : Float32Array.from(r.data) };
}

/** The first `limit` neighbor lists of an .ivecs or integer .npy file (ground truth). */
export function loadNeighbors(path: string, limit = Number.POSITIVE_INFINITY): NeighborSet {
  const fmt = formatOf(path);
  if (fmt === 'fvecs' || fmt === 'bvecs') throw new DatasetFormatError(`${path}: ground truth must be .ivecs or an integer .npy, not .${fmt}`);
  const r = fmt === 'npy' ? readNpy(path, limit, true) : readVecs(path, 'ivecs', limit);
  return { n: r.n, k: r.d, data: r.data as Int32Array };
}
