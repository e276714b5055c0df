/**
 * The three searches, each as a maximum inner product search (TPU-KNN, section 3):
 * - 'mips':   score = q·x;
 * - 'l2':     score = q·x − ‖x‖²/2, which ranks rows as −‖q − x‖²/2 does (the ‖q‖² term is
 *             the same for every row), so the distance is still one dot product plus a
 *             per-row bias;
 * - 'cosine': q and x are scaled to unit length when they are stored, then 'mips'.
 */
import type { VectorSet } from './generators.js';

export type Distance = 'mips' | 'l2' | 'cosine';
export const DISTANCES: readonly Distance[] = ['mips', 'l2', 'cosine'];

/** The vectors as the search stores them: unit rows for cosine, unchanged otherwise (a copy). */
export function prepareVectors(set: VectorSet, distance: Distance): VectorSet {
  const data = Float32Array.from(set.data);
  if (distance === 'cosine') {
    for (let r = 0; r < set.n; r++) {
      let norm = 0;
      for (let t = 0; t < set.d; t++) norm += data[r * set.d + t]! ** 2;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let t = 0; t < set.d; t++) data[r * set.d + t]! *= inv;
    }
  }
  return { n: set.n, d: set.d, data };
}

/** The per-row bias added to q·x: −‖x‖²/2 for 'l2' (in f64, of the stored values), else 0. */
export function rowBias(row: ArrayLike<number>, distance: Distance): number {
  if (distance !== 'l2') return 0;
  let s = 0;
  for (let t = 0; t < row.length; t++) s += row[t]! * row[t]!;
  return -s / 2;
}
