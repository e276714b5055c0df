/**
 * The partitioner's working form of a sharding: per tensor dim, the mesh axes that split it
 * (major first), as a JAX PartitionSpec. Collectives name mesh axes, so every rule reasons
 * in this form; an HloSharding whose tile assignment is not a product of mesh axes stays an
 * HloSharding and is converted at the edges (reshard.ts).
 */
import type { Mesh } from '../mesh.js';
import { HloSharding, NamedSharding, PartitionSpec, partitionSpecOf } from '../sharding.js';

/** Mesh axes per dim, major first; [] for a dim that is not split. */
export type DimAxes = readonly (readonly string[])[];

export function replicatedAxes(rank: number): DimAxes {
  return Array.from({ length: rank }, () => []);
}

export function axesEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function specEqual(a: DimAxes, b: DimAxes): boolean {
  return a.length === b.length && a.every((x, i) => axesEqual(x, b[i]!));
}

/** Every mesh axis the spec uses. */
export function usedAxes(spec: DimAxes): Set<string> {
  return new Set(spec.flat());
}

/** Product of the sizes of `axes` on `mesh`. */
export function axesSize(mesh: Mesh, axes: readonly string[]): number {
  let p = 1;
  for (const a of axes) p *= mesh.axisSize(a);
  return p;
}

/** The per-device (padded) size of a dim of `n` elements split over `axes`. */
export function tileSize(mesh: Mesh, n: number, axes: readonly string[]): number {
  return Math.ceil(n / axesSize(mesh, axes));
}

export function tileShapeOf(mesh: Mesh, shape: readonly number[], spec: DimAxes): number[] {
  return shape.map((n, d) => tileSize(mesh, n, spec[d]!));
}

/** True when dim `d` of `shape` is split unevenly, so the last tiles carry padding. */
export function isUneven(mesh: Mesh, n: number, axes: readonly string[]): boolean {
  return n % axesSize(mesh, axes) !== 0;
}

export function specToHlo(mesh: Mesh, spec: DimAxes): HloSharding {
  return new NamedSharding(mesh, new PartitionSpec(...spec.map((a) => (a.length === 0 ? null : a)))).toHloSharding(spec.length);
}

/** The spec of `sharding` on `mesh` for a rank-`rank` value, or undefined when it is not one. */
export function hloToSpec(mesh: Mesh, sharding: HloSharding, rank: number): DimAxes | undefined {
  // Maximal shardings are computed redundantly on every core (the partitioner has no
  // single-device placement), so they read as replicated.
  if (sharding.isTileMaximal) return replicatedAxes(rank);
  if (sharding.isManual) return undefined;
  const spec = partitionSpecOf(mesh, sharding, rank);
  return spec ? Array.from({ length: rank }, (_, d) => spec.dims[d] ?? []) : undefined;
}

/** The spec with every axis in `drop` removed from every dim. */
export function withoutAxes(spec: DimAxes, drop: ReadonlySet<string>): DimAxes {
  return spec.map((axes) => axes.filter((a) => !drop.has(a)));
}

export function specToString(spec: DimAxes): string {
  return `P(${spec.map((a) => (a.length === 0 ? 'None' : a.length === 1 ? a[0] : `(${a.join(',')})`)).join(', ')})`;
}
