/**
 * gather (XLA's gather_scatter_handler.cc), shaped for embedding lookups:
 * - the indices' batch dims take the output's sharding of them, and operand dims gathered
 *   whole (offset dims with the full slice size) take the output's sharding of theirs: a
 *   table split on its model dim gathers locally;
 * - an indexed operand dim split over some axes (a table split on its vocabulary) keeps
 *   its split: each core clamps the ids as the whole gather would, shifts them into its own
 *   tile, gathers, zeros the rows whose ids fall outside its tile, and a psum over those
 *   axes assembles the rows (each row comes from exactly one core, so the sum is exact).
 * Operand batching dims are computed on replicated operands.
 */
import type { Atom } from '../../../program/ir.js';
import { tensorFrom } from '../../../tpu/tensor.js';
import { specSharded } from '../builder.js';
import { reshardToSpec } from '../reshard.js';
import { tileSize, usedAxes } from '../spec.js';
import { currentSpec, replicateRule } from './common.js';
import type { PartitionRule, PartitionRules } from './types.js';

const gatherRule: PartitionRule<'gather'> = (b, eq, operands, outSpecs) => {
  const p = eq.params;
  const dn = p.dimensionNumbers;
  if ((dn.operandBatchingDims?.length ?? 0) > 0) return replicateRule(b, eq, operands, outSpecs);
  const [operand, indices] = [operands[0]!, operands[1]!];
  const opShape = operand.global.shape;
  const out = outSpecs[0]!;
  const outRank = eq.outputs[0]!.aval.shape.length;
  const qRank = indices.global.shape.length;
  const batchOut = Array.from({ length: outRank }, (_, d) => d).filter((d) => !dn.offsetDims.includes(d));
  const offsetOperand = opShape.map((_, d) => d).filter((d) => !dn.collapsedSliceDims.includes(d));

  const iSpec: string[][] = indices.global.shape.map((_, k) => (k < qRank - 1 ? [...out[batchOut[k]!]!] : []));
  const opSpec: string[][] = opShape.map((n, d) => {
    const j = offsetOperand.indexOf(d);
    return j >= 0 && p.sliceSizes[d] === n ? [...out[dn.offsetDims[j]!]!] : [];
  });
  // Indexed dims gathered one row at a time may stay split (the vocabulary trick).
  const split: number[] = [];
  if (operand.global.dtype !== 'bool') {
    const taken = new Set([...usedAxes(iSpec), ...usedAxes(opSpec)]);
    const cur = currentSpec(b, operand);
    for (const d of dn.startIndexMap) {
      if (p.sliceSizes[d] !== 1 || opShape[d] === 1) continue;
      const axes = cur[d]!.filter((a) => !taken.has(a));
      if (axes.length === 0) continue;
      axes.forEach((a) => taken.add(a));
      opSpec[d] = axes;
      split.push(d);
    }
  }
  const op = reshardToSpec(b, operand, opSpec).atom;
  let idx: Atom = reshardToSpec(b, indices, iSpec).atom;
  const sliceSizes = p.sliceSizes.map((s, d) => (opSpec[d]!.length > 0 && !split.includes(d) ? tileSize(b.mesh, opShape[d]!, opSpec[d]!) : s));
  const outSpec = Array.from({ length: outRank }, (_, d) => {
    const k = batchOut.indexOf(d);
    if (k >= 0) return iSpec[k]!;
    const d0 = offsetOperand[dn.offsetDims.indexOf(d)]!;
    return split.includes(d0) ? [] : opSpec[d0]!;
  });
  if (split.length === 0) {
    return [specSharded(b.prim1('gather', [op, idx], { ...p, sliceSizes }), eq.outputs[0]!.aval, outSpec)];
  }

  const idxShape = idx.aval.shape;
  const nIdx = idxShape[qRank - 1]!;
  const vector = (values: readonly number[]): Atom =>
    b.prim1('broadcast_in_dim', [b.constant(tensorFrom('i32', [nIdx], values))], { shape: [...idxShape], broadcastDimensions: [qRank - 1] });
  // Clamp as the whole gather clamps its starts, then shift into this core's tile.
  const maxStart = dn.startIndexMap.map((d) => opShape[d]! - p.sliceSizes[d]!);
  idx = b.prim1('clamp', [vector(maxStart.map(() => 0)), idx, vector(maxStart)], {});
  const shifts = dn.startIndexMap.map((d) =>
    b.prim1('reshape', [split.includes(d) ? b.tileOffset(opShape[d]!, opSpec[d]!) : b.scalar('i32', 0)], { newSizes: [1] }),
  );
  const shiftVector = shifts.length === 1 ? shifts[0]! : b.prim1('concatenate', shifts, { dimension: 0 });
  const shift = b.prim1('broadcast_in_dim', [shiftVector], {
    shape: [...idxShape],
    broadcastDimensions: [qRank - 1],
  });
  const local = b.prim1('sub', [idx, shift], {});
  const limit = dn.startIndexMap.map((d, c) => (split.includes(d) ? tileSize(b.mesh, opShape[d]!, opSpec[d]!) : maxStart[c]! + 1));
  const inTile = b.prim1('and', [b.prim1('ge', [local, vector(limit.map(() => 0))], {}), b.prim1('lt', [local, vector(limit)], {})], {});
  const rowMask = b.prim1('reduce_and', [inTile], { axes: [qRank - 1] });
  const g = b.prim1('gather', [op, local], { ...p, sliceSizes });
  const mask = b.prim1('broadcast_in_dim', [rowMask], { shape: [...g.aval.shape], broadcastDimensions: batchOut });
  const zeros = b.broadcastScalar(b.scalar(g.aval.dtype, 0), g.aval.shape);
  const rows = b.prim1('select', [mask, g, zeros], {});
  const summed = b.collective('psum', [rows], b.axisParams(split.flatMap((d) => opSpec[d]!)));
  return [specSharded(summed, eq.outputs[0]!.aval, outSpec)];
};

export const GATHER_RULES: PartitionRules<'gather'> = { gather: gatherRule };
