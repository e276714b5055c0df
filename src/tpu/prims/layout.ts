/**
 * Layout primitives: iota, broadcast_in_dim, reshape, transpose, slice, dynamic_slice,
 * dynamic_update_slice, pad, concatenate, rev. Semantics follow jax.lax / XLA.
 *
 * These move elements without arithmetic, so the kernels copy raw element bits (bf16 bits
 * and NaN payloads pass through untouched).
 */
import { writeElement } from '../dtype.js';
import { type PrimitiveDef, type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView, sizeOf, stridesOf } from '../tensor.js';
import {
  clamp,
  expectArity,
  expectDims,
  expectDType,
  expectShapeParam,
  forEachIndex,
  isNonNegInt,
  isScalar,
  offsetOf,
} from './util.js';

type LayoutName =
  | 'iota'
  | 'broadcast_in_dim'
  | 'reshape'
  | 'transpose'
  | 'slice'
  | 'dynamic_slice'
  | 'dynamic_update_slice'
  | 'pad'
  | 'concatenate'
  | 'rev';

function expectRankParam(op: string, inputs: readonly AbstractValue[], param: readonly unknown[], rank: number, what: string): void {
  if (!Array.isArray(param) || param.length !== rank) {
    throw new ShapeError(op, inputs, `${what} has ${Array.isArray(param) ? param.length : 'no'} entries for rank ${rank}`);
  }
}

const iota: PrimitiveDef<'iota'> = {
  name: 'iota',
  shape(inputs, { dtype, shape, dimension }) {
    expectArity('iota', inputs, 0);
    expectShapeParam('iota', inputs, shape, 'shape');
    if (dtype !== 'f32' && dtype !== 'bf16' && dtype !== 'i32') {
      throw new ShapeError('iota', inputs, `dtype ${String(dtype)} not supported; expected one of f32, bf16, i32`);
    }
    if (!isNonNegInt(dimension) || dimension >= shape.length) {
      throw new ShapeError('iota', inputs, `dimension ${dimension} out of range for shape [${shape.join(',')}]`);
    }
    return [{ shape: [...shape], dtype }];
  },
  reference(_inputs, outputs, { dimension }) {
    const out = outputs[0]!;
    forEachIndex(out.shape, (index, flat) => writeElement(out.dtype, out.data, flat, index[dimension]!));
  },
};

const broadcast_in_dim: PrimitiveDef<'broadcast_in_dim'> = {
  name: 'broadcast_in_dim',
  shape(inputs, { shape, broadcastDimensions }) {
    expectArity('broadcast_in_dim', inputs, 1);
    const x = inputs[0]!;
    expectShapeParam('broadcast_in_dim', inputs, shape, 'shape');
    expectRankParam('broadcast_in_dim', inputs, broadcastDimensions, x.shape.length, 'broadcastDimensions');
    expectDims('broadcast_in_dim', inputs, broadcastDimensions, shape.length, 'broadcastDimensions');
    for (let i = 0; i < x.shape.length; i++) {
      const d = broadcastDimensions[i]!;
      if (i > 0 && d <= broadcastDimensions[i - 1]!) {
        throw new ShapeError('broadcast_in_dim', inputs, `broadcastDimensions [${broadcastDimensions.join(',')}] must be strictly increasing`);
      }
      if (x.shape[i] !== 1 && x.shape[i] !== shape[d]) {
        throw new ShapeError(
          'broadcast_in_dim',
          inputs,
          `operand dim ${i} (size ${x.shape[i]}) cannot broadcast to output dim ${d} (size ${shape[d]}) of [${shape.join(',')}]`,
        );
      }
    }
    return [{ shape: [...shape], dtype: x.dtype }];
  },
  reference(inputs, outputs, { broadcastDimensions }) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    const xStrides = stridesOf(x.shape);
    forEachIndex(out.shape, (index, flat) => {
      let src = 0;
      for (let i = 0; i < x.shape.length; i++) {
        if (x.shape[i] !== 1) src += index[broadcastDimensions[i]!]! * xStrides[i]!;
      }
      out.data[flat] = x.data[src]!;
    });
  },
};

const reshape: PrimitiveDef<'reshape'> = {
  name: 'reshape',
  shape(inputs, { newSizes }) {
    expectArity('reshape', inputs, 1);
    const x = inputs[0]!;
    expectShapeParam('reshape', inputs, newSizes, 'newSizes');
    if (sizeOf(newSizes) !== sizeOf(x.shape)) {
      throw new ShapeError('reshape', inputs, `cannot reshape ${sizeOf(x.shape)} elements to [${newSizes.join(',')}]`);
    }
    return [{ shape: [...newSizes], dtype: x.dtype }];
  },
  reference(inputs, outputs) {
    outputs[0]!.data.set(inputs[0]!.data as never);
  },
};

const transpose: PrimitiveDef<'transpose'> = {
  name: 'transpose',
  shape(inputs, { permutation }) {
    expectArity('transpose', inputs, 1);
    const x = inputs[0]!;
    expectRankParam('transpose', inputs, permutation, x.shape.length, 'permutation');
    expectDims('transpose', inputs, permutation, x.shape.length, 'permutation');
    return [{ shape: permutation.map((p) => x.shape[p]!), dtype: x.dtype }];
  },
  reference(inputs, outputs, { permutation }) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    const xStrides = stridesOf(x.shape);
    // Output dim i walks input dim permutation[i].
    const srcStrides = permutation.map((p) => xStrides[p]!);
    forEachIndex(out.shape, (index, flat) => {
      out.data[flat] = x.data[offsetOf(index, srcStrides)]!;
    });
  },
};

function sliceStrides(rank: number, strides: readonly number[] | undefined): readonly number[] {
  return strides ?? new Array<number>(rank).fill(1);
}

const slice: PrimitiveDef<'slice'> = {
  name: 'slice',
  shape(inputs, { startIndices, limitIndices, strides }) {
    expectArity('slice', inputs, 1);
    const x = inputs[0]!;
    const rank = x.shape.length;
    expectRankParam('slice', inputs, startIndices, rank, 'startIndices');
    expectRankParam('slice', inputs, limitIndices, rank, 'limitIndices');
    if (strides !== undefined) expectRankParam('slice', inputs, strides, rank, 'strides');
    const st = sliceStrides(rank, strides);
    const shape: number[] = [];
    for (let d = 0; d < rank; d++) {
      const [start, limit, stride] = [startIndices[d]!, limitIndices[d]!, st[d]!];
      if (!isNonNegInt(start) || !Number.isInteger(limit) || start > limit || limit > x.shape[d]!) {
        throw new ShapeError(
          'slice',
          inputs,
          `dim ${d}: need 0 <= start (${start}) <= limit (${limit}) <= size (${x.shape[d]})`,
        );
      }
      if (!Number.isInteger(stride) || stride < 1) {
        throw new ShapeError('slice', inputs, `dim ${d}: stride ${stride} must be a positive integer`);
      }
      shape.push(Math.ceil((limit - start) / stride));
    }
    return [{ shape, dtype: x.dtype }];
  },
  reference(inputs, outputs, { startIndices, strides }) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    const st = sliceStrides(x.shape.length, strides);
    const xStrides = stridesOf(x.shape);
    const base = offsetOf(startIndices, xStrides);
    const step = xStrides.map((s, d) => s * st[d]!);
    forEachIndex(out.shape, (index, flat) => {
      out.data[flat] = x.data[base + offsetOf(index, step)]!;
    });
  },
};

/** Checks that inputs[first..] are rank i32 scalars (the dynamic start indices). */
function expectStartScalars(op: string, inputs: readonly AbstractValue[], first: number, rank: number): void {
  if (inputs.length !== first + rank) {
    throw new ShapeError(op, inputs, `expected ${rank} start indices for a rank-${rank} operand, got ${inputs.length - first}`);
  }
  for (let i = first; i < inputs.length; i++) {
    const s = inputs[i]!;
    if (!isScalar(s)) throw new ShapeError(op, inputs, `start index ${i - first} must be a scalar`);
    expectDType(op, inputs, s, ['i32'], `start index ${i - first}`);
  }
}

/** The start indices clamped into [0, dim - size], as XLA's DynamicSlice/DynamicUpdateSlice do. */
function clampedStarts(inputs: readonly TensorView[], first: number, dims: readonly number[], sizes: readonly number[]): number[] {
  return dims.map((dim, d) => clamp(inputs[first + d]!.data[0]!, 0, dim - sizes[d]!));
}

const dynamic_slice: PrimitiveDef<'dynamic_slice'> = {
  name: 'dynamic_slice',
  shape(inputs, { sliceSizes }) {
    if (inputs.length < 1) throw new ShapeError('dynamic_slice', inputs, 'expected an operand and start indices');
    const x = inputs[0]!;
    expectStartScalars('dynamic_slice', inputs, 1, x.shape.length);
    expectRankParam('dynamic_slice', inputs, sliceSizes, x.shape.length, 'sliceSizes');
    sliceSizes.forEach((s, d) => {
      if (!isNonNegInt(s) || s > x.shape[d]!) {
        throw new ShapeError('dynamic_slice', inputs, `sliceSizes [${sliceSizes.join(',')}] exceed the operand at dim ${d}`);
      }
    });
    return [{ shape: [...sliceSizes], dtype: x.dtype }];
  },
  reference(inputs, outputs, { sliceSizes }) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    const xStrides = stridesOf(x.shape);
    const base = offsetOf(clampedStarts(inputs, 1, x.shape, sliceSizes), xStrides);
    forEachIndex(out.shape, (index, flat) => {
      out.data[flat] = x.data[base + offsetOf(index, xStrides)]!;
    });
  },
};

const dynamic_update_slice: PrimitiveDef<'dynamic_update_slice'> = {
  name: 'dynamic_update_slice',
  shape(inputs) {
    if (inputs.length < 2) throw new ShapeError('dynamic_update_slice', inputs, 'expected an operand, an update and start indices');
    const [x, update] = [inputs[0]!, inputs[1]!];
    if (update.dtype !== x.dtype) {
      throw new ShapeError('dynamic_update_slice', inputs, `update dtype ${update.dtype} differs from operand dtype ${x.dtype}`);
    }
    if (update.shape.length !== x.shape.length || update.shape.some((s, d) => s > x.shape[d]!)) {
      throw new ShapeError('dynamic_update_slice', inputs, 'update must have the operand rank and fit inside it');
    }
    expectStartScalars('dynamic_update_slice', inputs, 2, x.shape.length);
    return [{ shape: [...x.shape], dtype: x.dtype }];
  },
  reference(inputs, outputs) {
    const [x, update] = [inputs[0]!, inputs[1]!];
    const out = outputs[0]!;
    out.data.set(x.data as never);
    const strides = stridesOf(x.shape);
    const base = offsetOf(clampedStarts(inputs, 2, x.shape, update.shape), strides);
    forEachIndex(update.shape, (index, flat) => {
      out.data[base + offsetOf(index, strides)] = update.data[flat]!;
    });
  },
};

const pad: PrimitiveDef<'pad'> = {
  name: 'pad',
  shape(inputs, { paddingConfig }) {
    expectArity('pad', inputs, 2);
    const [x, value] = [inputs[0]!, inputs[1]!];
    if (!isScalar(value) || value.dtype !== x.dtype) {
      throw new ShapeError('pad', inputs, "padding value must be a scalar of the operand's dtype");
    }
    expectRankParam('pad', inputs, paddingConfig, x.shape.length, 'paddingConfig');
    const shape = paddingConfig.map(([low, high, interior], d) => {
      if (!Number.isInteger(low) || !Number.isInteger(high) || !isNonNegInt(interior)) {
        throw new ShapeError('pad', inputs, `dim ${d}: padding (${low}, ${high}, ${interior}) needs integers and interior >= 0`);
      }
      const n = x.shape[d]!;
      const size = low + high + n + Math.max(0, n - 1) * interior;
      if (size < 0) throw new ShapeError('pad', inputs, `dim ${d}: size after padding is ${size}, below 0`);
      return size;
    });
    return [{ shape, dtype: x.dtype }];
  },
  reference(inputs, outputs, { paddingConfig }) {
    const [x, value] = [inputs[0]!, inputs[1]!];
    const out = outputs[0]!;
    out.data.fill(value.data[0]!);
    const outStrides = stridesOf(out.shape);
    const rank = x.shape.length;
    // Operand element i lands at low + i * (interior + 1) in each dim; negative padding crops.
    forEachIndex(x.shape, (index, flat) => {
      let dst = 0;
      for (let d = 0; d < rank; d++) {
        const [low, , interior] = paddingConfig[d]!;
        const pos = low + index[d]! * (interior + 1);
        if (pos < 0 || pos >= out.shape[d]!) return;
        dst += pos * outStrides[d]!;
      }
      out.data[dst] = x.data[flat]!;
    });
  },
};

const concatenate: PrimitiveDef<'concatenate'> = {
  name: 'concatenate',
  shape(inputs, { dimension }) {
    if (inputs.length < 1) throw new ShapeError('concatenate', inputs, 'expected at least one operand');
    const first = inputs[0]!;
    const rank = first.shape.length;
    if (!isNonNegInt(dimension) || dimension >= rank) {
      throw new ShapeError('concatenate', inputs, `dimension ${dimension} out of range for rank ${rank}`);
    }
    let total = 0;
    for (const x of inputs) {
      if (x.dtype !== first.dtype) throw new ShapeError('concatenate', inputs, 'operands must have one dtype');
      if (x.shape.length !== rank || x.shape.some((s, d) => d !== dimension && s !== first.shape[d])) {
        throw new ShapeError('concatenate', inputs, `operands must match in every dim but ${dimension}`);
      }
      total += x.shape[dimension]!;
    }
    const shape = [...first.shape];
    shape[dimension] = total;
    return [{ shape, dtype: first.dtype }];
  },
  reference(inputs, outputs, { dimension }) {
    const out = outputs[0]!;
    const outStrides = stridesOf(out.shape);
    let offset = 0;
    for (const x of inputs) {
      const base = offset * outStrides[dimension]!;
      forEachIndex(x.shape, (index, flat) => {
        out.data[base + offsetOf(index, outStrides)] = x.data[flat]!;
      });
      offset += x.shape[dimension]!;
    }
  },
};

const rev: PrimitiveDef<'rev'> = {
  name: 'rev',
  shape(inputs, { dimensions }) {
    expectArity('rev', inputs, 1);
    const x = inputs[0]!;
    expectDims('rev', inputs, dimensions, x.shape.length, 'dimensions');
    return [{ shape: [...x.shape], dtype: x.dtype }];
  },
  reference(inputs, outputs, { dimensions }) {
    const x = inputs[0]!;
    const out = outputs[0]!;
    const strides = stridesOf(x.shape);
    const reversed = x.shape.map((_, d) => dimensions.includes(d));
    forEachIndex(x.shape, (index, flat) => {
      let dst = 0;
      for (let d = 0; d < index.length; d++) {
        dst += (reversed[d] ? x.shape[d]! - 1 - index[d]! : index[d]!) * strides[d]!;
      }
      out.data[dst] = x.data[flat]!;
    });
  },
};

export const LAYOUT_PRIMS: PrimitiveDefs<LayoutName> = {
  iota,
  broadcast_in_dim,
  reshape,
  transpose,
  slice,
  dynamic_slice,
  dynamic_update_slice,
  pad,
  concatenate,
  rev,
};
