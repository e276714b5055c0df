/**
 * Family B, contractions: lax.dot_general and lax.conv_general_dilated.
 *
 * Numerics (both ops, the oracle for the fast path):
 * - Operands are first converted to the output dtype, as XLA's HloEvaluator does
 *   (bf16 -> f32 is exact; i32 -> f32 rounds; i32 -> bf16 rounds to nearest even).
 * - Float outputs (f32, bf16): every output element starts from +0 and accumulates in f32,
 *   `acc = Math.fround(acc + a * b)` once per term, in the fixed order documented on each
 *   kernel. a and b are f32 values, so `a * b` is exact in a JS double and the only rounding
 *   per term is the f32 one after the add. A bf16 output is rounded once, at the end.
 * - i32 outputs wrap like int32 (two's complement), as TPU integer arithmetic does.
 * - bool outputs are OR over AND (a sum of 0/1 products, nonzero -> true).
 */
import { type DType, readElement, roundToBf16, writeElement } from '../dtype.js';
import type { ConvDimensionNumbers, PrimitiveParams } from '../ops.js';
import { type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView, sizeOf, stridesOf } from '../tensor.js';
import { areValidDims, isPermutation, nextIndex, offsetsOver, unravelIndex } from './index_space.js';
import { type WindowDim, windowInputIndex, windowOutputSize, windowProblem } from './window_util.js';

type ContractionName = 'dot_general' | 'conv_general_dilated';

// ---- dtype rule -------------------------------------------------------------------------

/**
 * The result dtype of a dot or conv, following jax.lax's `_dot_general_dtype_rule`:
 * operands share a dtype; preferredElementType may be (integral -> integral),
 * (integral -> floating) or (floating -> floating) but not narrower than a float input.
 */
function contractionDType(op: ContractionName, inputs: readonly AbstractValue[], preferred: DType | undefined): DType {
  const [lhs, rhs] = inputs as [AbstractValue, AbstractValue];
  if (lhs.dtype !== rhs.dtype) {
    throw new ShapeError(op, inputs, `operand dtypes differ (${lhs.dtype} vs ${rhs.dtype}); convert one first`);
  }
  const input = lhs.dtype;
  if (preferred === undefined || preferred === input) return input;
  const compatible =
    (input === 'i32' && (preferred === 'f32' || preferred === 'bf16')) ||
    (input === 'bf16' && preferred === 'f32');
  if (!compatible) {
    const why = input === 'f32' && preferred === 'bf16' ? 'narrower than the input type' : 'incompatible with the input type';
    throw new ShapeError(op, inputs, `preferredElementType ${preferred} is ${why} ${input}`);
  }
  return preferred;
}

/** The operand's elements converted to the output dtype, as plain numbers. */
function valuesAs(t: TensorView, outDtype: DType): Float64Array {
  const values = new Float64Array(t.data.length);
  for (let i = 0; i < values.length; i++) {
    const x = readElement(t.dtype, t.data, i);
    values[i] = outDtype === 'f32' ? Math.fround(x) : outDtype === 'bf16' ? roundToBf16(x) : x;
  }
  return values;
}

/**
 * One output element's accumulator for the output dtype. `add(a, b)` folds in one product;
 * `store` writes the result with the dtype's conversion.
 */
class Accumulator {
  private acc = 0;
  constructor(private readonly dtype: DType) {}
  reset(): void {
    this.acc = 0;
  }
  add(a: number, b: number): void {
    if (this.dtype === 'i32') this.acc = (this.acc + Math.imul(a, b)) | 0;
    else if (this.dtype === 'bool') this.acc = this.acc | (a !== 0 && b !== 0 ? 1 : 0);
    else this.acc = Math.fround(this.acc + a * b);
  }
  store(out: TensorView, i: number): void {
    writeElement(out.dtype, out.data, i, this.acc);
  }
}

// ---- dot_general ------------------------------------------------------------------------

type DotParams = PrimitiveParams['dot_general'];

interface DotDims {
  readonly lhsBatch: readonly number[];
  readonly rhsBatch: readonly number[];
  readonly lhsContract: readonly number[];
  readonly rhsContract: readonly number[];
  readonly lhsFree: number[];
  readonly rhsFree: number[];
}

function dotDims(inputs: readonly AbstractValue[], params: DotParams): DotDims {
  const op = 'dot_general';
  if (inputs.length !== 2) throw new ShapeError(op, inputs, `expects 2 operands (lhs, rhs), got ${inputs.length}`);
  const [lhs, rhs] = inputs as [AbstractValue, AbstractValue];
  const [lhsContract, rhsContract] = params.contractingDims;
  const [lhsBatch, rhsBatch] = params.batchDims;
  if (lhsContract.length !== rhsContract.length) {
    throw new ShapeError(op, inputs, `contracting dims [${lhsContract}] and [${rhsContract}] differ in count`);
  }
  if (lhsBatch.length !== rhsBatch.length) {
    throw new ShapeError(op, inputs, `batch dims [${lhsBatch}] and [${rhsBatch}] differ in count`);
  }
  if (!areValidDims([...lhsBatch, ...lhsContract], lhs.shape.length)) {
    throw new ShapeError(op, inputs, `lhs batch [${lhsBatch}] and contracting [${lhsContract}] dims must be distinct dims of lhs`);
  }
  if (!areValidDims([...rhsBatch, ...rhsContract], rhs.shape.length)) {
    throw new ShapeError(op, inputs, `rhs batch [${rhsBatch}] and contracting [${rhsContract}] dims must be distinct dims of rhs`);
  }
  for (let i = 0; i < lhsBatch.length; i++) {
    const l = lhs.shape[lhsBatch[i]!]!;
    const r = rhs.shape[rhsBatch[i]!]!;
    if (l !== r) throw new ShapeError(op, inputs, `batch dim sizes differ: lhs dim ${lhsBatch[i]} is ${l}, rhs dim ${rhsBatch[i]} is ${r}`);
  }
  for (let i = 0; i < lhsContract.length; i++) {
    const l = lhs.shape[lhsContract[i]!]!;
    const r = rhs.shape[rhsContract[i]!]!;
    if (l !== r) {
      throw new ShapeError(op, inputs, `contracting dim sizes differ: lhs dim ${lhsContract[i]} is ${l}, rhs dim ${rhsContract[i]} is ${r}`);
    }
  }
  const free = (rank: number, used: readonly number[]) => [...Array(rank).keys()].filter((d) => !used.includes(d));
  return {
    lhsBatch,
    rhsBatch,
    lhsContract,
    rhsContract,
    lhsFree: free(lhs.shape.length, [...lhsBatch, ...lhsContract]),
    rhsFree: free(rhs.shape.length, [...rhsBatch, ...rhsContract]),
  };
}

function dotShape(inputs: readonly AbstractValue[], params: DotParams): AbstractValue[] {
  const dims = dotDims(inputs, params);
  const dtype = contractionDType('dot_general', inputs, params.preferredElementType);
  const [lhs, rhs] = inputs as [AbstractValue, AbstractValue];
  const shape = [
    ...dims.lhsBatch.map((d) => lhs.shape[d]!),
    ...dims.lhsFree.map((d) => lhs.shape[d]!),
    ...dims.rhsFree.map((d) => rhs.shape[d]!),
  ];
  return [{ shape, dtype }];
}

/**
 * out[b, i, j] = sum_k lhs[b, i, k] * rhs[b, j, k], where b, i, j and k are multi-indices over
 * the batch, lhs free, rhs free and contracting dims. Accumulation order: k runs row-major
 * over the contracting dims in the order `contractingDims[0]` lists them (first listed
 * varies slowest), from k = 0 upward.
 */
function dotReference(inputs: readonly TensorView[], outputs: readonly TensorView[], params: DotParams): void {
  const [lhs, rhs] = inputs as [TensorView, TensorView];
  const out = outputs[0]!;
  const dims = dotDims(inputs, params);
  const a = valuesAs(lhs, out.dtype);
  const b = valuesAs(rhs, out.dtype);
  const lhsBatch = offsetsOver(lhs.shape, dims.lhsBatch);
  const rhsBatch = offsetsOver(rhs.shape, dims.rhsBatch);
  const lhsFree = offsetsOver(lhs.shape, dims.lhsFree);
  const rhsFree = offsetsOver(rhs.shape, dims.rhsFree);
  const lhsK = offsetsOver(lhs.shape, dims.lhsContract);
  const rhsK = offsetsOver(rhs.shape, dims.rhsContract);
  const acc = new Accumulator(out.dtype);
  let o = 0;
  for (let bi = 0; bi < lhsBatch.length; bi++) {
    for (const li of lhsFree) {
      for (const rj of rhsFree) {
        const lBase = lhsBatch[bi]! + li;
        const rBase = rhsBatch[bi]! + rj;
        acc.reset();
        for (let k = 0; k < lhsK.length; k++) acc.add(a[lBase + lhsK[k]!]!, b[rBase + rhsK[k]!]!);
        acc.store(out, o++);
      }
    }
  }
}

// ---- conv_general_dilated ---------------------------------------------------------------

type ConvParams = PrimitiveParams['conv_general_dilated'];

/** The conv's dimensions, resolved from the dimension numbers. */
interface ConvGeometry {
  readonly dn: ConvDimensionNumbers;
  readonly batch: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Kernel input features: inFeatures / featureGroupCount. */
  readonly kernelInFeatures: number;
  readonly inSpatial: number[];
  readonly kernelSpatial: number[];
  readonly window: WindowDim[];
  readonly outShape: number[];
}

function convGeometry(inputs: readonly AbstractValue[], p: ConvParams): ConvGeometry {
  const op = 'conv_general_dilated';
  if (inputs.length !== 2) throw new ShapeError(op, inputs, `expects 2 operands (lhs, rhs), got ${inputs.length}`);
  const [lhs, rhs] = inputs as [AbstractValue, AbstractValue];
  const dn = p.dimensionNumbers;
  const rank = lhs.shape.length;
  if (rank < 2) throw new ShapeError(op, inputs, `lhs must have rank >= 2 (batch, feature, ...spatial), got ${rank}`);
  if (rhs.shape.length !== rank) throw new ShapeError(op, inputs, `lhs rank ${rank} and rhs rank ${rhs.shape.length} differ`);
  for (const [name, spec] of [['lhsSpec', dn.lhsSpec], ['rhsSpec', dn.rhsSpec], ['outSpec', dn.outSpec]] as const) {
    if (!isPermutation(spec, rank)) throw new ShapeError(op, inputs, `dimensionNumbers.${name} [${spec}] is not a permutation of 0..${rank - 1}`);
  }
  const nSpatial = rank - 2;
  for (const [name, list] of [['windowStrides', p.windowStrides], ['padding', p.padding], ['lhsDilation', p.lhsDilation], ['rhsDilation', p.rhsDilation]] as const) {
    if (list.length !== nSpatial) throw new ShapeError(op, inputs, `${name} has ${list.length} entries for ${nSpatial} spatial dims`);
  }
  const fgc = p.featureGroupCount;
  const bgc = p.batchGroupCount;
  if (!Number.isInteger(fgc) || fgc < 1) throw new ShapeError(op, inputs, `featureGroupCount ${fgc} must be a positive integer`);
  if (!Number.isInteger(bgc) || bgc < 1) throw new ShapeError(op, inputs, `batchGroupCount ${bgc} must be a positive integer`);
  if (fgc > 1 && bgc > 1) throw new ShapeError(op, inputs, `featureGroupCount ${fgc} and batchGroupCount ${bgc} cannot both exceed 1`);

  const batch = lhs.shape[dn.lhsSpec[0]!]!;
  const inFeatures = lhs.shape[dn.lhsSpec[1]!]!;
  const outFeatures = rhs.shape[dn.rhsSpec[0]!]!;
  const kernelInFeatures = rhs.shape[dn.rhsSpec[1]!]!;
  // xla/service/shape_inference.cc InferConvolveShape.
  if (inFeatures % fgc !== 0) throw new ShapeError(op, inputs, `lhs features ${inFeatures} not divisible by featureGroupCount ${fgc}`);
  if (inFeatures / fgc !== kernelInFeatures) {
    throw new ShapeError(op, inputs, `lhs features ${inFeatures} / featureGroupCount ${fgc} must equal rhs input features ${kernelInFeatures}`);
  }
  if (outFeatures % fgc !== 0) throw new ShapeError(op, inputs, `rhs output features ${outFeatures} not divisible by featureGroupCount ${fgc}`);
  if (batch % bgc !== 0) throw new ShapeError(op, inputs, `lhs batch ${batch} not divisible by batchGroupCount ${bgc}`);
  if (outFeatures % bgc !== 0) throw new ShapeError(op, inputs, `rhs output features ${outFeatures} not divisible by batchGroupCount ${bgc}`);

  const inSpatial = dn.lhsSpec.slice(2).map((d) => lhs.shape[d]!);
  const kernelSpatial = dn.rhsSpec.slice(2).map((d) => rhs.shape[d]!);
  const window: WindowDim[] = kernelSpatial.map((size, s) => ({
    size,
    stride: p.windowStrides[s]!,
    padLow: p.padding[s]![0],
    padHigh: p.padding[s]![1],
    baseDilation: p.lhsDilation[s]!,
    windowDilation: p.rhsDilation[s]!,
  }));
  const problem = windowProblem(inSpatial, window);
  if (problem !== null) throw new ShapeError(op, inputs, problem);

  const outShape = new Array<number>(rank);
  outShape[dn.outSpec[0]!] = batch / bgc;
  outShape[dn.outSpec[1]!] = outFeatures;
  for (let s = 0; s < nSpatial; s++) outShape[dn.outSpec[2 + s]!] = windowOutputSize(inSpatial[s]!, window[s]!);
  return { dn, batch, inFeatures, outFeatures, kernelInFeatures, inSpatial, kernelSpatial, window, outShape };
}

function convShape(inputs: readonly AbstractValue[], params: ConvParams): AbstractValue[] {
  const g = convGeometry(inputs, params);
  return [{ shape: g.outShape, dtype: contractionDType('conv_general_dilated', inputs, params.preferredElementType) }];
}

/**
 * XLA convolution semantics (HloEvaluator HandleConvolution), for each output element
 * (n, o, spatial...):
 * - feature group g = floor(o / (O / featureGroupCount)) reads lhs features
 *   g * kernelIn .. g * kernelIn + kernelIn - 1;
 * - batch group bg = floor(o / (O / batchGroupCount)) reads lhs batch
 *   bg * (B / batchGroupCount) + n;
 * - spatial tap k of output position x reads dilated lhs position x * stride - padLow +
 *   k * rhsDilation, skipped when it is padding or a hole of the lhs dilation.
 * Accumulation order: kernel spatial taps row-major over the rhs spatial dims in
 * rhsSpec order, and for each tap the kernel input features in increasing order.
 */
function convReference(inputs: readonly TensorView[], outputs: readonly TensorView[], params: ConvParams): void {
  const [lhs, rhs] = inputs as [TensorView, TensorView];
  const out = outputs[0]!;
  const g = convGeometry(inputs, params);
  const { dn, window, kernelSpatial, inSpatial } = g;
  const nSpatial = kernelSpatial.length;
  const a = valuesAs(lhs, out.dtype);
  const b = valuesAs(rhs, out.dtype);
  const ls = stridesOf(lhs.shape);
  const rs = stridesOf(rhs.shape);
  const outFeaturesPerFeatureGroup = g.outFeatures / params.featureGroupCount;
  const outFeaturesPerBatchGroup = g.outFeatures / params.batchGroupCount;
  const batchPerGroup = g.batch / params.batchGroupCount;

  const outIndex = new Array<number>(g.outShape.length).fill(0);
  const tap = new Array<number>(nSpatial).fill(0);
  const acc = new Accumulator(out.dtype);
  const total = sizeOf(g.outShape);
  for (let o = 0; o < total; o++) {
    unravelIndex(o, g.outShape, outIndex);
    const n = outIndex[dn.outSpec[0]!]!;
    const feature = outIndex[dn.outSpec[1]!]!;
    const featureGroup = Math.floor(feature / outFeaturesPerFeatureGroup);
    const batchGroup = Math.floor(feature / outFeaturesPerBatchGroup);
    const lhsBatch = batchGroup * batchPerGroup + n;
    acc.reset();
    tap.fill(0);
    do {
      let lhsOffset = lhsBatch * ls[dn.lhsSpec[0]!]!;
      let rhsOffset = feature * rs[dn.rhsSpec[0]!]!;
      let inBounds = true;
      for (let s = 0; s < nSpatial; s++) {
        const x = windowInputIndex(outIndex[dn.outSpec[2 + s]!]!, tap[s]!, inSpatial[s]!, window[s]!);
        if (x < 0) {
          inBounds = false;
          break;
        }
        lhsOffset += x * ls[dn.lhsSpec[2 + s]!]!;
        rhsOffset += tap[s]! * rs[dn.rhsSpec[2 + s]!]!;
      }
      if (!inBounds) continue;
      for (let ci = 0; ci < g.kernelInFeatures; ci++) {
        const c = featureGroup * g.kernelInFeatures + ci;
        acc.add(a[lhsOffset + c * ls[dn.lhsSpec[1]!]!]!, b[rhsOffset + ci * rs[dn.rhsSpec[1]!]!]!);
      }
    } while (nextIndex(tap, kernelSpatial));
    acc.store(out, o);
  }
}

export const CONTRACTION_PRIMS: PrimitiveDefs<ContractionName> = {
  dot_general: { name: 'dot_general', shape: dotShape, reference: dotReference },
  conv_general_dilated: { name: 'conv_general_dilated', shape: convShape, reference: convReference },
};

