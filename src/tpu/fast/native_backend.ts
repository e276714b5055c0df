/**
 * The N-API backend: native/build/Release/tpusim_fast.node, loaded synchronously with
 * createRequire. The addon reads the typed arrays in place (SharedArrayBuffer views
 * included) and picks its microkernel by CPUID (AVX-512, AVX2+FMA or portable C++).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FloatArray, KernelBackend, ReduceKind } from './backend.js';
import type { FastBackend } from './types.js';

interface NativeAddon {
  gemm(a: FloatArray, b: FloatArray, c: FloatArray, desc: Float64Array): boolean;
  reduce(op: number, x: FloatArray, out: FloatArray, desc: Float64Array): boolean;
  topK(x: FloatArray, values: FloatArray, indices: Int32Array, desc: Float64Array): boolean;
  im2col(x: FloatArray, patches: Float32Array, desc: Float64Array): boolean;
  partialReduce?(x: Float32Array, best: Float32Array, at: Int32Array, desc: Float64Array): boolean;
  isa(): 'avx512' | 'avx2' | 'generic';
  setIsa(name: string): boolean;
}

/** Where the addon may be: beside the sources (vitest) or beside dist/ (compiled). */
function addonPath(): string | null {
  for (const rel of ['../../../native/build/Release/tpusim_fast.node', '../../../../native/build/Release/tpusim_fast.node']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  return null;
}

function loadAddon(): NativeAddon | null {
  const path = addonPath();
  if (path === null) return null;
  try {
    return createRequire(import.meta.url)(path) as NativeAddon;
  } catch {
    return null; // built for another Node ABI or host: the caller falls back
  }
}

type Isa = 'avx512' | 'avx2' | 'generic';

/** The microkernel the addon of this thread has selected (the addon holds one per thread). */
let selectedIsa: Isa | null = null;
/** The best microkernel this CPU supports: the addon's own choice when it loads. */
let bestIsa: Isa | null = null;

class NativeBackend implements KernelBackend {
  readonly name: FastBackend;
  private readonly desc3 = new Float64Array(3);
  private readonly slots: Float32Array[] = [new Float32Array(0), new Float32Array(0), new Float32Array(0)];

  constructor(
    private readonly addon: NativeAddon,
    private readonly isa: Isa,
  ) {
    this.name = isa === 'avx512' ? 'native-avx512' : isa === 'avx2' ? 'native-avx2' : 'native-generic';
  }

  gemm(a: FloatArray, b: FloatArray, c: FloatArray, desc: Float64Array): boolean {
    if (selectedIsa !== this.isa) {
      this.addon.setIsa(this.isa);
      selectedIsa = this.isa;
    }
    return this.addon.gemm(a, b, c, desc);
  }

  reduce(kind: ReduceKind, x: FloatArray, out: FloatArray, outer: number, r: number, inner: number): boolean {
    this.desc3[0] = outer;
    this.desc3[1] = r;
    this.desc3[2] = inner;
    return this.addon.reduce(kind, x, out, this.desc3);
  }

  topK(x: FloatArray, values: FloatArray, indices: Int32Array, rows: number, n: number, k: number): boolean {
    this.desc3[0] = rows;
    this.desc3[1] = n;
    this.desc3[2] = k;
    return this.addon.topK(x, values, indices, this.desc3);
  }

  im2col(x: FloatArray, patches: Float32Array, desc: Float64Array): boolean {
    return this.addon.im2col(x, patches, desc);
  }

  partialReduce(x: Float32Array, offset: number, n: number, bins: number, best: Float32Array, at: Int32Array): boolean {
    // An addon built before this entry existed has no partialReduce: the caller's loop runs.
    if (this.addon.partialReduce === undefined) return false;
    this.desc3[0] = offset;
    this.desc3[1] = n;
    this.desc3[2] = bins;
    return this.addon.partialReduce(x, best, at, this.desc3);
  }

  scratch(l0: number, l1: number, l2: number): readonly Float32Array[] {
    for (let s = 0; s < 3; s++) {
      const want = s === 0 ? l0 : s === 1 ? l1 : l2;
      const have = this.slots[s]!;
      if (have.length < want) this.slots[s] = new Float32Array(Math.max(want, Math.ceil(have.length * 1.5)));
    }
    return this.slots;
  }
}

/**
 * The native backend, or null when the addon is not built or does not load.
 * `isa` forces a microkernel ('avx512' | 'avx2' | 'generic'); null if this CPU lacks it.
 * Without it, the best the CPU supports (the addon's own choice at load).
 */
export function loadNativeBackend(isa?: Isa): KernelBackend | null {
  const addon = loadAddon();
  if (addon === null) return null;
  if (bestIsa === null) {
    bestIsa = addon.isa();
    selectedIsa = bestIsa;
  }
  if (isa === undefined) return new NativeBackend(addon, bestIsa);
  const ok = addon.setIsa(isa);
  addon.setIsa(selectedIsa ?? bestIsa);
  return ok ? new NativeBackend(addon, isa) : null;
}
