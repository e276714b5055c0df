/** Every fast-path backend this host can run, each ISA of the native addon and both WASM variants. */
import type { KernelBackend } from '../../../src/tpu/fast/backend.js';
import { loadJsBackend } from '../../../src/tpu/fast/js_backend.js';
import { loadNativeBackend } from '../../../src/tpu/fast/native_backend.js';
import { loadWasmBackend } from '../../../src/tpu/fast/wasm_backend.js';
import { ensureBuilt } from './helpers.js';

ensureBuilt();

export interface NamedBackend {
  readonly label: string;
  readonly backend: KernelBackend;
}

export const BACKENDS: NamedBackend[] = [];
for (const isa of ['avx512', 'avx2', 'generic'] as const) {
  const b = loadNativeBackend(isa);
  if (b !== null) BACKENDS.push({ label: `native-${isa}`, backend: b });
}
const wasmPlain = loadWasmBackend(false);
if (wasmPlain !== null) BACKENDS.push({ label: 'wasm-simd (mul+add)', backend: wasmPlain });
const wasmRelaxed = loadWasmBackend(true);
if (wasmRelaxed !== null && wasmRelaxed.relaxed) BACKENDS.push({ label: 'wasm-simd (relaxed_madd)', backend: wasmRelaxed });
BACKENDS.push({ label: 'js', backend: loadJsBackend() });
