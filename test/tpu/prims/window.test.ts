import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { WINDOW_PRIMS } from '../../../src/tpu/prims/window.js';
import type { WindowParams } from '../../../src/tpu/ops.js';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { type TensorView, tensorFrom, toNumbers } from '../../../src/tpu/tensor.js';
import { runDef } from './run_def.js';

type ReduceName = 'reduce_window_sum' | 'reduce_window_max' | 'reduce_window_min';

function reduceWindow(op: ReduceName, x: TensorView, p: WindowParams): TensorView {
  return runDef(WINDOW_PRIMS[op], [x], p)[0]!;
}

function scatter(source: TensorView, operand: TensorView, p: WindowParams): TensorView {
  return runDef(WINDOW_PRIMS.select_and_scatter_add, [source, operand], p)[0]!;
}

const noPad = (rank: number) => Array.from({ length: rank }, () => [0, 0] as const);

describe('reduce_window by hand', () => {
  const x4 = tensorFrom('f32', [4, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);

  it('max-pools 2x2 windows with stride 2', () => {
    const out = reduceWindow('reduce_window_max', x4, { windowDimensions: [2, 2], windowStrides: [2, 2], padding: noPad(2) });
    expect(out.shape).toEqual([2, 2]);
    expect([...toNumbers(out)]).toEqual([6, 8, 14, 16]);
  });

  it('sums with zero padding', () => {
    const x = tensorFrom('f32', [3], [1, 2, 3]);
    const out = reduceWindow('reduce_window_sum', x, { windowDimensions: [2], windowStrides: [1], padding: [[1, 1]] });
    expect([...toNumbers(out)]).toEqual([1, 3, 5, 3]);
  });

  it('pads max with -inf and min with +inf (identities, never values)', () => {
    const x = tensorFrom('f32', [2], [-5, -7]);
    const p = { windowDimensions: [2], windowStrides: [1], padding: [[1, 1]] as const };
    expect([...toNumbers(reduceWindow('reduce_window_max', x, p))]).toEqual([-5, -5, -7]);
    const y = tensorFrom('i32', [2], [5, 7]);
    expect([...toNumbers(reduceWindow('reduce_window_min', y, p))]).toEqual([5, 5, 7]);
  });

  it('handles base dilation (holes hold the identity) and window dilation', () => {
    const x = tensorFrom('f32', [3], [1, 2, 3]);
    // base-dilated: 1 _ 2 _ 3; windows of 2: {1,_},{_,2},{2,_},{_,3}
    const based = reduceWindow('reduce_window_sum', x, { windowDimensions: [2], windowStrides: [1], padding: noPad(1), baseDilation: [2] });
    expect([...toNumbers(based)]).toEqual([1, 2, 2, 3]);
    // window dilation 2: taps i and i+2
    const y = tensorFrom('f32', [5], [1, 2, 3, 4, 5]);
    const dilated = reduceWindow('reduce_window_max', y, { windowDimensions: [2], windowStrides: [1], padding: noPad(1), windowDilation: [2] });
    expect([...toNumbers(dilated)]).toEqual([3, 4, 5]);
  });

  it('propagates NaN through max and min', () => {
    const x = tensorFrom('f32', [3], [1, NaN, 2]);
    const out = reduceWindow('reduce_window_max', x, { windowDimensions: [2], windowStrides: [1], padding: noPad(1) });
    expect([...toNumbers(out)].map(Number.isNaN)).toEqual([true, true]);
  });

  it('wraps i32 sums', () => {
    const x = tensorFrom('i32', [2], [2147483647, 1]);
    const out = reduceWindow('reduce_window_sum', x, { windowDimensions: [2], windowStrides: [1], padding: noPad(1) });
    expect(out.data[0]).toBe(-2147483648);
  });

  it('rejects bad windows with a ShapeError naming the op', () => {
    const v = { shape: [4, 4], dtype: 'f32' as const };
    const rule = WINDOW_PRIMS.reduce_window_sum.shape;
    expect(() => rule([v], { windowDimensions: [2], windowStrides: [1], padding: noPad(1) })).toThrow(ShapeError);
    expect(() => rule([v], { windowDimensions: [2, 0], windowStrides: [1, 1], padding: noPad(2) })).toThrow(/reduce_window_sum.*size 0/);
    expect(() => rule([v], { windowDimensions: [2, 2], windowStrides: [1, 0], padding: noPad(2) })).toThrow(/stride/);
    expect(() => rule([{ shape: [4], dtype: 'bool' }], { windowDimensions: [2], windowStrides: [1], padding: noPad(1) })).toThrow(/number dtype/);
    expect(() => WINDOW_PRIMS.reduce_window_max.shape([{ shape: [4], dtype: 'bool' }], { windowDimensions: [2], windowStrides: [1], padding: noPad(1) })).not.toThrow();
  });
});

/** Oracle: materialise the base-dilated, padded operand (identity fill), then slide the dilated window. */
function oracleReduceWindow2d(
  x: number[], [H, W]: [number, number], init: number, f: (a: number, b: number) => number,
  p: { win: [number, number]; stride: [number, number]; pad: [[number, number], [number, number]]; base: [number, number]; wdil: [number, number] },
): { shape: number[]; values: number[] } {
  const grid = (n: number, d: number, lo: number, hi: number) => {
    // positions of the padded dilated axis -> source index or -1
    const out: number[] = [];
    const dilatedLen = n === 0 ? 0 : (n - 1) * d + 1;
    for (let q = -lo; q < dilatedLen + hi; q++) out.push(q >= 0 && q < dilatedLen && q % d === 0 ? q / d : -1);
    return out;
  };
  const rows = grid(H, p.base[0], p.pad[0][0], p.pad[0][1]);
  const cols = grid(W, p.base[1], p.pad[1][0], p.pad[1][1]);
  const span = (k: number, d: number) => (k - 1) * d + 1;
  const OH = rows.length < span(p.win[0], p.wdil[0]) ? 0 : Math.floor((rows.length - span(p.win[0], p.wdil[0])) / p.stride[0]) + 1;
  const OW = cols.length < span(p.win[1], p.wdil[1]) ? 0 : Math.floor((cols.length - span(p.win[1], p.wdil[1])) / p.stride[1]) + 1;
  const values: number[] = [];
  for (let oy = 0; oy < OH; oy++) {
    for (let ox = 0; ox < OW; ox++) {
      let acc = init;
      for (let ky = 0; ky < p.win[0]; ky++) {
        for (let kx = 0; kx < p.win[1]; kx++) {
          const r = rows[oy * p.stride[0] + ky * p.wdil[0]]!;
          const c = cols[ox * p.stride[1] + kx * p.wdil[1]]!;
          acc = f(acc, r < 0 || c < 0 ? init : x[r * W + c]!);
        }
      }
      values.push(acc);
    }
  }
  return { shape: [OH, OW], values };
}

const windowCase = fc.record({
  h: fc.integer({ min: 1, max: 6 }),
  w: fc.integer({ min: 1, max: 6 }),
  win: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  pad: fc.tuple(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: -1, max: 2 })), fc.tuple(fc.integer({ min: -1, max: 2 }), fc.integer({ min: 0, max: 2 }))),
  base: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  wdil: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  seed: fc.nat(),
});

describe('reduce_window properties', () => {
  it('sum, max and min match a materialised-padding oracle', () => {
    fc.assert(
      fc.property(windowCase, (c) => {
        const x = Array.from({ length: c.h * c.w }, (_, i) => ((i * 13 + c.seed) % 17) - 8);
        const params: WindowParams = { windowDimensions: c.win, windowStrides: c.stride, padding: c.pad, baseDilation: c.base, windowDilation: c.wdil };
        const t = tensorFrom('f32', [c.h, c.w], x);
        const cases: [ReduceName, number, (a: number, b: number) => number][] = [
          ['reduce_window_sum', 0, (a, b) => a + b],
          ['reduce_window_max', -Infinity, Math.max],
          ['reduce_window_min', Infinity, Math.min],
        ];
        for (const [op, init, f] of cases) {
          const expected = oracleReduceWindow2d(x, [c.h, c.w], init, f, c);
          const out = reduceWindow(op, t, params);
          expect(out.shape).toEqual(expected.shape);
          expect([...toNumbers(out)]).toEqual(expected.values);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('average pooling = reduce_window_sum / window size (NHWC, VALID)', () => {
    fc.assert(
      fc.property(
        fc.record({ n: fc.integer({ min: 1, max: 2 }), h: fc.integer({ min: 2, max: 6 }), w: fc.integer({ min: 2, max: 6 }), c: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 2 }), s: fc.integer({ min: 1, max: 2 }), seed: fc.nat() }),
        ({ n, h, w, c, k, s, seed }) => {
          const x = Array.from({ length: n * h * w * c }, (_, i) => ((i * 7 + seed) % 11) - 5);
          const sums = reduceWindow('reduce_window_sum', tensorFrom('f32', [n, h, w, c], x), {
            windowDimensions: [1, k, k, 1], windowStrides: [1, s, s, 1], padding: noPad(4),
          });
          const OH = Math.floor((h - k) / s) + 1;
          const OW = Math.floor((w - k) / s) + 1;
          expect(sums.shape).toEqual([n, OH, OW, c]);
          const avg = toNumbers(sums).map((v) => v / (k * k));
          let o = 0;
          for (let b = 0; b < n; b++) for (let y = 0; y < OH; y++) for (let z = 0; z < OW; z++) for (let ch = 0; ch < c; ch++) {
            let total = 0;
            for (const dy of [...Array(k).keys()]) for (const dz of [...Array(k).keys()]) total += x[((b * h + y * s + dy) * w + z * s + dz) * c + ch]!;
            expect(avg[o++]).toBe(total / (k * k));
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('select_and_scatter_add', () => {
  it('adds each window\'s source at its max (XLA SelectAndScatter example)', () => {
    // Operand 4x6, windows 2x3 stride 2x3 -> 2x2 source.
    const operand = tensorFrom('f32', [4, 6], [7, 2, 5, 3, 10, 2, 3, 9, 2, 3, 8, 4, 1, 5, 7, 5, 6, 3, 9, 4, 2, 8, 4, 7]);
    const source = tensorFrom('f32', [2, 2], [2, 6, 3, 1]);
    const out = scatter(source, operand, { windowDimensions: [2, 3], windowStrides: [2, 3], padding: noPad(2) });
    const expected = new Array(24).fill(0);
    expected[7] = 2; // 9 at (1,1)
    expected[4] = 6; // 10 at (0,4)
    expected[18] = 3; // 9 at (3,0)
    expected[21] = 1; // 8 at (3,3)
    expect([...toNumbers(out)]).toEqual(expected);
  });

  it('accumulates where windows overlap, and the first max wins ties', () => {
    const operand = tensorFrom('f32', [4], [1, 5, 5, 2]);
    const source = tensorFrom('f32', [3], [10, 20, 30]);
    const out = scatter(source, operand, { windowDimensions: [2], windowStrides: [1], padding: noPad(1) });
    // windows {1,5}->1, {5,5}->1 (first), {5,2}->2
    expect([...toNumbers(out)]).toEqual([0, 30, 30, 0]);
  });

  it('never selects padding, even against -inf', () => {
    const operand = tensorFrom('f32', [1], [-Infinity]);
    const source = tensorFrom('f32', [2], [4, 8]);
    const out = scatter(source, operand, { windowDimensions: [2], windowStrides: [1], padding: [[1, 1]] });
    expect([...toNumbers(out)]).toEqual([12]);
  });

  it('follows the select=ge rule literally around NaN', () => {
    // !(NaN >= 1) moves the selection off a NaN; !(1 >= NaN) moves it onto one.
    const p = { windowDimensions: [2], windowStrides: [2], padding: noPad(1) };
    expect([...toNumbers(scatter(tensorFrom('f32', [1], [1]), tensorFrom('f32', [2], [NaN, 1]), p))]).toEqual([0, 1]);
    expect([...toNumbers(scatter(tensorFrom('f32', [1], [1]), tensorFrom('f32', [2], [1, NaN]), p))]).toEqual([0, 1]);
  });

  it('rejects a source whose shape is not the windowed operand shape', () => {
    expect(() =>
      WINDOW_PRIMS.select_and_scatter_add.shape([{ shape: [3], dtype: 'f32' }, { shape: [4], dtype: 'f32' }], {
        windowDimensions: [2], windowStrides: [2], padding: noPad(1),
      }),
    ).toThrow(/select_and_scatter_add.*source shape \[3\].*\[2\].*f32\[3\], f32\[4\]/);
  });

  it('is the VJP of reduce_window_max: matches a finite difference on distinct values', () => {
    fc.assert(
      fc.property(windowCase, (c) => {
        const n = c.h * c.w;
        // Distinct integers: nudging one by 0.5 changes only the windows it is the max of, by exactly 0.5.
        const x = Array.from({ length: n }, (_, i) => ((i * 7919 + c.seed) % n) * 2 - n);
        fc.pre(new Set(x).size === n);
        const params: WindowParams = { windowDimensions: c.win, windowStrides: c.stride, padding: c.pad.map(([lo, hi]) => [Math.max(lo, 0), Math.max(hi, 0)] as const) };
        const operand = tensorFrom('f32', [c.h, c.w], x);
        const maxed = reduceWindow('reduce_window_max', operand, params);
        const source = tensorFrom('f32', maxed.shape, Array.from({ length: maxed.data.length }, (_, i) => (i % 5) + 1));
        const grad = toNumbers(scatter(source, operand, params));
        const s = toNumbers(source);
        const objective = (values: number[]) => {
          const m = toNumbers(reduceWindow('reduce_window_max', tensorFrom('f32', [c.h, c.w], values), params));
          return m.reduce((acc, v, i) => acc + (Number.isFinite(v) ? v * s[i]! : 0), 0);
        };
        const base = objective(x);
        for (let i = 0; i < n; i++) {
          const bumped = [...x];
          bumped[i] = bumped[i]! + 0.5;
          expect(grad[i]).toBe((objective(bumped) - base) / 0.5);
        }
      }),
      { numRuns: 60 },
    );
  });
});
