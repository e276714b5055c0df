import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { f32ToBf16Bits } from '../../../src/tpu/dtype.js';
import { makeApproxMaxK } from '../../../src/tpu/fast/approx_topk.js';
import { availableBackends } from '../../../src/tpu/fast/index.js';
import type { FastKernel } from '../../../src/tpu/fast/types.js';
import type { ApproxTopKParams } from '../../../src/tpu/ops.js';
import { primitiveDef } from '../../../src/tpu/primitives.js';
import { type TensorView, hostTensor } from '../../../src/tpu/tensor.js';

// The JS loop, and every backend with a native PartialReduce.
const KERNELS: [string, FastKernel<'approx_max_k'>][] = [
  ['js loop', makeApproxMaxK()],
  ...availableBackends()
    .filter((b) => b.partialReduce !== undefined)
    .map((b): [string, FastKernel<'approx_max_k'>] => [b.name, makeApproxMaxK(b)]),
];
const def = primitiveDef('approx_max_k');

/** Values with many ties, signed zeros, infinities and NaNs, so every tie rule is exercised. */
const SPECIAL = [0, -0, 1, -1, 0.5, Infinity, -Infinity, NaN];

function tensor(dtype: 'f32' | 'bf16', shape: number[], values: readonly number[]): TensorView {
  const t = hostTensor(dtype, shape);
  values.forEach((v, i) => (t.data[i] = dtype === 'bf16' ? f32ToBf16Bits(v) : v));
  return t;
}

function both(fast: FastKernel<'approx_max_k'>, x: TensorView, p: ApproxTopKParams): { ref: TensorView[]; got: TensorView[]; handled: boolean } {
  const avals = def.shape([x], p);
  const ref = avals.map((v) => hostTensor(v.dtype, v.shape));
  const got = avals.map((v) => hostTensor(v.dtype, v.shape));
  def.reference([x], ref, p);
  return { ref, got, handled: fast([x], got, p) };
}

describe.each(KERNELS)('fast approx_max_k (%s)', (_name, fast) => {
  it('matches the reference kernel bit for bit, reductions, overrides, ties and NaNs included', () => {
    let compared = 0;
    let reduced = 0;
    fc.assert(
      fc.property(
        fc.record({
          rows: fc.integer({ min: 1, max: 3 }),
          n: fc.integer({ min: 1, max: 1500 }),
          k: fc.integer({ min: 1, max: 40 }),
          recall: fc.constantFrom(0.5, 0.8, 0.9, 0.95, 0.99, 1),
          overrideFactor: fc.constantFrom(0, 1, 2, 8),
          aggregate: fc.boolean(),
          dtype: fc.constantFrom('f32' as const, 'bf16' as const),
          special: fc.double({ min: 0, max: 0.3, noNaN: true }),
          seed: fc.integer(),
        }),
        (c) => {
          const k = Math.min(c.k, c.n);
          let s = c.seed >>> 0;
          const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
          const values = Array.from({ length: c.rows * c.n }, () =>
            next() < c.special ? SPECIAL[Math.floor(next() * SPECIAL.length)]! : Math.round(next() * 64) / 8,
          );
          const x = tensor(c.dtype, [c.rows, c.n], values);
          const p: ApproxTopKParams = {
            k,
            reductionDimension: 1,
            recallTarget: c.recall,
            reductionInputSizeOverride: c.overrideFactor === 0 ? -1 : c.n * c.overrideFactor,
            aggregateToTopk: c.aggregate,
          };
          let result;
          try {
            result = both(fast, x, p);
          } catch {
            return; // a shape the op rejects (k above the survivors): nothing to compare
          }
          expect(result.handled).toBe(true);
          compared++;
          if (!c.aggregate && result.got[0]!.shape[1]! < c.n) reduced++;
          result.got.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(result.ref[i]!.data)));
        },
      ),
      { numRuns: 300 },
    );
    // The property compared real cases, PartialReduce among them, not only rejected shapes.
    expect(compared).toBeGreaterThan(150);
    expect(reduced).toBeGreaterThan(20);
  });

  it('declines what it does not handle, writing nothing', () => {
    const x = tensor('f32', [4, 3], Array.from({ length: 12 }, (_, i) => i));
    const p: ApproxTopKParams = { k: 2, reductionDimension: 0, recallTarget: 0.9, reductionInputSizeOverride: -1, aggregateToTopk: true };
    const avals = def.shape([x], p);
    const out = avals.map((v) => hostTensor(v.dtype, v.shape));
    expect(fast([x], out, p)).toBe(false);
    expect(out.every((t) => Array.from(t.data).every((v) => v === 0))).toBe(true);
  });
});
