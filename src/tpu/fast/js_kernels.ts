/**
 * Plain-JS kernels: the whole 'js' backend, and the reductions and top-k of the WASM one
 * (those are memory-bound single passes, so copying into WASM memory first would cost as
 * much as the pass itself). Scratch is module-level and grow-only.
 */
import { f32ToBf16Bits } from '../dtype.js';
import { type FloatArray, Gemm, ReduceKind } from './backend.js';

let bf16Table: Float32Array | null = null;
/** f32 value of every bf16 bit pattern (256 KiB, built once): a lookup instead of a shift through memory. */
export function bf16ToF32Table(): Float32Array {
  if (bf16Table === null) {
    const bits = new Uint32Array(65536);
    for (let i = 0; i < 65536; i++) bits[i] = i << 16;
    bf16Table = new Float32Array(bits.buffer);
  }
  return bf16Table;
}

function grow(a: Float32Array, n: number): Float32Array {
  return a.length >= n ? a : new Float32Array(Math.max(n, Math.ceil(a.length * 1.5)));
}

// ---- reductions ----------------------------------------------------------------------------

let accRow: Float32Array = new Float32Array(0);

/** Sequential f32 fold in row-major order of the reduced elements (the reference's order). */
export function reduceJs(kind: ReduceKind, x: FloatArray, out: FloatArray, outer: number, r: number, inner: number): boolean {
  const table = x instanceof Uint16Array ? bf16ToF32Table() : null;
  const outBf16 = out instanceof Uint16Array;
  const identity = kind === ReduceKind.Sum ? 0 : kind === ReduceKind.Max ? -Infinity : Infinity;
  accRow = grow(accRow, inner);
  const acc = accRow;
  for (let o = 0; o < outer; o++) {
    acc.fill(identity, 0, inner);
    const base = o * r * inner;
    for (let i = 0; i < r; i++) {
      const row = base + i * inner;
      for (let j = 0; j < inner; j++) {
        const v = table === null ? x[row + j]! : table[x[row + j]!]!;
        const a = acc[j]!;
        if (kind === ReduceKind.Sum) acc[j] = a + v;
        // NaN sticks; on equal values the sign picks +0 for max, -0 for min (as Math.max/min).
        else if (kind === ReduceKind.Max) {
          if (v > a || v !== v || (v === a && 1 / a < 0)) acc[j] = v;
        } else if (v < a || v !== v || (v === a && 1 / v < 0)) acc[j] = v;
      }
    }
    const dst = o * inner;
    if (outBf16) for (let j = 0; j < inner; j++) out[dst + j] = f32ToBf16Bits(acc[j]!);
    else for (let j = 0; j < inner; j++) out[dst + j] = acc[j]!;
  }
  return true;
}

// ---- top-k ---------------------------------------------------------------------------------

let heapV = new Float64Array(0);
let heapI = new Int32Array(0);

/** (va, ia) ranks above (vb, ib) in lax.top_k's order: IEEE total order (+0 > -0, NaN on top), lower index first. */
function better(va: number, ia: number, vb: number, ib: number): boolean {
  if (va !== va || vb !== vb) return va !== va && (vb === vb || ia < ib);
  if (va > vb) return true;
  if (va < vb) return false;
  if (va === 0) {
    const na = 1 / va < 0;
    const nb = 1 / vb < 0;
    if (na !== nb) return nb;
  }
  return ia < ib;
}

function siftDown(v: Float64Array, idx: Int32Array, size: number, i: number): void {
  const cv = v[i]!;
  const ci = idx[i]!;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && better(v[child]!, idx[child]!, v[child + 1]!, idx[child + 1]!)) child++;
    if (!better(cv, ci, v[child]!, idx[child]!)) break;
    v[i] = v[child]!;
    idx[i] = idx[child]!;
    i = child;
  }
  v[i] = cv;
  idx[i] = ci;
}

/** Per row, a size-k heap whose root is the worst kept element (see native/src/topk.cc). */
export function topKJs(x: FloatArray, values: FloatArray, indices: Int32Array, rows: number, n: number, k: number): boolean {
  if (k < 0 || k > n) return false;
  if (heapV.length < k) {
    heapV = new Float64Array(k);
    heapI = new Int32Array(k);
  }
  const hv = heapV;
  const hi = heapI;
  const table = x instanceof Uint16Array ? bf16ToF32Table() : null;
  for (let row = 0; row < rows && k > 0; row++) {
    const base = row * n;
    for (let i = 0; i < k; i++) {
      hv[i] = table === null ? x[base + i]! : table[x[base + i]!]!;
      hi[i] = i;
    }
    for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(hv, hi, k, i);
    for (let i = k; i < n; i++) {
      const v = table === null ? x[base + i]! : table[x[base + i]!]!;
      if (better(v, i, hv[0]!, hi[0]!)) {
        hv[0] = v;
        hi[0] = i;
        siftDown(hv, hi, k, 0);
      }
    }
    const outBase = row * k;
    for (let size = k; size > 0; size--) {
      const worst = hi[0]!;
      indices[outBase + size - 1] = worst;
      values[outBase + size - 1] = x[base + worst]!;
      hv[0] = hv[size - 1]!;
      hi[0] = hi[size - 1]!;
      siftDown(hv, hi, size - 1, 0);
    }
  }
  return true;
}

// ---- GEMM ----------------------------------------------------------------------------------

const MR = 4;
const NR = 4;
const MC = 64;
const KC = 256;
const NC = 1024;
const packA = new Float32Array(MC * KC);
const packB = new Float32Array(NC * KC);
let cTmp: Float32Array = new Float32Array(0);

function pack(
  src: FloatArray,
  table: Float32Array | null,
  base: number,
  rs: number,
  cs: number,
  rows: number,
  cols: number,
  width: number,
  dst: Float32Array,
): void {
  // rows x cols of src (element (i, j) at base + i*rs + j*cs) into `width`-row panels, col-major within.
  let o = 0;
  for (let i0 = 0; i0 < rows; i0 += width) {
    const h = Math.min(width, rows - i0);
    for (let j = 0; j < cols; j++) {
      const p = base + i0 * rs + j * cs;
      let i = 0;
      for (; i < h; i++) dst[o + i] = table === null ? src[p + i * rs]! : table[src[p + i * rs]!]!;
      for (; i < width; i++) dst[o + i] = 0;
      o += width;
    }
  }
}

/** 4x4 register-blocked kernel over packed panels, C (+)= A B for one mc x nc x kc block. */
function macro(mc: number, nc: number, kc: number, c: Float32Array, cBase: number, ldc: number, accumulate: boolean): void {
  const a = packA;
  const b = packB;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = Math.min(NR, nc - jr);
    for (let ir = 0; ir < mc; ir += MR) {
      const rows = Math.min(MR, mc - ir);
      let pa = ir * kc;
      let pb = jr * kc;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < kc; k++) {
        const a0 = a[pa]!, a1 = a[pa + 1]!, a2 = a[pa + 2]!, a3 = a[pa + 3]!;
        const b0 = b[pb]!, b1 = b[pb + 1]!, b2 = b[pb + 2]!, b3 = b[pb + 3]!;
        c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
        c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
        c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
        c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        pa += MR;
        pb += NR;
      }
      const t = tile;
      t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03; t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
      t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23; t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
      for (let i = 0; i < rows; i++) {
        const row = cBase + (ir + i) * ldc + jr;
        for (let j = 0; j < cols; j++) c[row + j] = accumulate ? c[row + j]! + t[i * NR + j]! : t[i * NR + j]!;
      }
    }
  }
}
const tile = new Float64Array(MR * NR);

/** BLIS-style loop nest in JS; products accumulate in doubles within a kc block, f32 across blocks. */
export function gemmJs(a: FloatArray, b: FloatArray, c: FloatArray, d: Float64Array): boolean {
  const batch = d[Gemm.Batch]!, m = d[Gemm.M]!, n = d[Gemm.N]!, k = d[Gemm.K]!;
  const aTable = a instanceof Uint16Array ? bf16ToF32Table() : null;
  const bTable = b instanceof Uint16Array ? bf16ToF32Table() : null;
  const direct = c instanceof Float32Array;
  if (!direct) cTmp = grow(cTmp, m * n);
  for (let bi = 0; bi < batch; bi++) {
    const cOut: Float32Array = direct ? c : cTmp;
    const cBase = direct ? d[Gemm.COffset]! + bi * d[Gemm.CBatch]! : 0;
    const ldc = direct ? d[Gemm.CRow]! : n;
    if (k === 0) for (let i = 0; i < m; i++) cOut.fill(0, cBase + i * ldc, cBase + i * ldc + n);
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        // B block (kc x nc) packed as nc/NR panels of NR columns: pack its transpose.
        pack(b, bTable, d[Gemm.BOffset]! + bi * d[Gemm.BBatch]! + pc * d[Gemm.BRow]! + jc * d[Gemm.BCol]!,
          d[Gemm.BCol]!, d[Gemm.BRow]!, nc, kc, NR, packB);
        for (let ic = 0; ic < m; ic += MC) {
          const mc = Math.min(MC, m - ic);
          pack(a, aTable, d[Gemm.AOffset]! + bi * d[Gemm.ABatch]! + ic * d[Gemm.ARow]! + pc * d[Gemm.ACol]!,
            d[Gemm.ARow]!, d[Gemm.ACol]!, mc, kc, MR, packA);
          macro(mc, nc, kc, cOut, cBase + ic * ldc + jc, ldc, pc > 0);
        }
      }
    }
    if (!direct) {
      const base = d[Gemm.COffset]! + bi * d[Gemm.CBatch]!;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) c[base + i * d[Gemm.CRow]! + j] = f32ToBf16Bits(cTmp[i * n + j]!);
      }
    }
  }
  return true;
}
