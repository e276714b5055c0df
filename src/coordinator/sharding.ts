/**
 * Where each core's piece of a sharded array lies: JAX's PartitionSpec over a DeviceMesh.
 *
 * `spec[d]` names the mesh axis (or axes, major first) that tensor dim d is split over;
 * null or a missing entry leaves the dim whole. A core's block index along dim d is its
 * row-major mesh coordinate over those axes, as jax.sharding.NamedSharding lays shards out.
 * Mesh axes the spec does not use replicate the array: every core along them holds the
 * same block. Dims must divide evenly (uneven shards are GSPMD's padding, layer 4).
 */
import { type DeviceMesh, meshCoords } from '../collectives/mesh.js';
import { itemsize } from '../tpu/dtype.js';
import { type TensorView, sizeOf } from '../tpu/tensor.js';

export type PartitionSpec = readonly (string | readonly string[] | null)[];

export class ShardingError extends Error {
  override name = 'ShardingError';
}

/** A core's block: element start and extent per dim. */
export interface Block {
  readonly start: readonly number[];
  readonly shape: readonly number[];
}

/** The mesh axes of each dim, after checking the spec against the mesh and shape. */
export function specAxes(spec: PartitionSpec, mesh: DeviceMesh, shape: readonly number[]): string[][] {
  if (spec.length > shape.length) {
    throw new ShardingError(`PartitionSpec(${formatSpec(spec)}) has ${spec.length} entries for a rank-${shape.length} array`);
  }
  const seen = new Set<string>();
  return shape.map((dim, d) => {
    const e = spec[d] ?? null;
    const axes = e === null ? [] : typeof e === 'string' ? [e] : [...e];
    let parts = 1;
    for (const a of axes) {
      const i = mesh.axisNames.indexOf(a);
      if (i < 0) throw new ShardingError(`PartitionSpec(${formatSpec(spec)}): unknown mesh axis '${a}'; the mesh has (${mesh.axisNames.join(', ')})`);
      if (seen.has(a)) throw new ShardingError(`PartitionSpec(${formatSpec(spec)}): mesh axis '${a}' is used twice`);
      seen.add(a);
      parts *= mesh.shape[i]!;
    }
    if (dim % parts !== 0) {
      throw new ShardingError(`PartitionSpec(${formatSpec(spec)}): dim ${d} of size ${dim} does not divide into ${parts} shards over (${axes.join(', ')})`);
    }
    return axes;
  });
}

export function formatSpec(spec: PartitionSpec): string {
  return spec.map((e) => (e === null ? 'None' : typeof e === 'string' ? `'${e}'` : `(${e.map((a) => `'${a}'`).join(', ')})`)).join(', ');
}

/** The local (per-core) shape of an array of `shape` sharded by `spec`. */
export function localShape(spec: PartitionSpec, mesh: DeviceMesh, shape: readonly number[]): number[] {
  const axes = specAxes(spec, mesh, shape);
  return shape.map((dim, d) => dim / axes[d]!.reduce((p, a) => p * mesh.shape[mesh.axisNames.indexOf(a)]!, 1));
}

/** The global shape whose shards are `local` under `spec`. */
export function globalShape(spec: PartitionSpec, mesh: DeviceMesh, local: readonly number[]): number[] {
  const shape = local.map((dim, d) => {
    const e = spec[d] ?? null;
    const axes = e === null ? [] : typeof e === 'string' ? [e] : e;
    return dim * axes.reduce((p, a) => {
      const i = mesh.axisNames.indexOf(a);
      if (i < 0) throw new ShardingError(`PartitionSpec(${formatSpec(spec)}): unknown mesh axis '${a}'`);
      return p * mesh.shape[i]!;
    }, 1);
  });
  specAxes(spec, mesh, shape);
  return shape;
}

/** The block of `coreId`. */
export function blockOf(spec: PartitionSpec, mesh: DeviceMesh, shape: readonly number[], coreId: number): Block {
  const axes = specAxes(spec, mesh, shape);
  const coords = meshCoords(mesh, coreId);
  const start: number[] = [];
  const local: number[] = [];
  shape.forEach((dim, d) => {
    let index = 0;
    let parts = 1;
    for (const a of axes[d]!) {
      const i = mesh.axisNames.indexOf(a);
      index = index * mesh.shape[i]! + coords[i]!;
      parts *= mesh.shape[i]!;
    }
    const ext = dim / parts;
    start.push(index * ext);
    local.push(ext);
  });
  return { start, shape: local };
}

/** Calls f(srcOffset, dstOffset, count) for each contiguous row of `block` within `shape` (element offsets; dst is the block's own row-major layout). */
function forEachRow(shape: readonly number[], block: Block, f: (global: number, local: number, count: number) => void): void {
  const r = shape.length;
  if (r === 0) {
    f(0, 0, 1);
    return;
  }
  const rowLen = block.shape[r - 1]!;
  const rows = sizeOf(block.shape) / (rowLen || 1);
  if (rowLen === 0 || sizeOf(block.shape) === 0) return;
  const strides = new Array<number>(r);
  strides[r - 1] = 1;
  for (let d = r - 2; d >= 0; d--) strides[d] = strides[d + 1]! * shape[d + 1]!;
  const idx = new Array<number>(r - 1).fill(0);
  for (let row = 0; row < rows; row++) {
    let g = block.start[r - 1]!;
    for (let d = 0; d < r - 1; d++) g += (block.start[d]! + idx[d]!) * strides[d]!;
    f(g, row * rowLen, rowLen);
    for (let d = r - 2; d >= 0; d--) {
      if (++idx[d]! < block.shape[d]!) break;
      idx[d] = 0;
    }
  }
}

/** Copies `block` of host tensor `src` into `dst` (the block's elements, row-major). */
export function extractBlock(src: TensorView, block: Block, dst: TensorView['data']): void {
  forEachRow(src.shape, block, (g, l, n) => dst.set(src.data.subarray(g, g + n), l));
}

/** Copies `src` (a block's elements, row-major) into `block` of host tensor `dst`. */
export function insertBlock(dst: TensorView, block: Block, src: TensorView['data']): void {
  forEachRow(dst.shape, block, (g, l, n) => dst.data.set(src.subarray(l, l + n), g));
}

/** Bytes of one shard. */
export function shardBytes(spec: PartitionSpec, mesh: DeviceMesh, value: { dtype: TensorView['dtype']; shape: readonly number[] }): number {
  return sizeOf(localShape(spec, mesh, value.shape)) * itemsize(value.dtype);
}
