import { describe, it, expect } from 'vitest';
import {
  APPROX_TOPK_PRIMS,
  ApproxTopKError,
  approxTopKExpectedRecall,
  approxTopKReductionOutputSize,
} from '../../../src/tpu/prims/approx_topk.js';
import type { ApproxTopKParams } from '../../../src/tpu/ops.js';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { type TensorView, tensorFrom, toNumbers } from '../../../src/tpu/tensor.js';
import { runDef, seededRandom } from './run_def.js';

const params = (p: Partial<ApproxTopKParams> & { k: number }): ApproxTopKParams => ({
  reductionDimension: 1,
  recallTarget: 0.95,
  reductionInputSizeOverride: -1,
  aggregateToTopk: true,
  ...p,
});
const approxMax = (x: TensorView, p: ApproxTopKParams) => runDef(APPROX_TOPK_PRIMS.approx_max_k, [x], p) as [TensorView, TensorView];
const approxMin = (x: TensorView, p: ApproxTopKParams) => runDef(APPROX_TOPK_PRIMS.approx_min_k, [x], p) as [TensorView, TensorView];

/** A seeded random permutation of 0..n-1: distinct, exactly representable values. */
function permutation(n: number, random: () => number): number[] {
  const xs = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

describe('approxTopKReductionOutputSize follows xla/hlo/builder/lib/approx_topk_shape.cc', () => {
  // [input_size, rank, top_k, recall_target, aggregate_to_topk, input_size_override] -> [output size, log2_reduction],
  // each worked by hand from the C++ (t = 128 for rank >= 2, 1024 for rank 1).
  const table: [number, number, number, number, boolean, number, number, number][] = [
    [1000, 2, 10, 0.95, true, -1, 10, -1], // aggregate_to_topk: (top_k, -1)
    [128, 2, 10, 0.95, false, -1, 128, 0], // n <= t
    [1000, 1, 10, 0.95, false, -1, 1000, 0], // rank 1: t = 1024
    [100, 2, 10, 0.95, false, 50, 100, 0], // n <= t returns before the override check
    [1000, 2, 1, 0.95, false, -1, 128, 3], // k = 1: (t, log2_ceil(ceil(1000/128) = 8))
    [100000, 2, 1, 0.9, false, -1, 128, 10], // log2_ceil(782)
    [100000, 1, 1, 0.9, false, -1, 1024, 7], // log2_ceil(ceil(1e5/1024) = 98)
    [10000, 2, 10, 1.0, false, -1, 10000, 0], // recall 1: no reduction
    // m = floor(9 / -ln(f32 0.95)) = 175; lr = log2_floor(10000 / 175 = 57) = 5; min(5, log2_ceil(78) = 7);
    // ceil(ceil(10000/128) = 79 / 32) * 128 = 384
    [10000, 2, 10, 0.95, false, -1, 384, 5],
    // m = floor(99 / -ln(f32 0.99)) = 9850; lr = log2_floor(10) = 3; ceil(782 / 8) * 128 = 12544
    [100000, 2, 100, 0.99, false, -1, 12544, 3],
    [10000, 2, 100, 0.99, false, -1, 10000, 0], // log2_floor(10000 / 9850 = 1) = 0
    // m = max(floor(0.5 * ... ), t): k = 2, r = 0.5 -> floor(1 / ln 2) = 1 -> m = 128; lr = log2_floor(7) = 2;
    // min(2, log2_ceil(7) = 3); ceil(ceil(1000/128) = 8 / 4) * 128 = 256
    [1000, 2, 2, 0.5, false, -1, 256, 2],
    // Shard of 16384 of a 32768 dim: lr = log2_floor(32768 / 175 = 187) = 7, min(7, log2_ceil(128) = 7) -> 128 bins
    [16384, 2, 10, 0.95, false, 32768, 128, 7],
    [16384, 2, 10, 0.95, false, -1, 256, 6], // the same shard without the override
    [32768, 2, 10, 0.95, false, -1, 256, 7], // the full dim: bins of 2^7, like the shard with the override
    // recall_target is a C++ float: -ln(f32 0.8) gives m = floor(1211 / 0.22314...) = 5427 (5426 in double),
    // so n = 2 * 5427 - 1 has log2_floor(10853 / 5427 = 1) = 0: no reduction (double would reduce to 5504).
    [10853, 2, 1212, 0.8, false, -1, 10853, 0],
    // XLA clamps lr after its zero check: a 200-wide shard of a 10000 dim gets lr 0 with size 256.
    [200, 2, 10, 0.95, false, 10000, 256, 0],
  ];
  it.each(table)('n=%i rank=%i k=%i r=%f agg=%s override=%i -> (%i, %i)', (n, rank, k, r, agg, override, size, lr) => {
    expect(approxTopKReductionOutputSize(n, rank, k, r, agg, override)).toEqual({ outputSize: size, log2Reduction: lr });
  });

  it('rejects an override below the operand size and a recall outside (0, 1]', () => {
    expect(() => approxTopKReductionOutputSize(1000, 2, 10, 0.95, false, 500)).toThrow(ApproxTopKError);
    expect(() => approxTopKReductionOutputSize(1000, 2, 10, 0, false, -1)).toThrow(/recall_target/);
    expect(() => approxTopKReductionOutputSize(1000, 2, 10, 1.5, false, -1)).toThrow(/recall_target/);
  });

  it('expected recall is ((L-1)/L)^(K-1)', () => {
    expect(approxTopKExpectedRecall(4, 3)).toBeCloseTo(0.5625, 12);
    expect(approxTopKExpectedRecall(1000, 1)).toBe(1);
  });
});

describe('approx_max_k shape rule', () => {
  const f32 = (shape: number[]) => ({ shape, dtype: 'f32' as const });
  it('gives k with aggregation and the reduced size without', () => {
    const rule = APPROX_TOPK_PRIMS.approx_max_k.shape;
    expect(rule([f32([3, 10000])], params({ k: 10 }))).toEqual([f32([3, 10]), { shape: [3, 10], dtype: 'i32' }]);
    expect(rule([f32([3, 10000])], params({ k: 10, aggregateToTopk: false }))[0]!.shape).toEqual([3, 384]);
    expect(rule([f32([10000, 3])], params({ k: 10, aggregateToTopk: false, reductionDimension: 0 }))[0]!.shape).toEqual([384, 3]);
  });

  it('rejects bad operands with a ShapeError naming the op', () => {
    const rule = APPROX_TOPK_PRIMS.approx_max_k.shape;
    expect(() => rule([{ shape: [2, 300], dtype: 'i32' }], params({ k: 3 }))).toThrow(/approx_max_k.*floating.*i32\[2,300\]/);
    expect(() => rule([f32([2, 300])], params({ k: 301 }))).toThrow(ShapeError);
    expect(() => rule([f32([2, 300])], params({ k: 3, reductionInputSizeOverride: 200 }))).toThrow(/reduction_input_size_override/);
    expect(() => rule([f32([2, 200])], params({ k: 3, aggregateToTopk: false, reductionInputSizeOverride: 10000 }))).toThrow(/no reduction/);
    // r = 0.1 asks for few bins: 896 survivors cannot hold k = 1000.
    expect(() => rule([f32([1, 100000])], params({ k: 1000, recallTarget: 0.1 }))).toThrow(/exceeds/);
  });
});

describe('approx_max_k / approx_min_k kernels', () => {
  it('keeps the max of each strided bin i mod 128 (k = 1), in bin order, without aggregation', () => {
    const n = 300; // k = 1: 128 bins, log2_reduction = log2_ceil(3) = 2
    const xs = permutation(n, seededRandom(1));
    const [v, i] = approxMax(tensorFrom('f32', [1, n], xs), params({ k: 1, aggregateToTopk: false }));
    expect(v.shape).toEqual([1, 128]);
    for (let b = 0; b < 128; b++) {
      const members = [b, b + 128, b + 256].filter((j) => j < n);
      const best = members.reduce((p, j) => (xs[j]! > xs[p]! ? j : p));
      expect(i.data[b]).toBe(best);
      expect(v.data[b]).toBe(xs[best]);
    }
  });

  it('k = 1 with aggregation finds the exact max', () => {
    const xs = permutation(5000, seededRandom(2));
    const [v, i] = approxMax(tensorFrom('f32', [1, 5000], xs), params({ k: 1 }));
    expect([v.data[0], i.data[0]]).toEqual([4999, xs.indexOf(4999)]);
  });

  it('breaks ties inside a bin and among survivors by lower index', () => {
    const xs = new Array(300).fill(1);
    xs[5] = 7;
    xs[261] = 7; // 256 bins here (lr = 1): same bin as 5
    xs[20] = 7;
    const [v, i] = approxMax(tensorFrom('f32', [1, 300], xs), params({ k: 2 }));
    // Bins keep 5 (not 133) and 20; the top 2 sorted, ties by index.
    expect([...toNumbers(i)]).toEqual([5, 20]);
    expect([...toNumbers(v)]).toEqual([7, 7]);
  });

  it('sorts aggregated results descending for max and ascending for min', () => {
    const xs = permutation(1000, seededRandom(3));
    const [maxV, maxI] = approxMax(tensorFrom('f32', [1, 1000], xs), params({ k: 5, recallTarget: 0.99 }));
    const [minV, minI] = approxMin(tensorFrom('f32', [1, 1000], xs), params({ k: 5, recallTarget: 0.99 }));
    const mx = [...toNumbers(maxV)];
    const mn = [...toNumbers(minV)];
    expect(mx).toEqual([...mx].sort((a, b) => b - a));
    expect(mn).toEqual([...mn].sort((a, b) => a - b));
    [...toNumbers(maxI)].forEach((j, t) => expect(xs[j]).toBe(mx[t]));
    [...toNumbers(minI)].forEach((j, t) => expect(xs[j]).toBe(mn[t]));
    // n = 1000, k = 5, r = 0.99: m = 398, lr = 1, 512 bins of at most 2; the extremes always survive.
    expect(mx[0]).toBe(999);
    expect(mn[0]).toBe(0);
  });

  it('is exact when the rule gives no reduction (n <= t)', () => {
    const xs = permutation(100, seededRandom(4));
    const [v, i] = approxMax(tensorFrom('f32', [1, 100], xs), params({ k: 100 }));
    expect([...toNumbers(v)]).toEqual(Array.from({ length: 100 }, (_, j) => 99 - j));
    [...toNumbers(i)].forEach((j, t) => expect(xs[j]).toBe(99 - t));
    const [all] = approxMax(tensorFrom('f32', [1, 100], xs), params({ k: 3, aggregateToTopk: false }));
    expect([...toNumbers(all)]).toEqual(xs); // every element survives, in place
  });

  it('reduces along a leading dimension like the transposed problem', () => {
    const rows = 3;
    const n = 2000;
    const random = seededRandom(5);
    const byRow = Array.from({ length: rows }, () => permutation(n, random));
    const transposed: number[] = [];
    for (let j = 0; j < n; j++) for (let r = 0; r < rows; r++) transposed.push(byRow[r]![j]!);
    for (const aggregateToTopk of [true, false]) {
      const [v0, i0] = approxMax(tensorFrom('f32', [rows, n], byRow.flat()), params({ k: 10, aggregateToTopk }));
      const [v1, i1] = approxMax(tensorFrom('f32', [n, rows], transposed), params({ k: 10, aggregateToTopk, reductionDimension: 0 }));
      const m = v0.shape[1]!;
      expect(v1.shape).toEqual([m, rows]);
      for (let r = 0; r < rows; r++) {
        for (let j = 0; j < m; j++) {
          expect(v1.data[j * rows + r]).toBe(v0.data[r * m + j]);
          expect(i1.data[j * rows + r]).toBe(i0.data[r * m + j]);
        }
      }
    }
  });

  it('handles bf16 operands', () => {
    const xs = permutation(256, seededRandom(6)); // integers < 256 are exact in bf16
    const [v, i] = approxMax(tensorFrom('bf16', [1, 256], xs), params({ k: 3 }));
    expect(v.dtype).toBe('bf16');
    expect([...toNumbers(v)]).toEqual([255, 254, 253]);
    expect(xs[i.data[0]!]).toBe(255);
  });

  it('without aggregation returns the reduced size: every bin survivor, each the best of its bin', () => {
    const random = seededRandom(7);
    for (const [n, k, r] of [[10000, 10, 0.95], [100000, 100, 0.99], [5000, 50, 0.9]] as const) {
      const xs = permutation(n, random);
      const expectedSize = approxTopKReductionOutputSize(n, 2, k, r, false).outputSize;
      const [v, i] = approxMax(tensorFrom('f32', [1, n], xs), params({ k, recallTarget: r, aggregateToTopk: false }));
      expect(v.shape).toEqual([1, expectedSize]);
      expect(i.shape).toEqual([1, expectedSize]);
      const bestOfBin = new Array<number>(expectedSize).fill(-1);
      xs.forEach((x, j) => {
        const b = j % expectedSize;
        if (bestOfBin[b]! < 0 || x > xs[bestOfBin[b]!]!) bestOfBin[b] = j;
      });
      expect([...toNumbers(i)]).toEqual(bestOfBin);
    }
  });
});

describe('approx_max_k recall', () => {
  it('meets recall_target over N in {1e3, 1e4, 1e5}, K in {1, 10, 100}, r in {0.8, 0.9, 0.95, 0.99}', () => {
    const random = seededRandom(2024);
    let someCellWasApproximate = false;
    for (const [n, rows] of [[1000, 40], [10000, 16], [100000, 4]] as const) {
      const data = Array.from({ length: rows }, () => permutation(n, random));
      const x = tensorFrom('f32', [rows, n], data.flat());
      for (const k of [1, 10, 100]) {
        for (const r of [0.8, 0.9, 0.95, 0.99]) {
          const [, indices] = approxMax(x, params({ k, recallTarget: r }));
          let hits = 0;
          for (let row = 0; row < rows; row++) {
            // Values are a permutation of 0..n-1, so the exact top k are the values >= n - k.
            for (let j = 0; j < k; j++) if (data[row]![indices.data[row * k + j]!]! >= n - k) hits++;
          }
          const recall = hits / (k * rows);
          expect(recall, `N=${n} K=${k} r=${r}`).toBeGreaterThanOrEqual(r);
          if (recall < 1) someCellWasApproximate = true;
        }
      }
    }
    expect(someCellWasApproximate).toBe(true);
  });
});

describe('reductionInputSizeOverride on a shard', () => {
  it('gives each shard bins as large as the full array\'s, consistent with reducing the whole', () => {
    const full = 32768;
    const shards = 2;
    const local = full / shards;
    const k = 10;
    const xs = permutation(full, seededRandom(9));
    const fullRule = approxTopKReductionOutputSize(full, 2, k, 0.95, false);
    const shardRule = approxTopKReductionOutputSize(local, 2, k, 0.95, false, full);
    // Same reduction factor, so the shards together keep as many survivors as the full array would.
    expect(shardRule.log2Reduction).toBe(fullRule.log2Reduction);
    expect(shardRule.outputSize * shards).toBe(fullRule.outputSize);

    const survivors: [number, number][] = [];
    for (let s = 0; s < shards; s++) {
      const shard = xs.slice(s * local, (s + 1) * local);
      const [v, i] = approxMax(tensorFrom('f32', [1, local], shard), params({ k, aggregateToTopk: false, reductionInputSizeOverride: full }));
      expect(v.shape).toEqual([1, shardRule.outputSize]);
      // Bin b of a shard holds its positions b, b + bins, ...: 2^log2Reduction of them.
      for (let b = 0; b < shardRule.outputSize; b++) {
        let best = b;
        let members = 0;
        for (let j = b; j < local; j += shardRule.outputSize, members++) if (shard[j]! > shard[best]!) best = j;
        expect(members).toBe(2 ** shardRule.log2Reduction);
        expect(i.data[b]).toBe(best);
        survivors.push([v.data[b]!, s * local + best]);
      }
    }
    // The full array's PartialReduce keeps the same number of survivors, bins of the same size.
    const [fullValues] = approxMax(tensorFrom('f32', [1, full], xs), params({ k, aggregateToTopk: false }));
    expect(fullValues.shape[1]).toBe(survivors.length);
    // Both keep the global max, and merging the shard survivors meets the recall target here.
    const merged = survivors.sort((a, b) => b[0] - a[0]).slice(0, k);
    expect(merged[0]![0]).toBe(full - 1);
    const hits = merged.filter(([value]) => value >= full - k).length;
    expect(hits / k).toBeGreaterThanOrEqual(0.95);
  });
});
