/**
 * dot_general on a strided batched GEMM. Each of lhs's batch, free and contracting groups
 * (and rhs's) must be addressable by one stride (collapseDims); that covers row-major and
 * transposed operands, batch dims anywhere they stay contiguous among themselves, and
 * multi-dim contractions in row-major order. Other layouts return false (the reference runs).
 */
import type { PrimitiveParams } from '../ops.js';
import type { TensorView } from '../tensor.js';
import { type FloatArray, GEMM_DESC_LENGTH, Gemm, type KernelBackend } from './backend.js';
import { collapseDims, freeDims, group } from './layout.js';
import type { FastKernel } from './types.js';

const MAX_RANK = 32;

export function isFloatView(t: TensorView): boolean {
  return t.dtype === 'f32' || t.dtype === 'bf16';
}

export function makeDotGeneral(backend: KernelBackend): FastKernel<'dot_general'> {
  const desc = new Float64Array(GEMM_DESC_LENGTH);
  const free = new Int32Array(MAX_RANK);
  return (inputs, outputs, params: PrimitiveParams['dot_general']) => {
    const lhs = inputs[0];
    const rhs = inputs[1];
    const out = outputs[0];
    if (lhs === undefined || rhs === undefined || out === undefined) return false;
    if (!isFloatView(lhs) || !isFloatView(rhs) || !isFloatView(out)) return false;
    if (lhs.shape.length > MAX_RANK || rhs.shape.length > MAX_RANK) return false;
    const lc = params.contractingDims[0];
    const rc = params.contractingDims[1];
    const lb = params.batchDims[0];
    const rb = params.batchDims[1];

    if (!collapseDims(lhs.shape, lb, lb.length)) return false;
    const batch = group.size;
    desc[Gemm.ABatch] = group.stride;
    if (!collapseDims(rhs.shape, rb, rb.length) || group.size !== batch) return false;
    desc[Gemm.BBatch] = group.stride;

    if (!collapseDims(lhs.shape, lc, lc.length)) return false;
    const k = group.size;
    desc[Gemm.ACol] = group.stride;
    if (!collapseDims(rhs.shape, rc, rc.length) || group.size !== k) return false;
    desc[Gemm.BRow] = group.stride;

    if (!collapseDims(lhs.shape, free, freeDims(lhs.shape.length, lc, lb, free))) return false;
    const m = group.size;
    desc[Gemm.ARow] = group.stride;
    if (!collapseDims(rhs.shape, free, freeDims(rhs.shape.length, rc, rb, free))) return false;
    const n = group.size;
    desc[Gemm.BCol] = group.stride;
    if (out.data.length !== batch * m * n) return false;

    desc[Gemm.Batch] = batch;
    desc[Gemm.M] = m;
    desc[Gemm.N] = n;
    desc[Gemm.K] = k;
    desc[Gemm.AOffset] = 0;
    desc[Gemm.BOffset] = 0;
    desc[Gemm.COffset] = 0;
    desc[Gemm.CBatch] = m * n;
    desc[Gemm.CRow] = n;
    return backend.gemm(lhs.data as FloatArray, rhs.data as FloatArray, out.data as FloatArray, desc);
  };
}
