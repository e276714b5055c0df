/** The 'js' backend: every kernel in plain JS (js_kernels.ts); it loads everywhere. */
import type { FloatArray, KernelBackend, ReduceKind } from './backend.js';
import { gemmJs, reduceJs, topKJs } from './js_kernels.js';

class JsBackend implements KernelBackend {
  readonly name = 'js' as const;
  private readonly slots: Float32Array[] = [new Float32Array(0), new Float32Array(0), new Float32Array(0)];

  gemm(a: FloatArray, b: FloatArray, c: FloatArray, desc: Float64Array): boolean {
    return gemmJs(a, b, c, desc);
  }

  reduce(kind: ReduceKind, x: FloatArray, out: FloatArray, outer: number, r: number, inner: number): boolean {
    return reduceJs(kind, x, out, outer, r, inner);
  }

  topK(x: FloatArray, values: FloatArray, indices: Int32Array, rows: number, n: number, k: number): boolean {
    return topKJs(x, values, indices, rows, n, k);
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

export function loadJsBackend(): KernelBackend {
  return new JsBackend();
}
