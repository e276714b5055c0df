/**
 * The portable backend: the f32x4 SGEMM of wasm/gemm.wat (assembled into dist/wasm by
 * scripts/build-wasm.mjs), instantiated synchronously. Reductions and top-k run the JS
 * kernels (see js_kernels.ts for why).
 *
 * Memory: the module has its own, non-shared WebAssembly.Memory, and each GEMM copies its
 * operands in (one typed-array set, a memcpy, per operand) and its result out. The arena
 * cannot live in it: an arena is a SharedArrayBuffer made by the arena allocator, which a
 * WebAssembly.Memory cannot adopt, and wasm32 would cap an arena at 4 GiB. Scratch handed
 * out by `scratch()` (conv's im2col matrix) does live in this memory, so it needs no copy.
 *
 * relaxed_madd: used when the host validates relaxed SIMD. Node 20's V8 has it behind
 * --experimental-wasm-relaxed-simd, which is set at load only after a probe module fails
 * to validate, and only while TPUSIM_WASM_RELAXED is not '0'; either variant gives c + a*b
 * (fused or not), which the tests' tolerances allow.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { type FloatArray, Gemm, type KernelBackend, type ReduceKind } from './backend.js';
import { reduceJs, topKJs } from './js_kernels.js';

/** The slice of the WebAssembly API used here (the project's TS libs do not declare it). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface GemmExports {
  readonly memory: WasmMemory;
  macro(mc: number, nc: number, kc: number, pa: number, pb: number, c: number, ldcBytes: number, acc: number, tile: number): void;
  packA(src: number, bf16: number, rs: number, cs: number, mc: number, kc: number, dst: number): void;
  packB(src: number, bf16: number, rs: number, cs: number, kc: number, nc: number, dst: number): void;
  toBf16(src: number, dst: number, count: number): void;
}

const MR = 4;
const NR = 8;
const MC = 64;
const KC = 256;
const NC = 2048;
const PAGE = 65536;
/** Keep every byte address below 2^31 so the module's i32 arithmetic never wraps. */
const MAX_BYTES = 2 ** 31;

const TILE_AT = 0;
const PACK_A_AT = 1024;
const PACK_B_AT = PACK_A_AT + MC * KC * 4;
const SLOTS_AT = PACK_B_AT + NC * KC * 4;

const align64 = (n: number) => Math.ceil(n / 64) * 64;

// A module using one f32x4.relaxed_madd: (module (func (param v128) (result v128) local.get 0 local.get 0 local.get 0 f32x4.relaxed_madd))
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01,
  0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x00, 0x20, 0x00, 0xfd, 0x85, 0x02, 0x0b,
]);

function relaxedSimdAvailable(): boolean {
  if (process.env.TPUSIM_WASM_RELAXED === '0') return false;
  if (WebAssembly.validate(RELAXED_PROBE)) return true;
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return WebAssembly.validate(RELAXED_PROBE);
}

function wasmPath(name: string): string | null {
  for (const rel of [`../../../wasm/${name}`, `../../../dist/wasm/${name}`]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

class WasmBackend implements KernelBackend {
  readonly name = 'wasm-simd' as const;
  private f32: Float32Array;
  private u16: Uint16Array;
  private readonly slotCap = [0, 0, 0];
  private readonly slotViews: Float32Array[] = [];

  constructor(
    private readonly k: GemmExports,
    readonly relaxed: boolean,
  ) {
    this.f32 = new Float32Array(k.memory.buffer);
    this.u16 = new Uint16Array(k.memory.buffer);
    this.ensure(SLOTS_AT);
  }

  /** Grows memory to at least `bytes`; refreshes the cached views when it moved. */
  private ensure(bytes: number): boolean {
    if (bytes > MAX_BYTES) return false;
    const mem = this.k.memory;
    if (mem.buffer.byteLength < bytes) {
      try {
        mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / PAGE));
      } catch {
        return false;
      }
    }
    if (this.f32.buffer !== mem.buffer) {
      this.f32 = new Float32Array(mem.buffer);
      this.u16 = new Uint16Array(mem.buffer);
      this.slotViews.length = 0;
    }
    return true;
  }

  private slotAt(slot: number): number {
    let at = SLOTS_AT;
    for (let s = 0; s < slot; s++) at += this.slotCap[s]!;
    return at;
  }

  private get dynamicAt(): number {
    return this.slotAt(3);
  }

  scratch(l0: number, l1: number, l2: number): readonly Float32Array[] | null {
    for (let s = 0; s < 3; s++) {
      const want = s === 0 ? l0 : s === 1 ? l1 : l2;
      const bytes = align64(want * 4);
      if (this.slotCap[s]! < bytes) {
        // Growing a slot moves the later ones: scratch contents are not kept across calls.
        this.slotCap[s] = Math.max(bytes, align64(Math.ceil(this.slotCap[s]! * 1.5)));
        this.slotViews.length = 0;
      }
    }
    if (!this.ensure(this.dynamicAt)) return null;
    if (this.slotViews.length === 0) {
      for (let s = 0; s < 3; s++) {
        this.slotViews.push(new Float32Array(this.k.memory.buffer, this.slotAt(s), this.slotCap[s]! / 4));
      }
    }
    return this.slotViews;
  }

  /** Byte address of x in this memory when it already lives there, else -1. */
  private inside(x: FloatArray): number {
    return x.buffer === this.k.memory.buffer ? x.byteOffset : -1;
  }

  gemm(a: FloatArray, b: FloatArray, c: FloatArray, d: Float64Array): boolean {
    const batch = d[Gemm.Batch]!, m = d[Gemm.M]!, n = d[Gemm.N]!, k = d[Gemm.K]!;
    if (batch === 0 || m === 0 || n === 0) return true;
    const aBf16 = a instanceof Uint16Array ? 1 : 0;
    const bBf16 = b instanceof Uint16Array ? 1 : 0;
    const cBf16 = c instanceof Uint16Array;
    let aAt = this.inside(a);
    let bAt = this.inside(b);
    const cInside = this.inside(c);
    let at = this.dynamicAt;
    const aStage = aAt < 0 ? at : -1;
    if (aAt < 0) at += align64(a.byteLength);
    const bStage = bAt < 0 ? at : -1;
    if (bAt < 0) at += align64(b.byteLength);
    const cAt = at;
    const cElems = batch * m * n;
    at += align64(cElems * 4);
    if (!this.ensure(at)) return false;
    if (aStage >= 0) {
      if (aBf16) this.u16.set(a, aStage >> 1);
      else this.f32.set(a, aStage >> 2);
      aAt = aStage;
    }
    if (bStage >= 0) {
      if (bBf16) this.u16.set(b, bStage >> 1);
      else this.f32.set(b, bStage >> 2);
      bAt = bStage;
    }
    const aEl = aBf16 ? 2 : 4;
    const bEl = bBf16 ? 2 : 4;
    const kx = this.k;
    const ldc = n * 4;
    for (let bi = 0; bi < batch; bi++) {
      const aBase = aAt + (d[Gemm.AOffset]! + bi * d[Gemm.ABatch]!) * aEl;
      const bBase = bAt + (d[Gemm.BOffset]! + bi * d[Gemm.BBatch]!) * bEl;
      const cBase = cAt + bi * m * n * 4;
      if (k === 0) this.f32.fill(0, cBase >> 2, (cBase >> 2) + m * n);
      for (let jc = 0; jc < n; jc += NC) {
        const nc = Math.min(NC, n - jc);
        for (let pc = 0; pc < k; pc += KC) {
          const kc = Math.min(KC, k - pc);
          kx.packB(bBase + (pc * d[Gemm.BRow]! + jc * d[Gemm.BCol]!) * bEl, bBf16, d[Gemm.BRow]!, d[Gemm.BCol]!, kc, nc, PACK_B_AT);
          for (let ic = 0; ic < m; ic += MC) {
            const mc = Math.min(MC, m - ic);
            kx.packA(aBase + (ic * d[Gemm.ARow]! + pc * d[Gemm.ACol]!) * aEl, aBf16, d[Gemm.ARow]!, d[Gemm.ACol]!, mc, kc, PACK_A_AT);
            kx.macro(mc, nc, kc, PACK_A_AT, PACK_B_AT, cBase + ic * ldc + jc * 4, ldc, pc > 0 ? 1 : 0, TILE_AT);
          }
        }
      }
    }
    // Copy C out: (batch, m, n) contiguous here, strided by the descriptor there.
    if (cBf16) kx.toBf16(cAt, cAt, cElems);
    const src = cBf16 ? this.u16 : this.f32;
    const srcBase = cBf16 ? cAt >> 1 : cAt >> 2;
    // A C that lives in this memory (scratch) needs a fresh view if memory grew meanwhile.
    if (cInside >= 0 && c.buffer !== this.k.memory.buffer) {
      c = cBf16 ? new Uint16Array(this.k.memory.buffer, cInside, c.length) : new Float32Array(this.k.memory.buffer, cInside, c.length);
    }
    const contiguous = d[Gemm.CRow] === n && (batch === 1 || d[Gemm.CBatch] === m * n);
    if (contiguous) {
      // One view object per call: the only allocation on this path.
      c.set(src.subarray(srcBase, srcBase + cElems), d[Gemm.COffset]!);
    } else {
      for (let bi = 0; bi < batch; bi++) {
        for (let i = 0; i < m; i++) {
          const from = srcBase + (bi * m + i) * n;
          const to = d[Gemm.COffset]! + bi * d[Gemm.CBatch]! + i * d[Gemm.CRow]!;
          for (let j = 0; j < n; j++) c[to + j] = src[from + j]!;
        }
      }
    }
    return true;
  }

  reduce(kind: ReduceKind, x: FloatArray, out: FloatArray, outer: number, r: number, inner: number): boolean {
    return reduceJs(kind, x, out, outer, r, inner);
  }

  topK(x: FloatArray, values: FloatArray, indices: Int32Array, rows: number, n: number, k: number): boolean {
    return topKJs(x, values, indices, rows, n, k);
  }
}

/**
 * The WASM SIMD backend, or null when the host has no WASM SIMD or the module is not built.
 * `relaxed` forces the relaxed_madd variant on (true, if the host has it) or off (false).
 */
export function loadWasmBackend(relaxed?: boolean): (KernelBackend & { readonly relaxed: boolean }) | null {
  const useRelaxed = relaxed !== false && relaxedSimdAvailable();
  const file = wasmPath(useRelaxed ? 'gemm-relaxed.wasm' : 'gemm.wasm');
  if (file === null) return null;
  try {
    const module = new WebAssembly.Module(readFileSync(file));
    const instance = new WebAssembly.Instance(module, {});
    return new WasmBackend(instance.exports as unknown as GemmExports, file.endsWith('-relaxed.wasm'));
  } catch {
    return null; // no WASM SIMD on this host
  }
}
