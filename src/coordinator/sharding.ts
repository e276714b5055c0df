/**
 * Where each core's piece of a sharded array lies: JAX's PartitionSpec over a DeviceMesh.
 *
 * `spec[d]` names the mesh axis (or axes, major first) that tensor dim d is split over;
 * null or a missing entry leaves the dim whole. Mesh axes the spec does not use replicate
 * the array: every core along them holds the same block.
 *
 * There is one layout rule, the SPMD partitioner's (src/gspmd/sharding.ts): the spec is
 * NamedSharding(mesh, spec)'s HloSharding, a core's block index along dim d is its row-major
 * mesh coordinate over that dim's axes, and a dim of size n split t ways has tiles of
 * ceil(n / t) elements. Every core's shard has that padded tile shape; the last tiles of an
 * uneven dim hold fewer real elements (possibly none) and zeros past them, so arrays put
 * here are exactly what a partitioned program expects as its per-core inputs.
 */
import { type DeviceMesh } from '../collectives/mesh.js';
import { Mesh } from '../gspmd/mesh.js';
import { type HloSharding, NamedSharding, PartitionSpec as GspmdPartitionSpec, partitionSpecOf } from '../gspmd/sharding.js';
import { itemsize } from '../tpu/dtype.js';
import { type TensorView, sizeOf } from '../tpu/tensor.js';

export type PartitionSpec = readonly (string | readonly string[] | null)[];

/** A spec as the pod's API takes it: a plain PartitionSpec, or layer 4's PartitionSpec or NamedSharding. */
export type SpecLike = PartitionSpec | GspmdPartitionSpec | NamedSharding;

export class ShardingError extends Error {
  override name = 'ShardingError';
}

/** A core's block: where it starts in the global array, its real extent, and its padded (local) shape. */
export interface Block {
  readonly start: readonly number[];
  /** Elements of the global array the block holds, per dim (smaller than paddedShape in the last tiles of an uneven dim). */
  readonly shape: readonly number[];
  /** The shard's shape on the core: the tile shape, the same on every core. */
  readonly paddedShape: readonly number[];
}

/** The plain PartitionSpec of `s`; a NamedSharding must be over `mesh`'s axes and devices. */
export function toPartitionSpec(s: SpecLike, mesh: DeviceMesh): PartitionSpec {
  if (s instanceof NamedSharding) {
    const m = s.mesh;
    const same =
      m.axisNames.join(',') === mesh.axisNames.join(',') && m.shape.join(',') === mesh.shape.join(',') && m.devices.join(',') === mesh.devices.join(',');
    if (!same) throw new ShardingError(`${s.toString()} is not over the job's mesh (${mesh.axisNames.map((a, i) => `${a}=${mesh.shape[i]}`).join(', ')})`);
    return fromGspmdSpec(s.spec);
  }
  if (s instanceof GspmdPartitionSpec) return fromGspmdSpec(s);
  return s;
}

function fromGspmdSpec(s: GspmdPartitionSpec): PartitionSpec {
  return s.dims.map((d) => (d === null ? null : d.length === 1 ? d[0]! : [...d]));
}

/** The mesh axes of each dim, after checking the spec against the mesh and shape. */
export function specAxes(spec: PartitionSpec, mesh: DeviceMesh, shape: readonly number[]): string[][] {
  if (spec.length > shape.length) {
    throw new ShardingError(`PartitionSpec(${formatSpec(spec)}) has ${spec.length} entries for a rank-${shape.length} array`);
  }
  const seen = new Set<string>();
  return shape.map((_, d) => {
    const e = spec[d] ?? null;
    const axes = e === null ? [] : typeof e === 'string' ? [e] : [...e];
    for (const a of axes) {
      if (!mesh.axisNames.includes(a)) throw new ShardingError(`PartitionSpec(${formatSpec(spec)}): unknown mesh axis '${a}'; the mesh has (${mesh.axisNames.join(', ')})`);
      if (seen.has(a)) throw new ShardingError(`PartitionSpec(${formatSpec(spec)}): mesh axis '${a}' is used twice`);
      seen.add(a);
    }
    return axes;
  });
}

export function formatSpec(spec: PartitionSpec): string {
  return spec.map((e) => (e === null ? 'None' : typeof e === 'string' ? `'${e}'` : `(${e.map((a) => `'${a}'`).join(', ')})`)).join(', ');
}

// Layer 4 meshes are built per DeviceMesh once: NamedSharding caches its HloShardings per Mesh.
const meshes = new WeakMap<DeviceMesh, Mesh>();

/** The HloSharding `spec` gives a rank-`rank` array over `mesh` (JAX's NamedSharding(mesh, spec)). */
export function hloShardingOf(spec: PartitionSpec, mesh: DeviceMesh, rank: number): HloSharding {
  let m = meshes.get(mesh);
  if (!m) meshes.set(mesh, (m = Mesh.fromDeviceMesh(mesh)));
  return new NamedSharding(m, new GspmdPartitionSpec(...spec)).toHloSharding(rank);
}

/** The plain PartitionSpec over `mesh` of `sharding`, or undefined when it is no product of mesh axes. */
export function specOfHloSharding(sharding: HloSharding, mesh: DeviceMesh, rank: number): PartitionSpec | undefined {
  const s = partitionSpecOf(mesh, sharding, rank);
  if (!s) return undefined;
  // Trailing unsplit dims are dropped, as JAX prints specs.
  const spec = [...fromGspmdSpec(s)];
  while (spec.length > 0 && spec[spec.length - 1] === null) spec.pop();
  return spec;
}

/** The local (per-core, padded) shape of an array of `shape` sharded by `spec`. */
export function localShape(spec: PartitionSpec, mesh: DeviceMesh, shape: readonly number[]): number[] {
  specAxes(spec, mesh, shape);
  return hloShardingOf(spec, mesh, shape.length).tileShape(shape);
}

/** The global shape whose shards are `local` under `spec`, when the dims divide evenly (an uneven array's shape is not implied by its shards). */
export function globalShape(spec: PartitionSpec, mesh: DeviceMesh, local: readonly number[]): number[] {
  const axes = specAxes(spec, mesh, local);
  return local.map((dim, d) => dim * axes[d]!.reduce((p, a) => p * mesh.shape[mesh.axisNames.indexOf(a)]!, 1));
}

/** The block of `coreId`. */
export function blockOf(spec: PartitionSpec, mesh: DeviceMesh, shape: readonly number[], coreId: number): Block {
  specAxes(spec, mesh, shape);
  const region = hloShardingOf(spec, mesh, shape.length).shardOffset(coreId, shape);
  return { start: region.offset, shape: region.validShape, paddedShape: region.paddedShape };
}

/**
 * Calls f(globalOffset, localOffset, count) for each contiguous row of `block`'s real
 * elements within a global array of `shape` (element offsets; local is the padded shard's
 * row-major layout).
 */
function forEachRow(shape: readonly number[], block: Block, f: (global: number, local: number, count: number) => void): void {
  const r = shape.length;
  if (r === 0) {
    f(0, 0, 1);
    return;
  }
  const rowLen = block.shape[r - 1]!;
  if (rowLen === 0 || sizeOf(block.shape) === 0) return;
  const rows = sizeOf(block.shape) / rowLen;
  const strides = new Array<number>(r);
  const local = new Array<number>(r);
  strides[r - 1] = 1;
  local[r - 1] = 1;
  for (let d = r - 2; d >= 0; d--) {
    strides[d] = strides[d + 1]! * shape[d + 1]!;
    local[d] = local[d + 1]! * block.paddedShape[d + 1]!;
  }
  const idx = new Array<number>(r - 1).fill(0);
  for (let row = 0; row < rows; row++) {
    let g = block.start[r - 1]!;
    let l = 0;
    for (let d = 0; d < r - 1; d++) {
      g += (block.start[d]! + idx[d]!) * strides[d]!;
      l += idx[d]! * local[d]!;
    }
    f(g, l, rowLen);
    for (let d = r - 2; d >= 0; d--) {
      if (++idx[d]! < block.shape[d]!) break;
      idx[d] = 0;
    }
  }
}

/** Copies `block` of host tensor `src` into `dst` (a shard of the block's padded shape, row-major; zeros in the padding). */
export function extractBlock(src: TensorView, block: Block, dst: TensorView['data']): void {
  if (sizeOf(block.shape) !== sizeOf(block.paddedShape)) dst.fill(0);
  forEachRow(src.shape, block, (g, l, n) => dst.set(src.data.subarray(g, g + n), l));
}

/** Copies the real elements of `src` (a shard of the block's padded shape, row-major) into `block` of host tensor `dst`. */
export function insertBlock(dst: TensorView, block: Block, src: TensorView['data']): void {
  forEachRow(dst.shape, block, (g, l, n) => dst.data.set(src.subarray(l, l + n), g));
}

/** Bytes of one shard. */
export function shardBytes(spec: PartitionSpec, mesh: DeviceMesh, value: { dtype: TensorView['dtype']; shape: readonly number[] }): number {
  return sizeOf(localShape(spec, mesh, value.shape)) * itemsize(value.dtype);
}
