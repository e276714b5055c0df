import { describe, it, expect } from 'vitest';
import { CHIPS } from '../../../src/tpu/chips.js';
import { PRIMITIVES } from '../../../src/tpu/ops.js';
import type { AbstractValue } from '../../../src/tpu/tensor.js';
import {
  COST_RULES,
  bitonicCompareExchanges,
  fuseCosts,
  mxuPaddedFlops,
  opCost,
  opTime,
} from '../../../src/tpu/cost/index.js';
import { approxTopKReductionOutputSize } from '../../../src/tpu/prims/approx_topk.js';

const v4 = CHIPS.v4;
const MiB = 1024 ** 2;

function av(dtype: AbstractValue['dtype'], shape: number[]): AbstractValue {
  return { dtype, shape };
}

const MATMUL = { contractingDims: [[1], [0]], batchDims: [[], []] } as const;

function matmul(m: number, k: number, n: number, chip = v4) {
  const inputs = [av('bf16', [m, k]), av('bf16', [k, n])];
  const outputs = [av('f32', [m, n])];
  return opCost('dot_general', inputs, outputs, { ...MATMUL, preferredElementType: 'f32' }, chip);
}

/** Useful FLOPs over (time x per-core peak): the executor's utilization for one op. */
function utilization(m: number, k: number, n: number): number {
  const cost = matmul(m, k, n);
  return cost.flops / (opTime(cost, v4).seconds * v4.peakFlopsPerCore);
}

describe('cost table', () => {
  it('has a rule for every primitive in PRIMITIVES', () => {
    const missing = PRIMITIVES.filter((p) => typeof COST_RULES[p] !== 'function');
    expect(missing).toEqual([]);
    expect(Object.keys(COST_RULES).sort()).toEqual([...PRIMITIVES].sort());
  });
});

describe('MXU accounting', () => {
  it('prices a 1024^3 bf16 dot on v4 as MXU-bound', () => {
    const cost = matmul(1024, 1024, 1024);
    expect(cost.flops).toBe(2 * 1024 ** 3);
    expect(cost.mxuFlops).toBe(cost.flops);
    expect(opTime(cost, v4).binding).toBe('mxu');
  });

  it('wastes the MXU tile on a dot with K = 3', () => {
    const cost = matmul(4096, 3, 4096);
    expect(cost.mxuFlops / cost.flops).toBeCloseTo(128 / 3, 5);
  });

  it('pads streamed rows to 8 sublanes and picks the cheaper orientation', () => {
    // M = 1: rows pad to 8, stationary operand K x N pads to 128 multiples.
    expect(mxuPaddedFlops(1, 1, 128, 128, v4)).toBe(2 * 8 * 128 * 128);
    // M = 10000 rows, N = 3: cheaper to stream N's side (pad 3 -> 8) and hold the 10000 side.
    expect(mxuPaddedFlops(1, 10000, 128, 3, v4)).toBe(2 * 8 * 128 * 10112);
  });

  it('uses the 256 tile on v6e', () => {
    expect(mxuPaddedFlops(1, 256, 129, 256, CHIPS.v6e)).toBe(2 * 256 * 256 * 256);
  });

  it('reaches utilization near 1 for 128-multiples and less for 129-multiples', () => {
    const u1024 = utilization(1024, 1024, 1024);
    const u2048 = utilization(2048, 2048, 2048);
    const u1032 = utilization(1032, 1032, 1032); // 129 x 8
    const u2064 = utilization(2064, 2064, 2064); // 129 x 16
    console.log(
      `v4 matmul utilization: 1024^3 ${u1024.toFixed(3)}, 2048^3 ${u2048.toFixed(3)}, ` +
        `1032^3 ${u1032.toFixed(3)}, 2064^3 ${u2064.toFixed(3)}`,
    );
    expect(u2048).toBeGreaterThan(0.98);
    expect(u1024).toBeGreaterThan(0.9);
    expect(u1032).toBeLessThan(u1024 - 0.1);
    expect(u2064).toBeLessThan(u2048 - 0.05);
  });

  it('prices a convolution as its im2col dot', () => {
    // NHWC 8x32x32x64, HWIO 3x3x64x128, SAME padding, stride 1 -> 8x32x32x128.
    const inputs = [av('bf16', [8, 32, 32, 64]), av('bf16', [3, 3, 64, 128])];
    const outputs = [av('f32', [8, 32, 32, 128])];
    const cost = opCost(
      'conv_general_dilated',
      inputs,
      outputs,
      {
        windowStrides: [1, 1],
        padding: [[1, 1], [1, 1]],
        lhsDilation: [1, 1],
        rhsDilation: [1, 1],
        dimensionNumbers: { lhsSpec: [0, 3, 1, 2], rhsSpec: [3, 2, 0, 1], outSpec: [0, 3, 1, 2] },
        featureGroupCount: 1,
        batchGroupCount: 1,
      },
      v4,
    );
    expect(cost.flops).toBe(2 * 8 * 32 * 32 * (3 * 3 * 64) * 128);
    const dot = matmul(8 * 32 * 32, 3 * 3 * 64, 128);
    expect(cost.mxuFlops).toBe(dot.mxuFlops);
  });
});

describe('VPU and HBM accounting', () => {
  it('prices an element-wise add over 64 MiB as HBM-bound', () => {
    const x = av('f32', [16 * MiB]); // 64 MiB
    const cost = opCost('add', [x, x], [x], {}, v4);
    expect(cost.hbmBytes).toBe(3 * 64 * MiB);
    expect(cost.vpuOps).toBe(16 * MiB);
    expect(opTime(cost, v4).binding).toBe('hbm');
  });

  it('prices transcendentals above plain element-wise ops', () => {
    const x = av('f32', [1 << 20]);
    const add = opTime(opCost('add', [x, x], [x], {}, v4), v4);
    const exp = opTime(opCost('exp', [x], [x], {}, v4), v4);
    expect(exp.vpuSeconds).toBeGreaterThan(add.vpuSeconds * 3);
  });

  it('prices transpose as HBM-bound data movement', () => {
    const x = av('f32', [4096, 4096]);
    const cost = opCost('transpose', [x], [av('f32', [4096, 4096])], { permutation: [1, 0] }, v4);
    expect(cost.vpuOps).toBe(0);
    expect(opTime(cost, v4).binding).toBe('hbm');
  });

  it('reports overhead as binding for tiny ops', () => {
    const x = av('f32', [8]);
    expect(opTime(opCost('add', [x, x], [x], {}, v4), v4).binding).toBe('overhead');
  });

  it('counts bitonic compare-exchanges', () => {
    expect(bitonicCompareExchanges(2)).toBe(1);
    expect(bitonicCompareExchanges(8)).toBe(4 * 6);
    expect(bitonicCompareExchanges(5)).toBe(bitonicCompareExchanges(8));
  });
});

describe('TPU-KNN: N = 1e6, D = 128, 1024 queries on v4', () => {
  const N = 1_000_000;
  const D = 128;
  const B = 1024;
  const K = 10;
  const queries = av('bf16', [B, D]);
  const database = av('bf16', [N, D]);
  const scores = av('f32', [B, N]);
  const topValues = av('f32', [B, K]);
  const topIndices = av('i32', [B, K]);
  const dot = opCost(
    'dot_general',
    [queries, database],
    [scores],
    { contractingDims: [[1], [1]], batchDims: [[], []], preferredElementType: 'f32' },
    v4,
  );
  const approx = opCost(
    'approx_max_k',
    [scores],
    [topValues, topIndices],
    { k: K, reductionDimension: 1, recallTarget: 0.95, reductionInputSizeOverride: -1, aggregateToTopk: true },
    v4,
  );
  const sorted = opCost('top_k', [scores], [topValues, topIndices], { k: K }, v4);
  // Fused as TPU-KNN runs it: the score matrix stays in VMEM; HBM sees queries, database, results.
  const boundary = [queries, database, topValues, topIndices].reduce(
    (b, v) => b + v.shape.reduce((x, y) => x * y, 1) * (v.dtype === 'bf16' ? 2 : 4),
    0,
  );
  const bare = opTime(fuseCosts([dot], boundary), v4);
  const approxStep = opTime(fuseCosts([dot, approx], boundary), v4);
  const sortStep = opTime(fuseCosts([dot, sorted], boundary), v4);

  it('reduces each row of 1e6 scores to 256 PartialReduce survivors (XLA rule)', () => {
    expect(approxTopKReductionOutputSize(N, 2, K, 0.95, false).outputSize).toBe(256);
  });

  it('keeps the approx_max_k step within 1.5x of the bare matmul', () => {
    // Unfused, the f32 score matrix (4 GB) goes to HBM and back: both steps turn HBM-bound.
    const unfusedBare = opTime(dot, v4).seconds;
    const unfusedApprox = unfusedBare + opTime(approx, v4).seconds;
    console.log(
      `TPU-KNN v4: bare matmul ${(bare.seconds * 1e3).toFixed(3)} ms (${bare.binding}); ` +
        `approx_max_k step ${(approxStep.seconds * 1e3).toFixed(3)} ms (${approxStep.binding}, VPU ${(approxStep.vpuSeconds * 1e3).toFixed(3)} ms), ` +
        `ratio ${(approxStep.seconds / bare.seconds).toFixed(3)}; ` +
        `sort top_k step ${(sortStep.seconds * 1e3).toFixed(1)} ms (${sortStep.binding}), ratio ${(sortStep.seconds / bare.seconds).toFixed(1)}; ` +
        `unfused: matmul ${(unfusedBare * 1e3).toFixed(2)} ms, approx step ${(unfusedApprox * 1e3).toFixed(2)} ms, ratio ${(unfusedApprox / unfusedBare).toFixed(2)}`,
    );
    expect(bare.binding).toBe('mxu');
    expect(approxStep.seconds / bare.seconds).toBeLessThanOrEqual(1.5);
  });

  it('makes the sort-based top_k step at least 3x the bare matmul, instruction-bound', () => {
    expect(sortStep.binding).toBe('vpu');
    expect(sortStep.seconds / bare.seconds).toBeGreaterThanOrEqual(3);
  });
});
