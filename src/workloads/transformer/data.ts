/**
 * Synthetic token data for the LM: each sequence counts up from a random start by a
 * random stride, modulo the vocabulary, so the next token is a function of the last two
 * (attention has something to learn) and a model that learns it drives the loss toward 0.
 * Deterministic in (seed, step); a 32-bit LCG (Numerical Recipes constants) draws starts
 * and strides, so no global random state is touched.
 */
import { type TensorView, tensorFrom } from '../../tpu/tensor.js';

export interface TokenBatch {
  /** i32 [batch, seqLen]. */
  readonly tokens: TensorView;
  /** i32 [batch, seqLen]: tokens shifted left by one (the next token at each position). */
  readonly targets: TensorView;
}

/** Strides drawn from 1..MAX_STRIDE. */
const MAX_STRIDE = 3;

export function syntheticBatch(batch: number, seqLen: number, vocab: number, seed: number, step: number): TokenBatch {
  let state = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const tokens: number[] = [];
  const targets: number[] = [];
  for (let b = 0; b < batch; b++) {
    const start = next() % vocab;
    const stride = 1 + (next() % MAX_STRIDE);
    for (let t = 0; t < seqLen; t++) {
      tokens.push((start + t * stride) % vocab);
      targets.push((start + (t + 1) * stride) % vocab);
    }
  }
  return { tokens: tensorFrom('i32', [batch, seqLen], tokens), targets: tensorFrom('i32', [batch, seqLen], targets) };
}
