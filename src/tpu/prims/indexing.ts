/**
 * gather and scatter_add with XLA's full dimension-number semantics (GatherDimensionNumbers,
 * ScatterDimensionNumbers, including the optional batching dims), index_vector_dim fixed
 * to the last dim of the indices as in ops.ts. Shape rules follow the StableHLO spec's
 * constraints for gather and scatter.
 *
 * Out-of-range starts: gather clamps each start into [0, operand dim - slice size]
 * (lax.GatherScatterMode.CLIP, what XLA's Gather does); scatter_add drops a whole update
 * window whose start is not within [0, operand dim - window size] in every dim
 * (lax.GatherScatterMode.FILL_OR_DROP, what XLA's scatter expansion does).
 *
 * The embedding lookup table[ids] (jnp.take along axis 0) is gather with indices
 * ids[..., None], offsetDims [ids.rank], collapsedSliceDims [0], startIndexMap [0],
 * sliceSizes [1, D].
 */
import { readElement, writeElement } from '../dtype.js';
import type { GatherDimensionNumbers, ScatterDimensionNumbers } from '../ops.js';
import { type PrimitiveDef, type PrimitiveDefs, ShapeError } from '../primitive.js';
import { type AbstractValue, type TensorView, stridesOf } from '../tensor.js';
import { clamp, expectArity, expectDims, expectDType, forEachIndex, isNonNegInt, offsetOf } from './util.js';

/** Shared checks of the batching dims (StableHLO gather C10-C17, scatter C7-C14). */
function checkBatchingDims(
  op: string,
  inputs: readonly AbstractValue[],
  operand: AbstractValue,
  indices: AbstractValue,
  operandBatchingDims: readonly number[],
  indicesBatchingDims: readonly number[],
  names: readonly [string, string],
): void {
  expectDims(op, inputs, operandBatchingDims, operand.shape.length, names[0], { sorted: true });
  // The index vector dim (the last one) cannot be a batching dim.
  expectDims(op, inputs, indicesBatchingDims, indices.shape.length - 1, names[1]);
  if (operandBatchingDims.length !== indicesBatchingDims.length) {
    throw new ShapeError(op, inputs, `${names[0]} and ${names[1]} must have one length`);
  }
  operandBatchingDims.forEach((d, i) => {
    if (operand.shape[d] !== indices.shape[indicesBatchingDims[i]!]) {
      throw new ShapeError(op, inputs, `batching dim ${i}: operand dim ${d} and indices dim ${indicesBatchingDims[i]} differ in size`);
    }
  });
}

function expectDisjoint(op: string, inputs: readonly AbstractValue[], a: readonly number[], b: readonly number[], what: string): void {
  if (a.some((d) => b.includes(d))) throw new ShapeError(op, inputs, `${what} must not share dims`);
}

/** Operand dims that are neither collapsed/inserted nor batching, in order: the window (offset) dims. */
function windowOperandDims(rank: number, collapsed: readonly number[], batching: readonly number[]): number[] {
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) if (!collapsed.includes(d) && !batching.includes(d)) dims.push(d);
  return dims;
}

function expectIndices(op: string, inputs: readonly AbstractValue[], indices: AbstractValue, indexVectorSize: number, mapName: string): void {
  expectDType(op, inputs, indices, ['i32'], 'indices');
  if (indices.shape.length < 1) throw new ShapeError(op, inputs, 'indices need rank >= 1 (the last dim is the index vector)');
  if (indices.shape[indices.shape.length - 1] !== indexVectorSize) {
    throw new ShapeError(op, inputs, `the last dim of indices must equal ${mapName}.length (${indexVectorSize})`);
  }
}

// ---- gather ---------------------------------------------------------------------------------------

function gatherLayout(dn: GatherDimensionNumbers, operandRank: number) {
  const operandBatchingDims = dn.operandBatchingDims ?? [];
  const startIndicesBatchingDims = dn.startIndicesBatchingDims ?? [];
  return {
    operandBatchingDims,
    startIndicesBatchingDims,
    windowDims: windowOperandDims(operandRank, dn.collapsedSliceDims, operandBatchingDims),
  };
}

const gather: PrimitiveDef<'gather'> = {
  name: 'gather',
  shape(inputs, { dimensionNumbers: dn, sliceSizes }) {
    const op = 'gather';
    expectArity(op, inputs, 2);
    const [operand, indices] = [inputs[0]!, inputs[1]!];
    const rank = operand.shape.length;
    expectIndices(op, inputs, indices, dn.startIndexMap.length, 'startIndexMap');
    const { operandBatchingDims, startIndicesBatchingDims, windowDims } = gatherLayout(dn, rank);
    const batchRank = indices.shape.length - 1;
    const outRank = batchRank + dn.offsetDims.length;
    expectDims(op, inputs, dn.offsetDims, outRank, 'offsetDims', { sorted: true });
    expectDims(op, inputs, dn.collapsedSliceDims, rank, 'collapsedSliceDims', { sorted: true });
    checkBatchingDims(op, inputs, operand, indices, operandBatchingDims, startIndicesBatchingDims, [
      'operandBatchingDims',
      'startIndicesBatchingDims',
    ]);
    expectDisjoint(op, inputs, dn.collapsedSliceDims, operandBatchingDims, 'collapsedSliceDims and operandBatchingDims');
    expectDims(op, inputs, dn.startIndexMap, rank, 'startIndexMap');
    expectDisjoint(op, inputs, dn.startIndexMap, operandBatchingDims, 'startIndexMap and operandBatchingDims');
    if (dn.offsetDims.length !== windowDims.length) {
      throw new ShapeError(
        op,
        inputs,
        `offsetDims has ${dn.offsetDims.length} dims; operand rank ${rank} minus collapsed and batching dims leaves ${windowDims.length}`,
      );
    }
    if (!Array.isArray(sliceSizes) || sliceSizes.length !== rank) {
      throw new ShapeError(op, inputs, `sliceSizes [${String(sliceSizes)}] must have one entry per operand dim (${rank})`);
    }
    sliceSizes.forEach((s, d) => {
      if (!isNonNegInt(s) || s > operand.shape[d]!) {
        throw new ShapeError(op, inputs, `sliceSizes [${sliceSizes.join(',')}] must be within the operand at dim ${d}`);
      }
      // StableHLO allows size 0 here too (an empty gather); we require 1, the only useful case.
      if ((dn.collapsedSliceDims.includes(d) || operandBatchingDims.includes(d)) && s !== 1) {
        throw new ShapeError(op, inputs, `sliceSizes[${d}] must be 1: dim ${d} is collapsed or batching`);
      }
    });
    // Output: offset dims at offsetDims (sized by the window), batch dims (indices' dims
    // but the last) fill the remaining positions in order.
    const shape: number[] = [];
    let batch = 0;
    let window = 0;
    for (let i = 0; i < outRank; i++) {
      shape.push(dn.offsetDims.includes(i) ? sliceSizes[windowDims[window++]!]! : indices.shape[batch++]!);
    }
    return [{ shape, dtype: operand.dtype }];
  },
  reference(inputs, outputs, { dimensionNumbers: dn, sliceSizes }) {
    const [operand, indices] = [inputs[0]!, inputs[1]!];
    const out = outputs[0]!;
    const rank = operand.shape.length;
    const { operandBatchingDims, startIndicesBatchingDims, windowDims } = gatherLayout(dn, rank);
    const operandStrides = stridesOf(operand.shape);
    const indexStrides = stridesOf(indices.shape);
    const batchOutDims = out.shape.map((_, i) => i).filter((i) => !dn.offsetDims.includes(i));
    const batch = new Array<number>(batchOutDims.length);
    const start = new Array<number>(rank);
    forEachIndex(out.shape, (outIndex, flat) => {
      for (let b = 0; b < batchOutDims.length; b++) batch[b] = outIndex[batchOutDims[b]!]!;
      // The batch index addresses indices[batch..., :] (index vector dim is last, so batch
      // position b is indices dim b).
      const vector = offsetOf(batch, indexStrides);
      start.fill(0);
      dn.startIndexMap.forEach((d, k) => {
        start[d] = clamp(indices.data[vector + k]!, 0, operand.shape[d]! - sliceSizes[d]!);
      });
      operandBatchingDims.forEach((d, i) => {
        start[d] = batch[startIndicesBatchingDims[i]!]!;
      });
      windowDims.forEach((d, k) => {
        start[d] = start[d]! + outIndex[dn.offsetDims[k]!]!;
      });
      out.data[flat] = operand.data[offsetOf(start, operandStrides)]!;
    });
  },
};

// ---- scatter_add --------------------------------------------------------------------------------

function scatterLayout(dn: ScatterDimensionNumbers, operandRank: number, updatesRank: number) {
  const operandBatchingDims = dn.operandBatchingDims ?? [];
  const scatterIndicesBatchingDims = dn.scatterIndicesBatchingDims ?? [];
  const updateScatterDims: number[] = [];
  for (let d = 0; d < updatesRank; d++) if (!dn.updateWindowDims.includes(d)) updateScatterDims.push(d);
  return {
    operandBatchingDims,
    scatterIndicesBatchingDims,
    updateScatterDims,
    windowDims: windowOperandDims(operandRank, dn.insertedWindowDims, operandBatchingDims),
  };
}

const scatter_add: PrimitiveDef<'scatter_add'> = {
  name: 'scatter_add',
  shape(inputs, { dimensionNumbers: dn }) {
    const op = 'scatter_add';
    expectArity(op, inputs, 3);
    const [operand, indices, updates] = [inputs[0]!, inputs[1]!, inputs[2]!];
    const rank = operand.shape.length;
    expectDType(op, inputs, operand, ['f32', 'bf16', 'i32']);
    if (updates.dtype !== operand.dtype) {
      throw new ShapeError(op, inputs, `updates dtype ${updates.dtype} differs from operand dtype ${operand.dtype}`);
    }
    expectIndices(op, inputs, indices, dn.scatterDimsToOperandDims.length, 'scatterDimsToOperandDims');
    const { operandBatchingDims, scatterIndicesBatchingDims, updateScatterDims, windowDims } = scatterLayout(
      dn,
      rank,
      updates.shape.length,
    );
    const batchRank = indices.shape.length - 1;
    if (updates.shape.length !== dn.updateWindowDims.length + batchRank) {
      throw new ShapeError(
        op,
        inputs,
        `updates rank must be updateWindowDims.length (${dn.updateWindowDims.length}) + indices rank - 1 (${batchRank})`,
      );
    }
    expectDims(op, inputs, dn.updateWindowDims, updates.shape.length, 'updateWindowDims', { sorted: true });
    expectDims(op, inputs, dn.insertedWindowDims, rank, 'insertedWindowDims', { sorted: true });
    checkBatchingDims(op, inputs, operand, indices, operandBatchingDims, scatterIndicesBatchingDims, [
      'operandBatchingDims',
      'scatterIndicesBatchingDims',
    ]);
    expectDisjoint(op, inputs, dn.insertedWindowDims, operandBatchingDims, 'insertedWindowDims and operandBatchingDims');
    expectDims(op, inputs, dn.scatterDimsToOperandDims, rank, 'scatterDimsToOperandDims');
    expectDisjoint(op, inputs, dn.scatterDimsToOperandDims, operandBatchingDims, 'scatterDimsToOperandDims and operandBatchingDims');
    if (windowDims.length !== dn.updateWindowDims.length) {
      throw new ShapeError(
        op,
        inputs,
        `updateWindowDims has ${dn.updateWindowDims.length} dims; operand rank ${rank} minus inserted and batching dims leaves ${windowDims.length}`,
      );
    }
    updateScatterDims.forEach((d, b) => {
      if (updates.shape[d] !== indices.shape[b]) {
        throw new ShapeError(op, inputs, `updates scatter dim ${d} must match indices dim ${b}`);
      }
    });
    dn.updateWindowDims.forEach((d, k) => {
      if (updates.shape[d]! > operand.shape[windowDims[k]!]!) {
        throw new ShapeError(op, inputs, `update window dim ${d} is larger than operand dim ${windowDims[k]}`);
      }
    });
    return [{ shape: [...operand.shape], dtype: operand.dtype }];
  },
  reference(inputs, outputs, { dimensionNumbers: dn }) {
    const [operand, indices, updates] = [inputs[0]!, inputs[1]!, inputs[2]!];
    const out: TensorView = outputs[0]!;
    const rank = operand.shape.length;
    const { operandBatchingDims, scatterIndicesBatchingDims, updateScatterDims, windowDims } = scatterLayout(
      dn,
      rank,
      updates.shape.length,
    );
    const operandStrides = stridesOf(operand.shape);
    const indexStrides = stridesOf(indices.shape);
    // Window size per operand dim: the update's extent for window dims, 1 for inserted and batching dims.
    const windowSize = new Array<number>(rank).fill(1);
    windowDims.forEach((d, k) => {
      windowSize[d] = updates.shape[dn.updateWindowDims[k]!]!;
    });
    out.data.set(operand.data as never);
    const batch = new Array<number>(updateScatterDims.length);
    const start = new Array<number>(rank);
    // Updates are added one at a time in row-major order of `updates`, each sum rounded to
    // the dtype on store (so colliding f32 updates sum sequentially).
    forEachIndex(updates.shape, (u, flat) => {
      for (let b = 0; b < updateScatterDims.length; b++) batch[b] = u[updateScatterDims[b]!]!;
      const vector = offsetOf(batch, indexStrides);
      start.fill(0);
      dn.scatterDimsToOperandDims.forEach((d, k) => {
        start[d] = indices.data[vector + k]!;
      });
      operandBatchingDims.forEach((d, i) => {
        start[d] = batch[scatterIndicesBatchingDims[i]!]!;
      });
      for (let d = 0; d < rank; d++) {
        if (start[d]! < 0 || start[d]! > operand.shape[d]! - windowSize[d]!) return; // window dropped
      }
      windowDims.forEach((d, k) => {
        start[d] = start[d]! + u[dn.updateWindowDims[k]!]!;
      });
      const dst = offsetOf(start, operandStrides);
      const sum = readElement(out.dtype, out.data, dst) + readElement(updates.dtype, updates.data, flat);
      writeElement(out.dtype, out.data, dst, out.dtype === 'i32' ? sum | 0 : sum);
    });
  },
};

export const INDEXING_PRIMS: PrimitiveDefs<'gather' | 'scatter_add'> = { gather, scatter_add };
