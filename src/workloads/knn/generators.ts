/**
 * Seeded synthetic datasets for the KNN workload: Gaussian clusters, and points uniform on
 * the unit sphere. Row i of a role is a function of (seed, role, i) only (prng.ts), so a
 * database, its queries and the rows inserted later never share draws, and any slice of
 * rows can be made on its own.
 */
import { normalAt, uniformAt } from './prng.js';

/** n vectors of d float32 dims, row-major. */
export interface VectorSet {
  readonly n: number;
  readonly d: number;
  readonly data: Float32Array;
}

export type SyntheticKind = 'clusters' | 'sphere';

/** Which rows of a dataset: the database, the queries, or rows inserted between batches. */
export type RowRole = 'database' | 'queries' | 'inserts';

const ROLE_STREAM: Readonly<Record<RowRole, number>> = { database: 1, queries: 2, inserts: 3 };
const CENTER_STREAM = 100;
const ASSIGN_STREAM = 200;

export interface SyntheticOptions {
  readonly kind: SyntheticKind;
  readonly d: number;
  readonly seed: number;
  /** Cluster count (clusters only). */
  readonly clusters?: number;
  /** Standard deviation of a point around its center, relative to the centers' N(0, 1) spread (clusters only). */
  readonly spread?: number;
}

export const DEFAULT_CLUSTERS = 64;
export const DEFAULT_SPREAD = 0.5;

/** Rows [start, start + n) of `role` for the dataset `opts`. */
export function syntheticRows(opts: SyntheticOptions, role: RowRole, start: number, n: number): VectorSet {
  const { d, seed } = opts;
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`synthetic data: d must be a positive integer, got ${d}`);
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(start) || start < 0) {
    throw new RangeError(`synthetic data: rows [${start}, ${start} + ${n}) must be non-negative integers`);
  }
  const data = new Float32Array(n * d);
  const stream = ROLE_STREAM[role];
  if (opts.kind === 'sphere') {
    for (let r = 0; r < n; r++) {
      const base = (start + r) * d;
      let norm = 0;
      for (let t = 0; t < d; t++) {
        const g = normalAt(seed, stream, base + t);
        data[r * d + t] = g;
        norm += g * g;
      }
      const inv = 1 / Math.sqrt(norm);
      for (let t = 0; t < d; t++) data[r * d + t]! *= inv;
    }
    return { n, d, data };
  }
  const clusters = opts.clusters ?? DEFAULT_CLUSTERS;
  const spread = opts.spread ?? DEFAULT_SPREAD;
  if (!Number.isInteger(clusters) || clusters < 1) throw new RangeError(`synthetic data: clusters must be a positive integer, got ${clusters}`);
  const centers = new Float64Array(clusters * d);
  for (let i = 0; i < centers.length; i++) centers[i] = normalAt(seed, CENTER_STREAM, i);
  for (let r = 0; r < n; r++) {
    const row = start + r;
    const c = Math.min(clusters - 1, Math.floor(uniformAt(seed, ASSIGN_STREAM + stream, row) * clusters));
    for (let t = 0; t < d; t++) {
      data[r * d + t] = centers[c * d + t]! + spread * normalAt(seed, stream, row * d + t);
    }
  }
  return { n, d, data };
}
