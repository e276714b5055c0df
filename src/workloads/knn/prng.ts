/**
 * A small counter-based generator: every draw is a hash of (seed, stream, counter), so any
 * row of a synthetic dataset can be produced alone, in any order, on any thread, and the
 * same seed always gives the same numbers. The mixer is the 32-bit "lowbias32" finalizer
 * (Wellons, hash-prospector), applied over the three words in turn.
 */

function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

/** A uint32 hash of (seed, stream, counter); counter may be any safe integer. */
export function hash32(seed: number, stream: number, counter: number): number {
  const lo = counter >>> 0;
  const hi = Math.floor(counter / 2 ** 32) >>> 0;
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  h = mix32(h ^ (stream >>> 0));
  h = mix32(h ^ hi);
  return mix32(h ^ lo);
}

/** A uniform draw in the open interval (0, 1). */
export function uniformAt(seed: number, stream: number, counter: number): number {
  return (hash32(seed, stream, counter) + 0.5) / 2 ** 32;
}

/** A standard normal draw (Box-Muller over the uniforms at 2·counter and 2·counter + 1). */
export function normalAt(seed: number, stream: number, counter: number): number {
  const u = uniformAt(seed, stream, 2 * counter);
  const v = uniformAt(seed, stream, 2 * counter + 1);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
