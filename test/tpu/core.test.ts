import { describe, it, expect } from 'vitest';
import { CHIPS } from '../../src/tpu/chips.js';
import { OutOfMemoryError } from '../../src/tpu/arena.js';
import { TensorCore } from '../../src/tpu/core.js';
import { opCost, opTime } from '../../src/tpu/cost/index.js';
import type { FastKernelTable } from '../../src/tpu/fast/types.js';
import { tensorFrom, toNumbers } from '../../src/tpu/tensor.js';

const v4 = CHIPS.v4;
const MATMUL = { contractingDims: [[1], [0]], batchDims: [[], []] } as const;
const KiB = 1024;

function core(opts: Partial<ConstructorParameters<typeof TensorCore>[0]> = {}) {
  return new TensorCore({ chip: v4, hbmBytes: 4 * 1024 * KiB, ...opts });
}

describe('TensorCore', () => {
  it('computes a dot into its arena and advances the clock by the cost model', () => {
    const tc = core({ trace: true });
    const x = tensorFrom('f32', [2, 3], [1, 2, 3, 4, 5, 6]);
    const w = tensorFrom('f32', [3, 2], [1, 0, 0, 1, 1, 1]);
    const [y] = tc.execute('dot_general', MATMUL, [x, w], ['y']);
    expect([...toNumbers(y!)]).toEqual([4, 5, 10, 11]);
    expect(y!.allocation.label).toBe('y');
    expect(tc.arena.bytesInUse).toBe(16);
    const expected = opTime(opCost('dot_general', [x, w], [y!], MATMUL, v4), v4);
    expect(tc.now).toBeCloseTo(expected.seconds, 15);
    const s = tc.stats();
    expect(s.usefulFlops).toBe(2 * 2 * 3 * 2);
    expect(s.mxuFlops).toBe(2 * 8 * 128 * 128);
    expect(s.hbmBytesWritten).toBe(16);
    expect(s.hbmBytesRead).toBe(24 + 24);
    expect(s.opCounts.dot_general).toBe(1);
    expect(tc.trace).toHaveLength(1);
    expect(tc.trace[0]).toMatchObject({
      op: 'dot_general',
      inputShapes: ['f32[2,3]', 'f32[3,2]'],
      outputShapes: ['f32[2,2]'],
      start: 0,
      binding: 'overhead',
    });
  });

  it('runs a sequence (MLP layer: dot, add, max, reduce_sum) and frees intermediates at last use', () => {
    const tc = core();
    const x = tensorFrom('f32', [2, 2], [1, -2, 3, 4]);
    const w = tensorFrom('f32', [2, 2], [1, 0, 0, 1]);
    const b = tensorFrom('f32', [2, 2], [0.5, 0.5, 0.5, 0.5]);
    const zero = tensorFrom('f32', [2, 2], [0, 0, 0, 0]);
    const [[loss]] = tc.executeSequence(
      [
        { op: 'dot_general', params: MATMUL, inputs: [x, w] },
        { op: 'add', params: {}, inputs: [{ call: 0 }, b] },
        { op: 'max', params: {}, inputs: [{ call: 1 }, zero] },
        { op: 'reduce_sum', params: { axes: [0, 1] }, inputs: [{ call: 2 }] },
      ],
      { keep: [{ call: 3 }] },
    ) as [[import('../../src/tpu/arena.js').DeviceTensor]];
    // relu([[1.5, -1.5], [3.5, 4.5]]) sums to 9.5
    expect(toNumbers(loss!)[0]).toBe(9.5);
    expect(tc.arena.liveCount).toBe(1);
    expect(tc.arena.bytesInUse).toBe(4);
    expect(tc.stats().opCounts).toEqual({ dot_general: 1, add: 1, max: 1, reduce_sum: 1 });
    // Peak: never more than two 16-byte intermediates live at once.
    expect(tc.arena.peakBytesInUse).toBeLessThanOrEqual(32);
  });

  it('keeps every output when no keep list is given', () => {
    const tc = core();
    const x = tensorFrom('f32', [3], [3, 1, 2]);
    const results = tc.executeSequence([
      { op: 'neg', params: {}, inputs: [x] },
      { op: 'top_k', params: { k: 2 }, inputs: [{ call: 0 }] },
    ]);
    expect(results).toHaveLength(2);
    expect([...toNumbers(results[1]![0]!)]).toEqual([-1, -2]);
    expect([...toNumbers(results[1]![1]!)]).toEqual([1, 2]);
    expect(tc.arena.liveCount).toBe(3);
  });

  it('rejects a sequence that reads a later call, without leaking', () => {
    const tc = core();
    const x = tensorFrom('f32', [2], [1, 2]);
    expect(() =>
      tc.executeSequence([
        { op: 'neg', params: {}, inputs: [x] },
        { op: 'neg', params: {}, inputs: [{ call: 1 }] },
      ]),
    ).toThrow(/not an earlier call/);
    expect(tc.arena.liveCount).toBe(0);
  });

  it('releases partial outputs on OOM and stays usable', () => {
    const tc = core({ hbmBytes: 4 * KiB });
    const x = tensorFrom('f32', [1000], new Array(1000).fill(1));
    expect(() => tc.execute('top_k', { k: 600 }, [x], ['values', 'indices'])).toThrow(OutOfMemoryError);
    expect(tc.arena.bytesInUse).toBe(0);
    expect(tc.now).toBe(0);
    const [v] = tc.execute('top_k', { k: 3 }, [x]);
    expect(v!.shape).toEqual([3]);
  });

  it('runs a fast kernel that accepts the case, the reference kernel otherwise, and only the reference when asked', () => {
    let calls = 0;
    const fastKernels: FastKernelTable = {
      add: (inputs, outputs) => {
        calls++;
        if (inputs[0]!.dtype !== 'f32') return false;
        const [a, b] = [inputs[0]!.data, inputs[1]!.data];
        const out = outputs[0]!.data;
        for (let i = 0; i < out.length; i++) out[i] = a[i]! + b[i]!;
        return true;
      },
    };
    const f = tensorFrom('f32', [2], [1, 2]);
    const i = tensorFrom('i32', [2], [1, 2]);
    const fast = core({ fastKernels });
    expect([...toNumbers(fast.execute('add', {}, [f, f])[0]!)]).toEqual([2, 4]);
    expect([...toNumbers(fast.execute('add', {}, [i, i])[0]!)]).toEqual([2, 4]);
    expect(calls).toBe(2);
    expect(fast.stats()).toMatchObject({ fastKernelOps: 1, referenceKernelOps: 1 });
    const ref = core({ fastKernels, kernels: 'reference' });
    ref.execute('add', {}, [f, f]);
    expect(calls).toBe(2);
    expect(ref.stats()).toMatchObject({ fastKernelOps: 0, referenceKernelOps: 1 });
  });

  it('reports utilization as useful FLOPs over elapsed time x peak, diluted by advance()', () => {
    const tc = core({ hbmBytes: 8 * 1024 * KiB, kernels: 'reference' });
    const n = 128;
    const a = tensorFrom('bf16', [n, n], new Array(n * n).fill(1));
    tc.execute('dot_general', { ...MATMUL, preferredElementType: 'f32' }, [a, a]);
    const s = tc.stats();
    expect(s.utilization).toBeCloseTo(s.usefulFlops / (s.elapsedSeconds * v4.peakFlopsPerCore), 12);
    const before = tc.utilization();
    tc.advance(tc.now, 'ici');
    expect(tc.utilization()).toBeCloseTo(before / 2, 12);
    expect(tc.stats().busySeconds.ici).toBeCloseTo(s.elapsedSeconds, 15);
    const bound = tc.stats().boundSeconds;
    const sum = Object.values(bound).reduce((x, y) => x + y, 0);
    expect(sum).toBeCloseTo(tc.now, 15);
    expect(() => tc.advance(-1)).toThrow(RangeError);
  });

  it('resets counters but never the clock', () => {
    const tc = core();
    const x = tensorFrom('f32', [2], [1, 2]);
    tc.execute('exp', {}, [x]);
    const t = tc.now;
    tc.resetStats();
    expect(tc.now).toBe(t);
    expect(tc.stats()).toMatchObject({ elapsedSeconds: 0, vpuOps: 0, utilization: 0, opCounts: {} });
  });

  it('names the op and shapes when a shape rule fails, leaving nothing allocated', () => {
    const tc = core();
    const a = tensorFrom('f32', [2], [1, 2]);
    const b = tensorFrom('f32', [3], [1, 2, 3]);
    expect(() => tc.execute('add', {}, [a, b])).toThrow(/add/);
    expect(tc.arena.liveCount).toBe(0);
  });

  it('prices a fused sequence as one kernel: same numbers, HBM only across the boundary', () => {
    const q = tensorFrom('bf16', [8, 128], Array.from({ length: 8 * 128 }, (_, i) => Math.sin(i)));
    const db = tensorFrom('bf16', [4096, 128], Array.from({ length: 4096 * 128 }, (_, i) => Math.cos(i * 0.37)));
    const calls = [
      { op: 'dot_general', params: { contractingDims: [[1], [1]], batchDims: [[], []], preferredElementType: 'f32' }, inputs: [q, db] },
      {
        op: 'approx_max_k',
        params: { k: 4, reductionDimension: 1, recallTarget: 0.95, reductionInputSizeOverride: -1, aggregateToTopk: true },
        inputs: [{ call: 0 }],
      },
    ] as const;
    const keep = [{ call: 1, output: 0 }, { call: 1, output: 1 }];
    const unfused = core({ hbmBytes: 8 * 1024 * KiB });
    const [plain] = unfused.executeSequence(calls as never, { keep });
    const fused = core({ hbmBytes: 8 * 1024 * KiB, trace: true });
    const [merged] = fused.executeSequence(calls as never, { keep, fusion: true });
    expect([...toNumbers(merged![1]!)]).toEqual([...toNumbers(plain![1]!)]);
    expect(fused.now).toBeLessThan(unfused.now);
    expect(fused.trace).toHaveLength(1);
    expect(fused.trace[0]).toMatchObject({ op: 'fusion', fusedOps: ['dot_general', 'approx_max_k'], outputShapes: ['f32[8,4]', 'i32[8,4]'] });
    const s = fused.stats();
    expect(s.hbmBytesWritten).toBe(8 * 4 * 4 * 2);
    expect(s.hbmBytesRead).toBe((8 * 128 + 4096 * 128) * 2);
    expect(s.opCounts).toEqual({ dot_general: 1, approx_max_k: 1 });
    expect(s.usefulFlops).toBe(unfused.stats().usefulFlops);
    expect(fused.arena.liveCount).toBe(2);
  });
});
