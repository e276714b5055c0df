/**
 * reduce_sum / reduce_max / reduce_min over a contiguous run of axes (trailing, leading or
 * in the middle), f32 or bf16, as the backend's (outer, r, inner) reduction. Other axis
 * sets return false.
 */
import type { PrimitiveParams } from '../ops.js';
import { type FloatArray, type KernelBackend, ReduceKind } from './backend.js';
import { isFloatView } from './dot.js';
import { planReduce, reduceView } from './layout.js';
import type { FastKernel } from './types.js';

type ReduceName = 'reduce_sum' | 'reduce_max' | 'reduce_min';

export function makeReduce<N extends ReduceName>(backend: KernelBackend, kind: ReduceKind): FastKernel<N> {
  return (inputs, outputs, params: PrimitiveParams[N]) => {
    const x = inputs[0];
    const out = outputs[0];
    if (x === undefined || out === undefined || !isFloatView(x) || !isFloatView(out)) return false;
    if (!planReduce(x.shape, params.axes)) return false;
    const { outer, r, inner } = reduceView;
    if (out.data.length !== outer * inner) return false;
    return backend.reduce(kind, x.data as FloatArray, out.data as FloatArray, outer, r, inner);
  };
}

export { ReduceKind };
