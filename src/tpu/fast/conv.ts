/**
 * conv_general_dilated as im2col + GEMM: the patches of lhs become the rows of a scratch
 * matrix P (M = batch x output positions, Kc = kernel taps x in-features, taps row-major in
 * rhsSpec order, features fastest — the reference's accumulation order), and
 * out = P @ W with W (Kc x O) read in place when the kernel is HWIO-like, gathered into
 * scratch otherwise. The output is written by the GEMM when it is NHWC-like, scattered from
 * scratch otherwise. Any number of spatial dims, strides, padding and both dilations;
 * feature or batch groups return false (the reference runs).
 */
import { f32ToBf16Bits } from '../dtype.js';
import type { PrimitiveParams } from '../ops.js';
import type { TensorView } from '../tensor.js';
import { type FloatArray, GEMM_DESC_LENGTH, Gemm, type KernelBackend } from './backend.js';
import { isFloatView } from './dot.js';
import { bf16ToF32Table } from './js_kernels.js';
import { collapseDims, group, strideOf } from './layout.js';
import type { FastKernel } from './types.js';

const MAX_SPATIAL = 8;

export function makeConvGeneralDilated(backend: KernelBackend): FastKernel<'conv_general_dilated'> {
  const desc = new Float64Array(GEMM_DESC_LENGTH);
  const dims = new Int32Array(MAX_SPATIAL + 1);
  // Per spatial dim: sizes and strides (elements) of lhs, kernel and output, plus the window.
  const inSize = new Int32Array(MAX_SPATIAL);
  const inStride = new Float64Array(MAX_SPATIAL);
  const kSize = new Int32Array(MAX_SPATIAL);
  const kStride = new Float64Array(MAX_SPATIAL);
  const outSize = new Int32Array(MAX_SPATIAL);
  const outStride = new Float64Array(MAX_SPATIAL);
  const pos = new Int32Array(MAX_SPATIAL);
  const im2colDesc = new Float64Array(5 + 8 * MAX_SPATIAL);
  const tap = new Int32Array(MAX_SPATIAL);

  return (inputs, outputs, p: PrimitiveParams['conv_general_dilated']) => {
    const lhs = inputs[0];
    const rhs = inputs[1];
    const out = outputs[0];
    if (lhs === undefined || rhs === undefined || out === undefined) return false;
    if (!isFloatView(lhs) || !isFloatView(rhs) || !isFloatView(out)) return false;
    if (p.featureGroupCount !== 1 || p.batchGroupCount !== 1) return false;
    const rank = lhs.shape.length;
    const ns = rank - 2;
    if (ns < 0 || ns > MAX_SPATIAL || rhs.shape.length !== rank || out.shape.length !== rank) return false;
    const { lhsSpec, rhsSpec, outSpec } = p.dimensionNumbers;
    const batch = lhs.shape[lhsSpec[0]!]!;
    const feat = lhs.shape[lhsSpec[1]!]!;
    const outFeat = rhs.shape[rhsSpec[0]!]!;
    if (rhs.shape[rhsSpec[1]!] !== feat || out.shape[outSpec[0]!] !== batch || out.shape[outSpec[1]!] !== outFeat) return false;
    let positions = 1;
    let taps = 1;
    for (let s = 0; s < ns; s++) {
      inSize[s] = lhs.shape[lhsSpec[2 + s]!]!;
      inStride[s] = strideOf(lhs.shape, lhsSpec[2 + s]!);
      kSize[s] = rhs.shape[rhsSpec[2 + s]!]!;
      kStride[s] = strideOf(rhs.shape, rhsSpec[2 + s]!);
      outSize[s] = out.shape[outSpec[2 + s]!]!;
      outStride[s] = strideOf(out.shape, outSpec[2 + s]!);
      positions *= outSize[s]!;
      taps *= kSize[s]!;
    }
    const m = batch * positions;
    const kc = taps * feat;
    if (m === 0 || outFeat === 0) return true;

    // W in place when (kernel spatial..., in-feature) flatten to one row stride (HWIO-like).
    for (let s = 0; s < ns; s++) dims[s] = rhsSpec[2 + s]!;
    dims[ns] = rhsSpec[1]!;
    const directW = collapseDims(rhs.shape, dims, ns + 1);
    const wRow = group.stride;
    // C in place when (batch, out spatial...) flatten to one stride and out-features have stride 1.
    dims[0] = outSpec[0]!;
    for (let s = 0; s < ns; s++) dims[1 + s] = outSpec[2 + s]!;
    const directC = collapseDims(out.shape, dims, ns + 1) && strideOf(out.shape, outSpec[1]!) === 1;
    const cRow = group.stride;

    const views = backend.scratch(m * kc, directW ? 0 : kc * outFeat, directC ? 0 : m * outFeat);
    if (views === null) return false;
    const patches = views[0]!;
    const table = lhs.dtype === 'bf16' ? bf16ToF32Table() : null;
    const x = lhs.data;
    const lsBatch = strideOf(lhs.shape, lhsSpec[0]!);
    const lsFeat = strideOf(lhs.shape, lhsSpec[1]!);

    let extracted = false;
    if (backend.im2col !== undefined) {
      const d = im2colDesc;
      d[0] = batch;
      d[1] = feat;
      d[2] = ns;
      d[3] = lsBatch;
      d[4] = lsFeat;
      for (let s = 0; s < ns; s++) {
        const e = 5 + 8 * s;
        d[e] = inSize[s]!;
        d[e + 1] = inStride[s]!;
        d[e + 2] = kSize[s]!;
        d[e + 3] = outSize[s]!;
        d[e + 4] = p.windowStrides[s]!;
        d[e + 5] = p.padding[s]![0];
        d[e + 6] = p.lhsDilation[s]!;
        d[e + 7] = p.rhsDilation[s]!;
      }
      extracted = backend.im2col(lhs.data as FloatArray, patches, d);
    }
    if (!extracted) {
      // im2col: row (n, pos...) row-major; column (tap..., c).
      let row = 0;
      for (let n = 0; n < batch; n++) {
        pos.fill(0);
        for (let q = 0; q < positions; q++) {
          tap.fill(0);
          let col = row * kc;
          for (let t = 0; t < taps; t++) {
            let offset = n * lsBatch;
            for (let s = 0; s < ns && offset >= 0; s++) {
              const dilated = pos[s]! * p.windowStrides[s]! - p.padding[s]![0] + tap[s]! * p.rhsDilation[s]!;
              const ld = p.lhsDilation[s]!;
              if (dilated < 0 || dilated % ld !== 0 || dilated / ld >= inSize[s]!) offset = -1;
              else offset += (dilated / ld) * inStride[s]!;
            }
            if (offset < 0) {
              patches.fill(0, col, col + feat);
            } else if (table === null) {
              for (let c = 0; c < feat; c++) patches[col + c] = x[offset + c * lsFeat]!;
            } else {
              for (let c = 0; c < feat; c++) patches[col + c] = table[x[offset + c * lsFeat]!]!;
            }
            col += feat;
            for (let s = ns - 1; s >= 0; s--) {
              if (++tap[s]! < kSize[s]!) break;
              tap[s] = 0;
            }
          }
          row++;
          for (let s = ns - 1; s >= 0; s--) {
            if (++pos[s]! < outSize[s]!) break;
            pos[s] = 0;
          }
        }
      }
    }

    let w: FloatArray = rhs.data as FloatArray;
    const rsOut = strideOf(rhs.shape, rhsSpec[0]!);
    if (!directW) {
      const gathered = views[1]!;
      const rsIn = strideOf(rhs.shape, rhsSpec[1]!);
      const wTable = rhs.dtype === 'bf16' ? bf16ToF32Table() : null;
      tap.fill(0);
      let at = 0;
      for (let t = 0; t < taps; t++) {
        let base = 0;
        for (let s = 0; s < ns; s++) base += tap[s]! * kStride[s]!;
        for (let c = 0; c < feat; c++) {
          for (let o = 0; o < outFeat; o++) {
            const v = rhs.data[base + c * rsIn + o * rsOut]!;
            gathered[at++] = wTable === null ? v : wTable[v]!;
          }
        }
        for (let s = ns - 1; s >= 0; s--) {
          if (++tap[s]! < kSize[s]!) break;
          tap[s] = 0;
        }
      }
      w = gathered;
    }

    desc[Gemm.Batch] = 1;
    desc[Gemm.M] = m;
    desc[Gemm.N] = outFeat;
    desc[Gemm.K] = kc;
    desc[Gemm.AOffset] = 0;
    desc[Gemm.ABatch] = 0;
    desc[Gemm.ARow] = kc;
    desc[Gemm.ACol] = 1;
    desc[Gemm.BOffset] = 0;
    desc[Gemm.BBatch] = 0;
    desc[Gemm.BRow] = directW ? wRow : outFeat;
    desc[Gemm.BCol] = directW ? rsOut : 1;
    desc[Gemm.COffset] = 0;
    desc[Gemm.CBatch] = 0;
    desc[Gemm.CRow] = directC ? cRow : outFeat;
    const target: FloatArray = directC ? (out.data as FloatArray) : views[2]!;
    if (!backend.gemm(patches, w, target, desc)) return false;
    if (directC) return true;

    // Scatter (n, pos..., o) from scratch to the output layout. Re-fetch: gemm may have moved scratch.
    const result = backend.scratch(m * kc, directW ? 0 : kc * outFeat, m * outFeat)![2]!;
    const osBatch = strideOf(out.shape, outSpec[0]!);
    const osFeat = strideOf(out.shape, outSpec[1]!);
    const bf16Out = out.dtype === 'bf16';
    let row = 0;
    for (let n = 0; n < batch; n++) {
      pos.fill(0);
      for (let q = 0; q < positions; q++) {
        let base = n * osBatch;
        for (let s = 0; s < ns; s++) base += pos[s]! * outStride[s]!;
        const from = row * outFeat;
        for (let o = 0; o < outFeat; o++) {
          const v = result[from + o]!;
          out.data[base + o * osFeat] = bf16Out ? f32ToBf16Bits(v) : v;
        }
        row++;
        for (let s = ns - 1; s >= 0; s--) {
          if (++pos[s]! < outSize[s]!) break;
          pos[s] = 0;
        }
      }
    }
    return true;
  };
}
