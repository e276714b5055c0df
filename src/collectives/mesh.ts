/**
 * A device mesh: named logical axes laid over core ids, as JAX's `Mesh(devices, axis_names)`.
 * Layer 4's GSPMD mesh builds on this type; layer 2 needs only the axes and which core sits
 * at each mesh position.
 */
import { CollectiveUsageError } from './errors.js';

export interface DeviceMesh {
  readonly axisNames: readonly string[];
  /** Size of each axis. */
  readonly shape: readonly number[];
  /** Core id at each mesh position, row-major over the axes (last axis fastest). */
  readonly devices: readonly number[];
}

/** One axis name or several (JAX's `psum(x, ('data', 'model'))`). */
export type AxisSpec = string | readonly string[];

/**
 * A mesh over `devices` (default 0..n-1) with the given axes, e.g.
 * `makeMesh({ data: 4, model: 2 })`. Throws naming the field on a bad shape or device list.
 */
export function makeMesh(axes: Readonly<Record<string, number>>, devices?: readonly number[]): DeviceMesh {
  const axisNames = Object.keys(axes);
  const shape = axisNames.map((a) => axes[a]!);
  return meshFromShape(axisNames, shape, devices);
}

export function meshFromShape(
  axisNames: readonly string[],
  shape: readonly number[],
  devices?: readonly number[],
): DeviceMesh {
  if (axisNames.length === 0) throw new CollectiveUsageError('mesh: at least one axis is needed');
  if (axisNames.length !== shape.length) {
    throw new CollectiveUsageError(`mesh: ${axisNames.length} axis names for ${shape.length} sizes`);
  }
  if (new Set(axisNames).size !== axisNames.length) {
    throw new CollectiveUsageError(`mesh: axis names must be distinct, got (${axisNames.join(', ')})`);
  }
  let size = 1;
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 1) {
      throw new CollectiveUsageError(`mesh: axis '${axisNames[i]}' must have a positive integer size, got ${d}`);
    }
    size *= d;
  });
  const devs = devices ? [...devices] : Array.from({ length: size }, (_, i) => i);
  if (devs.length !== size) {
    throw new CollectiveUsageError(`mesh: shape [${shape.join(',')}] holds ${size} devices but ${devs.length} were given`);
  }
  if (new Set(devs).size !== devs.length || devs.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new CollectiveUsageError('mesh: devices must be distinct non-negative core ids');
  }
  return { axisNames: [...axisNames], shape: [...shape], devices: devs };
}

export function axesOf(spec: AxisSpec): readonly string[] {
  return typeof spec === 'string' ? [spec] : spec;
}

/** Throws naming the axis when `axes` are not distinct axes of `mesh`. */
export function checkAxes(mesh: DeviceMesh, axes: readonly string[]): void {
  if (axes.length === 0) throw new CollectiveUsageError('axis_name: at least one mesh axis is needed');
  for (const a of axes) {
    if (!mesh.axisNames.includes(a)) {
      throw new CollectiveUsageError(`axis_name: unknown mesh axis '${a}'; the mesh has (${mesh.axisNames.join(', ')})`);
    }
  }
  if (new Set(axes).size !== axes.length) {
    throw new CollectiveUsageError(`axis_name: repeated axis in (${axes.join(', ')})`);
  }
}

/** Mesh coordinates (one index per axis) of `coreId`. */
export function meshCoords(mesh: DeviceMesh, coreId: number): number[] {
  const pos = mesh.devices.indexOf(coreId);
  if (pos < 0) throw new CollectiveUsageError(`mesh: core ${coreId} is not in the mesh`);
  const coords = new Array<number>(mesh.shape.length);
  let rest = pos;
  for (let i = mesh.shape.length - 1; i >= 0; i--) {
    coords[i] = rest % mesh.shape[i]!;
    rest = Math.floor(rest / mesh.shape[i]!);
  }
  return coords;
}

function coreAt(mesh: DeviceMesh, coords: readonly number[]): number {
  let pos = 0;
  for (let i = 0; i < mesh.shape.length; i++) pos = pos * mesh.shape[i]! + coords[i]!;
  return mesh.devices[pos]!;
}

/** The cores that take part with `coreId` in a collective over `axes`. */
export interface AxisGroup {
  readonly axes: readonly string[];
  /** Core ids in rank order: rank = row-major index over `axes` in the order given (JAX's axis_index). */
  readonly members: readonly number[];
  /** This core's rank. */
  readonly rank: number;
}

/** The group of `coreId` for `axes`: the cores that differ from it only along those axes. */
export function axisGroup(mesh: DeviceMesh, axes: readonly string[], coreId: number): AxisGroup {
  checkAxes(mesh, axes);
  const mine = meshCoords(mesh, coreId);
  const axisIdx = axes.map((a) => mesh.axisNames.indexOf(a));
  const sizes = axisIdx.map((i) => mesh.shape[i]!);
  const p = sizes.reduce((x, y) => x * y, 1);
  const members: number[] = [];
  const coords = [...mine];
  for (let r = 0; r < p; r++) {
    let rest = r;
    for (let j = axes.length - 1; j >= 0; j--) {
      coords[axisIdx[j]!] = rest % sizes[j]!;
      rest = Math.floor(rest / sizes[j]!);
    }
    members.push(coreAt(mesh, coords));
  }
  let rank = 0;
  for (let j = 0; j < axes.length; j++) rank = rank * sizes[j]! + mine[axisIdx[j]!]!;
  return { axes: [...axes], members, rank };
}

/** Every group for `axes`: a partition of the mesh's cores. */
export function axisGroups(mesh: DeviceMesh, axes: readonly string[]): number[][] {
  const seen = new Set<number>();
  const groups: number[][] = [];
  for (const c of mesh.devices) {
    if (seen.has(c)) continue;
    const g = axisGroup(mesh, axes, c);
    g.members.forEach((m) => seen.add(m));
    groups.push([...g.members]);
  }
  return groups;
}

/** Bitmask of `axes` over the mesh's axis list: the key of a communicator (order-free). */
export function axisMask(mesh: DeviceMesh, axes: readonly string[]): number {
  let mask = 0;
  for (const a of axes) mask |= 1 << mesh.axisNames.indexOf(a);
  return mask;
}
