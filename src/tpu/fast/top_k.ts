/** lax.top_k along the last axis on the backend's per-row heap selection; f32 and bf16. */
import type { PrimitiveParams } from '../ops.js';
import type { FloatArray, KernelBackend } from './backend.js';
import { isFloatView } from './dot.js';
import type { FastKernel } from './types.js';

export function makeTopK(backend: KernelBackend): FastKernel<'top_k'> {
  return (inputs, outputs, params: PrimitiveParams['top_k']) => {
    const x = inputs[0];
    const values = outputs[0];
    const indices = outputs[1];
    if (x === undefined || values === undefined || indices === undefined) return false;
    if (!isFloatView(x) || values.dtype !== x.dtype || indices.dtype !== 'i32' || x.shape.length < 1) return false;
    const n = x.shape[x.shape.length - 1]!;
    const k = params.k;
    if (!Number.isInteger(k) || k < 0 || k > n) return false;
    const rows = n === 0 ? 0 : x.data.length / n;
    if (values.data.length !== rows * k || indices.data.length !== rows * k) return false;
    return backend.topK(x.data as FloatArray, values.data as FloatArray, indices.data as Int32Array, rows, n, k);
  };
}
