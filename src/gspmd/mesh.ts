/**
 * Meshes for GSPMD: JAX's `Mesh(devices, axis_names)` over the pod's core ids, and
 * `createDeviceMesh`, which lays the logical axes onto the physical torus so that the
 * axis that communicates most runs between ICI neighbours (JAX's
 * `mesh_utils.create_device_mesh`).
 *
 * A Mesh is a layer-2 DeviceMesh (src/collectives/mesh.ts): the communicator and the
 * collectives accept it as is.
 */
import { type DeviceMesh, meshCoords, meshFromShape } from '../collectives/mesh.js';
import { type Topology, parseTopology } from '../tpu/topology.js';
import { ShardingError } from './errors.js';

/** Device ids nested one array level per mesh axis, as the numpy array JAX's Mesh takes. */
export type NestedDevices = number | readonly NestedDevices[];

function flattenNested(devices: NestedDevices, depth: number): { shape: number[]; flat: number[] } {
  const shape: number[] = [];
  let level: NestedDevices = devices;
  for (let d = 0; d < depth; d++) {
    if (!Array.isArray(level)) throw new ShardingError(`Mesh: devices must nest ${depth} levels deep, one per axis name`);
    shape.push(level.length);
    level = (level as readonly NestedDevices[])[0]!;
  }
  const flat: number[] = [];
  const walk = (x: NestedDevices, d: number): void => {
    if (d === depth) {
      if (typeof x !== 'number') throw new ShardingError(`Mesh: devices nest deeper than the ${depth} axis names`);
      flat.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[d]) {
      throw new ShardingError(`Mesh: devices must be a rectangular array of shape [${shape.join(',')}]`);
    }
    for (const y of x as readonly NestedDevices[]) walk(y, d + 1);
  };
  walk(devices, 0);
  return { shape, flat };
}

export class Mesh implements DeviceMesh {
  readonly axisNames: readonly string[];
  readonly shape: readonly number[];
  /** Core ids, row-major over the axes (last axis fastest). */
  readonly devices: readonly number[];

  /** `new Mesh([[0, 1], [2, 3]], ['data', 'model'])`, as JAX's Mesh(np.array(...), names). */
  constructor(devices: NestedDevices, axisNames: readonly string[]) {
    const { shape, flat } = flattenNested(devices, axisNames.length);
    const m = wrapUsageErrors(() => meshFromShape(axisNames, shape, flat));
    this.axisNames = m.axisNames;
    this.shape = m.shape;
    this.devices = m.devices;
  }

  /** A mesh over `devices` (default 0..n-1, row-major) from `{ data: 4, model: 2 }`. */
  static fromAxes(axes: Readonly<Record<string, number>>, devices?: readonly number[]): Mesh {
    const names = Object.keys(axes);
    return Mesh.fromShape(names, names.map((a) => axes[a]!), devices);
  }

  static fromShape(axisNames: readonly string[], shape: readonly number[], devices?: readonly number[]): Mesh {
    const m = wrapUsageErrors(() => meshFromShape(axisNames, shape, devices));
    return new Mesh(nest(m.devices, m.shape), m.axisNames);
  }

  static fromDeviceMesh(m: DeviceMesh): Mesh {
    return m instanceof Mesh ? m : Mesh.fromShape(m.axisNames, m.shape, m.devices);
  }

  get size(): number {
    return this.devices.length;
  }

  /** Axis sizes by name, `{ data: 4, model: 2 }` (JAX's mesh.shape). */
  get axisSizes(): Readonly<Record<string, number>> {
    return Object.fromEntries(this.axisNames.map((a, i) => [a, this.shape[i]!]));
  }

  axisIndex(name: string): number {
    const i = this.axisNames.indexOf(name);
    if (i < 0) throw new ShardingError(`mesh has no axis '${name}'; its axes are (${this.axisNames.join(', ')})`);
    return i;
  }

  axisSize(name: string): number {
    return this.shape[this.axisIndex(name)]!;
  }

  /** Mesh coordinates of core `deviceId`, one per axis. */
  coords(deviceId: number): number[] {
    return wrapUsageErrors(() => meshCoords(this, deviceId));
  }

  /** The core at mesh coordinates `coords`. */
  deviceAt(coords: readonly number[]): number {
    let pos = 0;
    this.shape.forEach((n, i) => {
      const c = coords[i]!;
      if (!Number.isInteger(c) || c < 0 || c >= n) throw new ShardingError(`mesh coordinate ${c} out of range for axis '${this.axisNames[i]}' of size ${n}`);
      pos = pos * n + c;
    });
    return this.devices[pos]!;
  }

  equals(other: DeviceMesh): boolean {
    return (
      this.axisNames.join('\0') === other.axisNames.join('\0') &&
      this.shape.join(',') === other.shape.join(',') &&
      this.devices.join(',') === other.devices.join(',')
    );
  }

  toString(): string {
    return `Mesh(${this.axisNames.map((a, i) => `'${a}': ${this.shape[i]}`).join(', ')})`;
  }
}

function nest(flat: readonly number[], shape: readonly number[]): NestedDevices {
  if (shape.length === 0) return flat[0]!;
  const [n, ...rest] = shape;
  const stride = flat.length / n!;
  return Array.from({ length: n! }, (_, i) => nest(flat.slice(i * stride, (i + 1) * stride), rest));
}

function wrapUsageErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Error && e.name === 'CollectiveUsageError') throw new ShardingError(e.message);
    throw e;
  }
}

/** A factor of one physical grid dim: positions `stride * k` for k < extent. */
interface PhysicalSlot {
  readonly dim: number;
  readonly stride: number;
  readonly extent: number;
}

export interface CreateDeviceMeshOptions {
  /**
   * The axis that communicates most, placed first between ICI neighbours (and on the
   * cores of one chip first). Default: the last axis, as JAX's create_device_mesh assumes.
   */
  readonly contiguousAxis?: string;
}

/** Non-empty subsets of `slots` (by index) whose extents multiply to `n`, fewest slots first. */
function subsetsWithProduct(slots: readonly PhysicalSlot[], n: number): number[][] {
  const found: number[][] = [];
  const walk = (start: number, prod: number, picked: number[]): void => {
    if (prod === n && picked.length > 0) {
      found.push([...picked]);
      return;
    }
    for (let i = start; i < slots.length; i++) {
      const e = slots[i]!.extent;
      if (e > 1 && n % (prod * e) === 0) walk(i + 1, prod * e, [...picked, i]);
    }
  };
  walk(0, 1, []);
  return found.sort((a, b) => a.length - b.length);
}

/**
 * Assigns physical slots to one logical axis of size n, taking from `free` (mutated):
 * one whole slot of extent n; else the inner part of a slot whose extent n divides (its
 * positions stay one hop apart); else the fewest whole slots whose extents multiply to n;
 * else whole slots in order, splitting the last by the gcd. Slots are in preference order.
 */
function takeSlots(free: PhysicalSlot[], n: number, axis: string, topology: string): PhysicalSlot[] {
  if (n === 1) return [];
  const exact = free.findIndex((s) => s.extent === n);
  if (exact >= 0) return free.splice(exact, 1);
  const divisible = free.findIndex((s) => s.extent % n === 0);
  const subsets = subsetsWithProduct(free, n);
  if (subsets.length > 0 && (divisible < 0 || subsets[0]!.length === 1)) {
    const picked = subsets[0]!.map((i) => free[i]!);
    for (const i of [...subsets[0]!].sort((a, b) => b - a)) free.splice(i, 1);
    return picked;
  }
  if (divisible >= 0) {
    const s = free[divisible]!;
    free.splice(divisible, 1, { dim: s.dim, stride: s.stride * n, extent: s.extent / n });
    return [{ dim: s.dim, stride: s.stride, extent: n }];
  }
  const picked: PhysicalSlot[] = [];
  let rest = n;
  for (let i = 0; i < free.length && rest > 1; ) {
    const s = free[i]!;
    const g = gcd(s.extent, rest);
    if (g <= 1) {
      i++;
      continue;
    }
    picked.push({ dim: s.dim, stride: s.stride, extent: g });
    rest /= g;
    if (g === s.extent) free.splice(i, 1);
    else free.splice(i, 1, { dim: s.dim, stride: s.stride * g, extent: s.extent / g });
  }
  if (rest !== 1) {
    throw new ShardingError(`createDeviceMesh: axis '${axis}' of size ${n} does not fit the remaining devices of ${topology}`);
  }
  return picked;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * A mesh over every core of `topology` with the given axes (sizes multiply to the core
 * count), laid out so that the most communication-heavy axis (`contiguousAxis`, default the
 * last) takes the fastest links: first the TensorCores of one chip (they share HBM), then
 * one torus dim or the inner part of one, so consecutive indices along it are at most one
 * ICI hop apart. The other axes follow in order of heaviness (last to first).
 */
export function createDeviceMesh(
  topology: Topology | string,
  axes: Readonly<Record<string, number>>,
  opts: CreateDeviceMeshOptions = {},
): Mesh {
  const topo = typeof topology === 'string' ? parseTopology(topology) : topology;
  const names = Object.keys(axes);
  if (names.length === 0) throw new ShardingError('createDeviceMesh: axes: at least one axis is needed');
  const sizes = names.map((a) => axes[a]!);
  names.forEach((a, i) => {
    if (!Number.isSafeInteger(sizes[i]) || sizes[i]! < 1) throw new ShardingError(`createDeviceMesh: axes.${a} must be a positive integer, got ${sizes[i]}`);
  });
  const total = sizes.reduce((x, y) => x * y, 1);
  if (total !== topo.numCores) {
    throw new ShardingError(
      `createDeviceMesh: axes (${names.map((a, i) => `${a}=${sizes[i]}`).join(', ')}) hold ${total} devices but ${topo.name} has ${topo.numCores} cores`,
    );
  }
  const heavy = opts.contiguousAxis ?? names[names.length - 1]!;
  if (!names.includes(heavy)) throw new ShardingError(`createDeviceMesh: contiguousAxis '${heavy}' is not one of (${names.join(', ')})`);
  // Grid dims: torus dims 0..r-1, then the core-on-chip dim r, which is preferred first.
  const r = topo.dims.length;
  const gridDims = [...topo.dims, topo.chip.coresPerChip];
  const free: PhysicalSlot[] = [r, ...topo.dims.map((_, i) => i)].map((dim) => ({ dim, stride: 1, extent: gridDims[dim]! }));
  const order = [heavy, ...[...names].reverse().filter((a) => a !== heavy)];
  const assigned = new Map<string, PhysicalSlot[]>();
  for (const a of order) assigned.set(a, takeSlots(free, axes[a]!, a, topo.name));

  const devices: number[] = [];
  const coords = new Array<number>(names.length).fill(0);
  for (let pos = 0; pos < total; pos++) {
    let rest = pos;
    for (let i = names.length - 1; i >= 0; i--) {
      coords[i] = rest % sizes[i]!;
      rest = Math.floor(rest / sizes[i]!);
    }
    const grid = new Array<number>(gridDims.length).fill(0);
    names.forEach((a, i) => {
      // The first slot taken is the minor digit of the axis index: neighbours differ there.
      let idx = coords[i]!;
      for (const s of assigned.get(a)!) {
        grid[s.dim]! += (idx % s.extent) * s.stride;
        idx = Math.floor(idx / s.extent);
      }
    });
    let chipIndex = 0;
    for (let d = r - 1; d >= 0; d--) chipIndex = chipIndex * topo.dims[d]! + grid[d]!;
    devices.push(chipIndex * topo.chip.coresPerChip + grid[r]!);
  }
  return Mesh.fromShape(names, sizes, devices);
}
