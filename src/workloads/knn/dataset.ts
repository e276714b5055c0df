/**
 * Where a job's vectors come from: a seeded synthetic generator, or files. Rows and queries
 * are returned prepared for the distance (distance.ts).
 */
import { type Distance, prepareVectors } from './distance.js';
import { type NeighborSet, loadNeighbors, loadVectors } from './formats.js';
import { type SyntheticKind, type VectorSet, syntheticRows } from './generators.js';

export interface DatasetSpec {
  /** 'clusters', 'sphere', or a vector file path. */
  readonly dataset: string;
  readonly queries?: string | undefined;
  readonly groundTruth?: string | undefined;
  /** Rows to take (0: all of a file). */
  readonly n: number;
  readonly d: number;
  readonly seed: number;
  readonly clusters: number;
  readonly distance: Distance;
}

export interface Dataset {
  readonly rows: VectorSet;
  /** Query rows [from, from + count) (wrapping around a query file). */
  queries(from: number, count: number): VectorSet;
  /** Rows to insert, [from, from + count) of the inserts stream (synthetic) or drawn from the database file again. */
  inserts(from: number, count: number): VectorSet;
  /** The given ground truth for query rows [from, from + count), first k columns, or null. */
  truth(from: number, count: number, k: number): Int32Array | null;
  readonly description: string;
}

function isSynthetic(name: string): name is SyntheticKind {
  return name === 'clusters' || name === 'sphere';
}

/** Rows [from, from + count) of `set`, wrapping around its end. */
function wrapRows(set: VectorSet, from: number, count: number): VectorSet {
  const data = new Float32Array(count * set.d);
  for (let i = 0; i < count; i++) {
    const r = (from + i) % set.n;
    data.set(set.data.subarray(r * set.d, (r + 1) * set.d), i * set.d);
  }
  return { n: count, d: set.d, data };
}

export function openDataset(spec: DatasetSpec): Dataset {
  const { distance } = spec;
  if (isSynthetic(spec.dataset)) {
    if (spec.queries || spec.groundTruth) throw new Error(`knn: config.queries and config.ground_truth go with a file dataset, not '${spec.dataset}'`);
    const opts = { kind: spec.dataset, d: spec.d, seed: spec.seed, clusters: spec.clusters };
    if (spec.n < 1) throw new Error('knn: config.n must be at least 1 for a synthetic dataset');
    return {
      rows: prepareVectors(syntheticRows(opts, 'database', 0, spec.n), distance),
      queries: (from, count) => prepareVectors(syntheticRows(opts, 'queries', from, count), distance),
      inserts: (from, count) => prepareVectors(syntheticRows(opts, 'inserts', from, count), distance),
      truth: () => null,
      description: `${spec.dataset} (seed ${spec.seed}${spec.dataset === 'clusters' ? `, ${spec.clusters} clusters` : ''})`,
    };
  }
  if (!spec.queries) throw new Error(`knn: config.queries (a query file) is needed with the file dataset ${spec.dataset}`);
  const rows = prepareVectors(loadVectors(spec.dataset, spec.n > 0 ? spec.n : Number.POSITIVE_INFINITY), distance);
  const queries = prepareVectors(loadVectors(spec.queries), distance);
  if (queries.d !== rows.d) throw new Error(`knn: ${spec.queries} has d = ${queries.d}, ${spec.dataset} has d = ${rows.d}`);
  let truth: NeighborSet | null = null;
  if (spec.groundTruth) {
    truth = loadNeighbors(spec.groundTruth);
    if (truth.n < queries.n) throw new Error(`knn: ${spec.groundTruth} has ${truth.n} rows for ${queries.n} queries`);
  }
  return {
    rows,
    queries: (from, count) => wrapRows(queries, from, count),
    inserts: (from, count) => wrapRows(rows, from, count),
    truth: (from, count, k) => {
      if (truth === null) return null;
      if (truth.k < k) throw new Error(`knn: ${spec.groundTruth} lists ${truth.k} neighbors per query, k = ${k}`);
      const out = new Int32Array(count * k);
      for (let i = 0; i < count; i++) {
        const r = (from + i) % queries.n;
        out.set(truth.data.subarray(r * truth.k, r * truth.k + k), i * k);
      }
      return out;
    },
    description: `${spec.dataset} (${rows.n} rows) with queries ${spec.queries}${spec.groundTruth ? ` and ground truth ${spec.groundTruth}` : ''}`,
  };
}
