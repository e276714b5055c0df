/**
 * The fast path for the hot primitives (dot_general, conv_general_dilated, reduce_sum,
 * reduce_max, reduce_min, top_k, approx_max_k), on the best backend that loads on this host:
 *   native (N-API addon; AVX-512, AVX2+FMA or portable C++ by CPUID) > WASM SIMD > plain JS.
 * TPUSIM_FAST_BACKEND=native|wasm|js forces one (native or wasm fall back down the list
 * when they cannot load). Loading is synchronous, at import, because the executor calls
 * kernels synchronously.
 */
import type { KernelBackend } from './backend.js';
import { ReduceKind } from './backend.js';
import { makeApproxMaxK } from './approx_topk.js';
import { makeConvGeneralDilated } from './conv.js';
import { makeDotGeneral } from './dot.js';
import { loadJsBackend } from './js_backend.js';
import { loadNativeBackend } from './native_backend.js';
import { makeReduce } from './reduce.js';
import { makeTopK } from './top_k.js';
import type { FastBackend, FastKernelTable } from './types.js';
import { loadWasmBackend } from './wasm_backend.js';

export type { FastBackend, FastKernel, FastKernelTable } from './types.js';
export type { KernelBackend } from './backend.js';

/** The fast kernel table over one backend. */
export function fastKernelsFor(backend: KernelBackend): FastKernelTable {
  return {
    dot_general: makeDotGeneral(backend),
    conv_general_dilated: makeConvGeneralDilated(backend),
    reduce_sum: makeReduce<'reduce_sum'>(backend, ReduceKind.Sum),
    reduce_max: makeReduce<'reduce_max'>(backend, ReduceKind.Max),
    reduce_min: makeReduce<'reduce_min'>(backend, ReduceKind.Min),
    top_k: makeTopK(backend),
    approx_max_k: makeApproxMaxK(backend),
  };
}

/** A backend by kind, or null when it cannot load here. */
export function loadBackend(kind: 'native' | 'wasm' | 'js'): KernelBackend | null {
  if (kind === 'native') return loadNativeBackend();
  if (kind === 'wasm') return loadWasmBackend();
  return loadJsBackend();
}

/** Every backend that loads on this host, best first (each native ISA the CPU runs, then wasm, then js). */
export function availableBackends(): KernelBackend[] {
  const found: KernelBackend[] = [];
  for (const isa of ['avx512', 'avx2', 'generic'] as const) {
    const b = loadNativeBackend(isa);
    if (b !== null) found.push(b);
  }
  const wasm = loadWasmBackend();
  if (wasm !== null) found.push(wasm);
  found.push(loadJsBackend());
  return found;
}

function selectBackend(): KernelBackend {
  const forced = process.env.TPUSIM_FAST_BACKEND;
  if (forced !== undefined && forced !== '' && forced !== 'native' && forced !== 'wasm' && forced !== 'js') {
    throw new Error(`TPUSIM_FAST_BACKEND=${JSON.stringify(forced)}: expected native, wasm or js`);
  }
  const order: ('native' | 'wasm' | 'js')[] =
    forced === 'js' ? ['js'] : forced === 'wasm' ? ['wasm', 'js'] : ['native', 'wasm', 'js'];
  for (const kind of order) {
    const backend = loadBackend(kind);
    if (backend !== null) return backend;
  }
  return loadJsBackend();
}

const selected = selectBackend();

export const FAST_KERNELS: FastKernelTable = fastKernelsFor(selected);

/** Which implementation FAST_KERNELS runs on. */
export function fastBackend(): FastBackend {
  return selected.name;
}
