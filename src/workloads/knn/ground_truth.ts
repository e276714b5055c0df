/**
 * Exact k nearest neighbors on the host, in float64: the oracle the tests hold the pod's
 * exact mode to. Ties go to the lower row, as lax.top_k breaks them. (On the pod, ground
 * truth comes from the workload's own exact mode, which scales to a million rows.)
 */
import { type Distance, rowBias } from './distance.js';
import type { VectorSet } from './generators.js';

/**
 * For each query, the k best rows of `db` by the distance's score (db and queries already
 * prepared, see prepareVectors), best first; rows where `live` is 0 are skipped.
 */
export function exactNeighbors(db: VectorSet, queries: VectorSet, k: number, distance: Distance, live?: Uint8Array): Int32Array {
  if (db.d !== queries.d) throw new RangeError(`exactNeighbors: database has d = ${db.d}, queries d = ${queries.d}`);
  const { d } = db;
  const bias = new Float64Array(db.n);
  for (let i = 0; i < db.n; i++) bias[i] = rowBias(db.data.subarray(i * d, (i + 1) * d), distance);
  const out = new Int32Array(queries.n * k).fill(-1);
  const bestScore = new Float64Array(k);
  const bestRow = new Int32Array(k);
  for (let q = 0; q < queries.n; q++) {
    let count = 0;
    const qo = q * d;
    for (let i = 0; i < db.n; i++) {
      if (live && live[i] === 0) continue;
      let s = bias[i]!;
      const xo = i * d;
      for (let t = 0; t < d; t++) s += queries.data[qo + t]! * db.data[xo + t]!;
      if (count === k && !(s > bestScore[k - 1]!)) continue; // a tie keeps the lower row, already in
      let p = count < k ? count++ : k - 1;
      while (p > 0 && s > bestScore[p - 1]!) {
        bestScore[p] = bestScore[p - 1]!;
        bestRow[p] = bestRow[p - 1]!;
        p--;
      }
      bestScore[p] = s;
      bestRow[p] = i;
    }
    out.set(bestRow.subarray(0, count), q * k);
  }
  return out;
}
