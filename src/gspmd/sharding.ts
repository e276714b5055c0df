/**
 * Shardings: JAX's `PartitionSpec` and `NamedSharding` at the API, XLA's `HloSharding`
 * inside (replicated, tiled, partially tiled with last_tile_dim_replicate, manual,
 * maximal), printed and parsed in XLA's text form, and GSPMD's `mesh_split`.
 *
 * Tile assignments list core ids (the mesh's device ids), as XLA lists device ids. A
 * tensor dim of size n split t ways has tiles of ceil(n / t) elements; the last tiles are
 * padded (their valid extent is smaller, possibly zero), as the SPMD partitioner pads and
 * masks uneven shapes.
 */
import type { DeviceMesh } from '../collectives/mesh.js';
import { ShardingError } from './errors.js';
import { Mesh } from './mesh.js';

export type ShardingKind = 'replicated' | 'tiled' | 'manual' | 'maximal';

/** Where one device's shard sits in the global tensor. */
export interface ShardRegion {
  /** Global index of the shard's first element, per dim. */
  readonly offset: readonly number[];
  /** The shard's padded shape: the tile shape, the same on every device. */
  readonly paddedShape: readonly number[];
  /** How much of the padded shape holds real elements (smaller for the last, uneven tiles). */
  readonly validShape: readonly number[];
}

function product(xs: readonly number[]): number {
  let p = 1;
  for (const x of xs) p *= x;
  return p;
}

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `ids` are distinct non-negative safe integers (a bitmap: shardings are built per op, over thousands of devices). */
function distinctIds(ids: readonly number[]): boolean {
  let max = -1;
  for (const d of ids) {
    if (!Number.isSafeInteger(d) || d < 0) return false;
    if (d > max) max = d;
  }
  if (max >= 16 * ids.length + 1024) return new Set(ids).size === ids.length;
  const seen = new Uint8Array(max + 1);
  for (const d of ids) {
    if (seen[d]) return false;
    seen[d] = 1;
  }
  return true;
}

function checkDevices(dims: readonly number[], devices: readonly number[]): void {
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new ShardingError(`HloSharding: tile assignment dims must be positive integers, got [${dims.join(',')}]`);
  }
  if (product(dims) !== devices.length) {
    throw new ShardingError(`HloSharding: tile assignment [${dims.join(',')}] needs ${product(dims)} devices, got ${devices.length}`);
  }
  if (!distinctIds(devices)) {
    throw new ShardingError(`HloSharding: tile assignment devices must be distinct non-negative ids, got ${devices.join(',')}`);
  }
}

export class HloSharding {
  private constructor(
    readonly kind: ShardingKind,
    /** Tiled: tiles per data dim, then (when replicateOnLastTileDim) the replication count. */
    readonly tileAssignmentDims: readonly number[],
    /** Tiled: device ids in row-major order over tileAssignmentDims. */
    readonly tileAssignmentDevices: readonly number[],
    /** Partially tiled: the last tile dim lists devices that hold the same tile. */
    readonly replicateOnLastTileDim: boolean,
    /** Maximal: the one device that holds the whole tensor. */
    readonly maximalDevice: number,
  ) {}

  private static readonly REPLICATED = new HloSharding('replicated', [], [], false, -1);
  private static readonly MANUAL = new HloSharding('manual', [], [], false, -1);

  static replicate(): HloSharding {
    return HloSharding.REPLICATED;
  }

  /** The value is already per-device: the partitioner leaves it alone (shard_map). */
  static manual(): HloSharding {
    return HloSharding.MANUAL;
  }

  static maximal(device: number): HloSharding {
    if (!Number.isSafeInteger(device) || device < 0) throw new ShardingError(`HloSharding.maximal: device must be a non-negative id, got ${device}`);
    return new HloSharding('maximal', [], [], false, device);
  }

  /** Fully tiled: `dims[i]` tiles along data dim i; `devices` row-major over dims. */
  static tile(dims: readonly number[], devices: readonly number[]): HloSharding {
    checkDevices(dims, devices);
    if (dims.every((d) => d === 1)) return HloSharding.REPLICATED;
    return new HloSharding('tiled', [...dims], [...devices], false, -1);
  }

  /**
   * Partially tiled: the last of `dims` is the replication count (XLA's
   * last_tile_dim_replicate). Normalised as XLA does: a last dim of 1 is a plain tiling,
   * and no tiled data dim at all is replicated.
   */
  static partialTile(dims: readonly number[], devices: readonly number[]): HloSharding {
    if (dims.length === 0) throw new ShardingError('HloSharding.partialTile: the replication dim is missing');
    checkDevices(dims, devices);
    const data = dims.slice(0, -1);
    if (data.every((d) => d === 1)) return HloSharding.REPLICATED;
    if (dims[dims.length - 1] === 1) return new HloSharding('tiled', data, [...devices], false, -1);
    return new HloSharding('tiled', [...dims], [...devices], true, -1);
  }

  get isReplicated(): boolean {
    return this.kind === 'replicated';
  }
  get isTiled(): boolean {
    return this.kind === 'tiled';
  }
  get isManual(): boolean {
    return this.kind === 'manual';
  }
  /** One device holds everything (replicated or maximal), as XLA's IsTileMaximal. */
  get isTileMaximal(): boolean {
    return this.kind === 'replicated' || this.kind === 'maximal';
  }

  /** Tiles per data dim (tiled only). */
  get dataTileDims(): readonly number[] {
    return this.replicateOnLastTileDim ? this.tileAssignmentDims.slice(0, -1) : this.tileAssignmentDims;
  }

  /** The rank of the tensors this sharding fits (tiled only; others fit any rank). */
  get dataRank(): number {
    return this.dataTileDims.length;
  }

  /** Number of distinct tiles (1 unless tiled), as XLA's NumTiles ignoring replication. */
  get numTiles(): number {
    return this.isTiled ? product(this.dataTileDims) : 1;
  }

  /** Devices holding each tile (1 unless partially tiled). */
  get replicationFactor(): number {
    return this.replicateOnLastTileDim ? this.tileAssignmentDims[this.tileAssignmentDims.length - 1]! : 1;
  }

  /** Position of each device id in tileAssignmentDevices (-1: absent), built on first use (tileIndex is called per device). */
  #positions: Int32Array | undefined;

  private devicePosition(device: number): number {
    if (!this.#positions) {
      const devs = this.tileAssignmentDevices;
      let max = 0;
      for (const d of devs) if (d > max) max = d;
      this.#positions = new Int32Array(max + 1).fill(-1);
      devs.forEach((d, i) => (this.#positions![d] = i));
    }
    return device >= 0 && device < this.#positions.length ? this.#positions[device]! : -1;
  }

  /** Tile index (one entry per data dim) of `device`; zeros for an untiled sharding. */
  tileIndex(device: number, rank = this.dataRank): number[] {
    if (!this.isTiled) return new Array<number>(rank).fill(0);
    const pos = this.devicePosition(device);
    if (pos < 0) throw new ShardingError(`device ${device} is not in the tile assignment of ${this.toString()}`);
    const dims = this.tileAssignmentDims;
    const idx = new Array<number>(dims.length);
    let rest = pos;
    for (let i = dims.length - 1; i >= 0; i--) {
      idx[i] = rest % dims[i]!;
      rest = Math.floor(rest / dims[i]!);
    }
    return idx.slice(0, this.dataRank);
  }

  /** The padded per-device shape of a `globalShape` tensor: ceil(n / tiles) per dim. */
  tileShape(globalShape: readonly number[]): number[] {
    this.checkRank(globalShape);
    if (!this.isTiled) return [...globalShape];
    return globalShape.map((n, i) => Math.ceil(n / this.dataTileDims[i]!));
  }

  /** Where `device`'s shard of a `globalShape` tensor sits, with its padded and valid extents. */
  shardOffset(device: number, globalShape: readonly number[]): ShardRegion {
    const paddedShape = this.tileShape(globalShape);
    if (this.kind === 'maximal' && device !== this.maximalDevice) {
      return { offset: globalShape.map(() => 0), paddedShape, validShape: globalShape.map(() => 0) };
    }
    const idx = this.tileIndex(device, globalShape.length);
    const offset = idx.map((t, i) => Math.min(t * paddedShape[i]!, globalShape[i]!));
    const validShape = offset.map((o, i) => Math.max(0, Math.min(paddedShape[i]!, globalShape[i]! - o)));
    return { offset, paddedShape, validShape };
  }

  /** Devices this sharding places data on (tiled: the tile assignment; others: none listed). */
  get devices(): readonly number[] {
    return this.kind === 'maximal' ? [this.maximalDevice] : this.tileAssignmentDevices;
  }

  equals(other: HloSharding): boolean {
    return (
      this.kind === other.kind &&
      this.replicateOnLastTileDim === other.replicateOnLastTileDim &&
      this.maximalDevice === other.maximalDevice &&
      sameNumbers(this.tileAssignmentDims, other.tileAssignmentDims) &&
      sameNumbers(this.tileAssignmentDevices, other.tileAssignmentDevices)
    );
  }

  /** XLA's text form: `{replicated}`, `{manual}`, `{maximal device=3}`, `{devices=[2,1,2]0,1,2,3 last_tile_dim_replicate}`. */
  toString(): string {
    switch (this.kind) {
      case 'replicated':
        return '{replicated}';
      case 'manual':
        return '{manual}';
      case 'maximal':
        return `{maximal device=${this.maximalDevice}}`;
      case 'tiled':
        return `{devices=[${this.tileAssignmentDims.join(',')}]${this.tileAssignmentDevices.join(',')}${
          this.replicateOnLastTileDim ? ' last_tile_dim_replicate' : ''
        }}`;
    }
  }

  /** Parses XLA's text form (the forms toString prints, and the iota form `devices=[4,2]<=[8]`). */
  static parse(text: string): HloSharding {
    const t = text.trim();
    if (t === '{replicated}') return HloSharding.REPLICATED;
    if (t === '{manual}') return HloSharding.MANUAL;
    const maximal = /^\{maximal device=(\d+)\}$/.exec(t);
    if (maximal) return HloSharding.maximal(Number(maximal[1]));
    const tiled = /^\{devices=\[([\d,]+)\](?:([\d,]+)|<=\[(\d+)\])( last_tile_dim_replicate)?\}$/.exec(t);
    if (!tiled) throw new ShardingError(`cannot parse sharding ${JSON.stringify(text)}; expected XLA's text form like {devices=[2,1]0,1}`);
    const dims = tiled[1]!.split(',').map(Number);
    const devices = tiled[2] !== undefined ? tiled[2].split(',').map(Number) : Array.from({ length: Number(tiled[3]) }, (_, i) => i);
    return tiled[4] ? HloSharding.partialTile(dims, devices) : HloSharding.tile(dims, devices);
  }

  private checkRank(globalShape: readonly number[]): void {
    if (this.isTiled && globalShape.length !== this.dataRank) {
      throw new ShardingError(`sharding ${this.toString()} is for rank ${this.dataRank}, the tensor has rank ${globalShape.length}`);
    }
  }
}

/** One entry of a PartitionSpec: not split (null), one mesh axis, or several (major first). */
export type PartitionEntry = null | string | readonly string[];

/** JAX's `PartitionSpec`: the mesh axes each tensor dim is split over. */
export class PartitionSpec {
  /** Per dim: the mesh axes (major first), or null when not split. */
  readonly dims: readonly (readonly string[] | null)[];

  constructor(...entries: PartitionEntry[]) {
    this.dims = entries.map((e) => {
      if (e === null || e === undefined) return null;
      const axes = typeof e === 'string' ? [e] : [...e];
      return axes.length === 0 ? null : axes;
    });
    const seen = new Set<string>();
    for (const axes of this.dims) {
      for (const a of axes ?? []) {
        if (seen.has(a)) throw new ShardingError(`PartitionSpec: mesh axis '${a}' is used more than once in ${this.toString()}`);
        seen.add(a);
      }
    }
  }

  get length(): number {
    return this.dims.length;
  }

  /** Mesh axes used anywhere in the spec. */
  get axes(): string[] {
    return this.dims.flatMap((d) => d ?? []);
  }

  equals(other: PartitionSpec): boolean {
    const n = Math.max(this.length, other.length);
    for (let i = 0; i < n; i++) {
      if ((this.dims[i] ?? []).join(',') !== (other.dims[i] ?? []).join(',')) return false;
    }
    return true;
  }

  /** As JAX prints it: `PartitionSpec('data', None)`, `PartitionSpec(('data', 'model'),)`. */
  toString(): string {
    const parts = this.dims.map((d) => (d === null ? 'None' : d.length === 1 ? `'${d[0]}'` : `(${d.map((a) => `'${a}'`).join(', ')})`));
    return `PartitionSpec(${parts.join(', ')}${parts.length === 1 && this.dims[0] !== null && this.dims[0].length > 1 ? ',' : ''})`;
  }
}

/** `P('data', null)`, `P(['data', 'model'], null)`: JAX's `P` alias. */
export function P(...entries: PartitionEntry[]): PartitionSpec {
  return new PartitionSpec(...entries);
}

const hloCache = new WeakMap<Mesh, Map<string, HloSharding>>();

/** JAX's `NamedSharding(mesh, spec)`. */
export class NamedSharding {
  readonly mesh: Mesh;
  constructor(
    mesh: DeviceMesh,
    readonly spec: PartitionSpec,
  ) {
    this.mesh = Mesh.fromDeviceMesh(mesh);
    for (const a of spec.axes) this.mesh.axisIndex(a);
  }

  /**
   * The HloSharding for a rank-`rank` tensor (the spec is padded with nulls), as JAX's
   * NamedSharding._to_xla_hlo_sharding: the mesh's device array transposed to (axes of dim
   * 0, axes of dim 1, ..., unused axes) and reshaped to (tiles per dim..., replication).
   */
  toHloSharding(rank: number): HloSharding {
    if (this.spec.length > rank) {
      throw new ShardingError(`${this.spec.toString()} has ${this.spec.length} entries, more than the rank ${rank} of the value`);
    }
    // Shardings are immutable and this is O(devices): remember it per mesh, spec and rank.
    let byMesh = hloCache.get(this.mesh);
    if (!byMesh) hloCache.set(this.mesh, (byMesh = new Map()));
    const key = `${rank}|${this.spec.toString()}`;
    let hlo = byMesh.get(key);
    if (!hlo) byMesh.set(key, (hlo = this.buildHloSharding(rank)));
    return hlo;
  }

  private buildHloSharding(rank: number): HloSharding {
    const mesh = this.mesh;
    const dimAxes = Array.from({ length: rank }, (_, i) => (this.spec.dims[i] ?? []).map((a) => mesh.axisIndex(a)));
    const used = new Set(dimAxes.flat());
    const unused = mesh.axisNames.map((_, i) => i).filter((i) => !used.has(i));
    const order = [...dimAxes.flat(), ...unused];
    const tileDims = dimAxes.map((axes) => product(axes.map((a) => mesh.shape[a]!)));
    const repl = product(unused.map((a) => mesh.shape[a]!));
    const devices = transposeDevices(mesh, order);
    return HloSharding.partialTile([...tileDims, repl], devices);
  }

  /** The padded per-device shape of a `globalShape` value. */
  shardShape(globalShape: readonly number[]): number[] {
    return this.toHloSharding(globalShape.length).tileShape(globalShape);
  }

  toString(): string {
    return `NamedSharding(mesh=${this.mesh.toString()}, spec=${this.spec.toString()})`;
  }
}

/** The mesh's device list, row-major over the mesh axes permuted to `order`. */
function transposeDevices(mesh: DeviceMesh, order: readonly number[]): number[] {
  const shape = order.map((a) => mesh.shape[a]!);
  const strides = new Array<number>(mesh.shape.length);
  let s = 1;
  for (let i = mesh.shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= mesh.shape[i]!;
  }
  const out: number[] = [];
  const idx = new Array<number>(order.length).fill(0);
  for (let k = 0; k < mesh.devices.length; k++) {
    let pos = 0;
    order.forEach((a, j) => (pos += idx[j]! * strides[a]!));
    out.push(mesh.devices[pos]!);
    for (let j = order.length - 1; j >= 0; j--) {
      if (++idx[j]! < shape[j]!) break;
      idx[j] = 0;
    }
  }
  return out;
}

/**
 * GSPMD's `mesh_split(tensor, device_mesh, dims_mapping)` as a sharding: dimsMapping[i] is
 * the mesh axis (index or name) that splits tensor dim i, or -1 / null for none; mesh axes
 * not used become the replicated last tile dim.
 */
export function meshSplit(mesh: DeviceMesh, dimsMapping: readonly (number | string | null)[]): HloSharding {
  const m = Mesh.fromDeviceMesh(mesh);
  const entries = dimsMapping.map((d, i) => {
    if (d === null || d === -1) return null;
    if (typeof d === 'string') return d;
    if (!Number.isSafeInteger(d) || d < 0 || d >= m.axisNames.length) {
      throw new ShardingError(`meshSplit: dimsMapping[${i}] = ${d} is not a mesh axis index (0..${m.axisNames.length - 1}) or -1`);
    }
    return m.axisNames[d]!;
  });
  return new NamedSharding(m, new PartitionSpec(...entries)).toHloSharding(dimsMapping.length);
}

/** Ordered choices of distinct mesh axes whose sizes multiply to `n` (for specOf). */
function axisTuples(mesh: Mesh, n: number, used: ReadonlySet<number>): number[][] {
  if (n === 1) return [[]];
  const out: number[][] = [];
  mesh.shape.forEach((size, a) => {
    if (used.has(a) || size === 1 || n % size !== 0) return;
    const next = new Set(used).add(a);
    for (const rest of axisTuples(mesh, n / size, next)) out.push([a, ...rest]);
  });
  return out;
}

/**
 * The PartitionSpec over `mesh` that gives `sharding` for a rank-`rank` value, or undefined
 * when the tile assignment is not a product of mesh axes (the partitioner uses this to name
 * the axes of its collectives).
 */
export function partitionSpecOf(mesh: DeviceMesh, sharding: HloSharding, rank: number): PartitionSpec | undefined {
  const m = Mesh.fromDeviceMesh(mesh);
  if (sharding.isReplicated) return new PartitionSpec(...new Array<null>(rank).fill(null));
  if (!sharding.isTiled || sharding.dataRank !== rank) return undefined;
  const tiles = sharding.dataTileDims;
  const search = (dim: number, used: ReadonlySet<number>, picked: number[][]): PartitionSpec | undefined => {
    if (dim === rank) {
      const spec = new PartitionSpec(...picked.map((axes) => (axes.length === 0 ? null : axes.map((a) => m.axisNames[a]!))));
      return new NamedSharding(m, spec).toHloSharding(rank).equals(sharding) ? spec : undefined;
    }
    for (const axes of axisTuples(m, tiles[dim]!, used)) {
      const found = search(dim + 1, new Set([...used, ...axes]), [...picked, axes]);
      if (found) return found;
    }
    return undefined;
  };
  return search(0, new Set(), []);
}
