/**
 * mulberry32: a small, fast, seeded 32-bit generator for host-side data (demo inputs,
 * benchmark matrices, test fixtures). Not for programs: those draw from counter-based
 * keys (src/program/random.ts) so every core and every run gets the same numbers.
 * Returns floats uniform in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
