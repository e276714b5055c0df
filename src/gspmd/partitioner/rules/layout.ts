/**
 * Layout ops: iota, broadcast, reshape, transpose and the slicing family. Dims an op
 * rearranges within themselves (a slice's sliced dim, a pad's padded dim, a
 * concatenation's dim) are made whole on every core; every other dim passes its
 * sharding through, so the op runs on local tiles without communication.
 */
import { specSharded } from '../builder.js';
import { reshardToSpec } from '../reshard.js';
import { type DimAxes, axesSize, tileShapeOf } from '../spec.js';
import { dimsWhere, dimwise } from './common.js';
import type { PartitionRule, PartitionRules } from './types.js';

const iotaRule: PartitionRule<'iota'> = (b, eq, _operands, outSpecs) => {
  const p = eq.params;
  const spec = outSpecs[0]!;
  const localShape = tileShapeOf(b.mesh, p.shape, spec);
  const axes = spec[p.dimension]!;
  if (axes.length === 0) return [specSharded(b.prim1('iota', [], { ...p, shape: localShape }), eq.outputs[0]!.aval, spec)];
  // Count in i32 and convert once, so every element rounds as the whole iota's would.
  const local = b.prim1('iota', [], { dtype: 'i32', shape: localShape, dimension: p.dimension });
  const shifted = b.prim1('add', [local, b.broadcastScalar(b.tileOffset(p.shape[p.dimension]!, axes), localShape)], {});
  return [specSharded(b.convert(shifted, p.dtype), eq.outputs[0]!.aval, spec)];
};

const broadcastInDimRule: PartitionRule<'broadcast_in_dim'> = (b, eq, operands, outSpecs) => {
  const p = eq.params;
  const out = outSpecs[0]!;
  const x = operands[0]!;
  // A broadcast (size-1) operand dim stays whole; a kept dim takes the output dim's axes.
  const xSpec = x.global.shape.map((n, i) => (n === p.shape[p.broadcastDimensions[i]!] ? out[p.broadcastDimensions[i]!]! : []));
  const local = reshardToSpec(b, x, xSpec).atom;
  const y = b.prim1('broadcast_in_dim', [local], { ...p, shape: tileShapeOf(b.mesh, p.shape, out) });
  return [specSharded(y, eq.outputs[0]!.aval, out)];
};

const transposeRule: PartitionRule<'transpose'> = (b, eq, operands, outSpecs) => {
  const perm = eq.params.permutation;
  const out = outSpecs[0]!;
  const xSpec: DimAxes = perm.map((_, i) => out[perm.indexOf(i)]!);
  const local = reshardToSpec(b, operands[0]!, xSpec).atom;
  return [specSharded(b.prim1('transpose', [local], eq.params), eq.outputs[0]!.aval, out)];
};

/** Groups of consecutive input and output dims with equal products (the reshape's dim correspondence). */
function reshapeGroups(from: readonly number[], to: readonly number[]): { in: number[]; out: number[] }[] {
  if (from.includes(0) || to.includes(0)) return [{ in: from.map((_, i) => i), out: to.map((_, i) => i) }];
  const groups: { in: number[]; out: number[] }[] = [];
  let i = 0;
  let o = 0;
  while (i < from.length || o < to.length) {
    const g = { in: [] as number[], out: [] as number[] };
    let pi = 1;
    let po = 1;
    if (i < from.length) pi *= from[(g.in.push(i), i++)]!;
    if (o < to.length) po *= to[(g.out.push(o), o++)]!;
    while (pi !== po) {
      if ((pi < po && i < from.length) || o >= to.length) pi *= from[(g.in.push(i), i++)]!;
      else po *= to[(g.out.push(o), o++)]!;
    }
    groups.push(g);
  }
  return groups;
}

/**
 * Reshape keeps an output dim's sharding when it maps onto one input dim of the same size,
 * or when it is the major dim of a split or merge and the tile count divides both major
 * dims (then a core's tile of the input is its tile of the output). Other sharded output
 * dims are computed whole and sliced after.
 */
const reshapeRule: PartitionRule<'reshape'> = (b, eq, operands, outSpecs) => {
  const x = operands[0]!;
  const inShape = x.global.shape;
  const outShape = eq.params.newSizes;
  const want = outSpecs[0]!;
  const inSpec: string[][] = inShape.map(() => []);
  const outSpec: string[][] = outShape.map(() => []);
  for (const g of reshapeGroups(inShape, outShape)) {
    for (const o of g.out) {
      const axes = want[o]!;
      if (axes.length === 0) continue;
      const t = axesSize(b.mesh, axes);
      const firstIn = g.in.find((i) => inShape[i] !== 1);
      const firstOut = g.out.find((j) => outShape[j] !== 1);
      if (firstIn === undefined || o !== firstOut) continue;
      const oneToOne = g.in.filter((i) => inShape[i] !== 1).length === 1 && g.out.filter((j) => outShape[j] !== 1).length === 1;
      if (oneToOne || (inShape[firstIn]! % t === 0 && outShape[o]! % t === 0)) {
        inSpec[firstIn] = [...axes];
        outSpec[o] = [...axes];
      }
    }
  }
  const local = reshardToSpec(b, x, inSpec).atom;
  const y = b.prim1('reshape', [local], { newSizes: tileShapeOf(b.mesh, outShape, outSpec) });
  return [specSharded(y, eq.outputs[0]!.aval, outSpec)];
};

const sliceRule: PartitionRule<'slice'> = (b, eq, operands, outSpecs) => {
  const p = eq.params;
  const n = operands[0]!.global.shape;
  const blocked = dimsWhere(n.length, (d) => p.startIndices[d] !== 0 || p.limitIndices[d] !== n[d] || (p.strides?.[d] ?? 1) !== 1);
  return dimwise(b, eq, operands, outSpecs[0]!, blocked, (localShape) => ({
    startIndices: p.startIndices.map((s, d) => (blocked.has(d) ? s : 0)),
    limitIndices: p.limitIndices.map((l, d) => (blocked.has(d) ? l : localShape[d]!)),
    ...(p.strides ? { strides: p.strides } : {}),
  }));
};

const dynamicSliceRule: PartitionRule<'dynamic_slice'> = (b, eq, operands, outSpecs) => {
  const sizes = eq.params.sliceSizes;
  const n = operands[0]!.global.shape;
  const blocked = dimsWhere(n.length, (d) => sizes[d] !== n[d]);
  return dimwise(b, eq, operands, outSpecs[0]!, blocked, (localShape) => ({ sliceSizes: sizes.map((s, d) => (blocked.has(d) ? s : localShape[d]!)) }));
};

const dynamicUpdateSliceRule: PartitionRule<'dynamic_update_slice'> = (b, eq, operands, outSpecs) => {
  const n = operands[0]!.global.shape;
  const u = operands[1]!.global.shape;
  const blocked = dimsWhere(n.length, (d) => u[d] !== n[d]);
  return dimwise(b, eq, operands, outSpecs[0]!, blocked, () => ({}));
};

const padRule: PartitionRule<'pad'> = (b, eq, operands, outSpecs) => {
  const cfg = eq.params.paddingConfig;
  const blocked = dimsWhere(cfg.length, (d) => cfg[d]!.some((x) => x !== 0));
  return dimwise(b, eq, operands, outSpecs[0]!, blocked, () => eq.params);
};

const concatenateRule: PartitionRule<'concatenate'> = (b, eq, operands, outSpecs) =>
  dimwise(b, eq, operands, outSpecs[0]!, new Set([eq.params.dimension]), () => eq.params);

const revRule: PartitionRule<'rev'> = (b, eq, operands, outSpecs) =>
  dimwise(b, eq, operands, outSpecs[0]!, new Set(eq.params.dimensions), () => eq.params);

export const LAYOUT_RULES: PartitionRules<
  'iota' | 'broadcast_in_dim' | 'reshape' | 'transpose' | 'slice' | 'dynamic_slice' | 'dynamic_update_slice' | 'pad' | 'concatenate' | 'rev'
> = {
  iota: iotaRule,
  broadcast_in_dim: broadcastInDimRule,
  reshape: reshapeRule,
  transpose: transposeRule,
  slice: sliceRule,
  dynamic_slice: dynamicSliceRule,
  dynamic_update_slice: dynamicUpdateSliceRule,
  pad: padRule,
  concatenate: concatenateRule,
  rev: revRule,
};
