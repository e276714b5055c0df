import { describe, expect, it } from 'vitest';
import { chipSpec } from '../../src/tpu/chips.js';
import { TensorCore } from '../../src/tpu/core.js';
import { ShapeError } from '../../src/tpu/primitive.js';
import { tensorFrom } from '../../src/tpu/tensor.js';
import { InterpreterError, interpret } from '../../src/program/interpreter.js';
import type { Equation, Program } from '../../src/program/ir.js';
import { Tensor, bind1, evalProgram, trace } from '../../src/program/tracer.js';
import { add, broadcastInDim, mul, reduceSum, unary } from '../../src/program/autodiff/builders.js';
import { rng, uniform } from './autodiff/helpers.js';

const core = (hbmBytes = 8 * 1024 * 1024): TensorCore => new TensorCore({ chip: chipSpec('v4'), hbmBytes });
const matmul = (a: Tensor, b: Tensor): Tensor => bind1('dot_general', [a, b], { contractingDims: [[1], [0]], batchDims: [[], []] });

function mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor): Tensor[] {
  const h = unary('tanh', add(matmul(x, w1), broadcastInDim(b1, [x.shape[0]!, w1.shape[1]!], [1])));
  const y = matmul(h, w2);
  return [y, reduceSum(mul(y, y), [0, 1])];
}

describe('interpret', () => {
  const r = rng(3);
  const args = [uniform(r, [8, 16]), uniform(r, [16, 32]), uniform(r, [32]), uniform(r, [32, 4])];
  const { program } = trace(mlp, args.map((a) => a.aval));

  it('computes what eager evaluation computes, on the core, priced', () => {
    const c = core();
    const outs = interpret(program, args.map((a) => a.value()), c);
    const eager = evalProgram(program, args);
    expect(outs).toHaveLength(2);
    outs.forEach((o, i) => {
      expect(o.dtype).toBe(eager[i]!.dtype);
      expect([...o.shape]).toEqual([...eager[i]!.shape]);
      const want = eager[i]!.toNumbers();
      Array.from(o.data).forEach((v, j) => expect(v).toBeCloseTo(want[j]!, 4));
    });
    expect(c.now).toBeGreaterThan(0);
    expect(c.stats().opCounts.dot_general).toBe(2);
    expect(c.stats().usefulFlops).toBeGreaterThanOrEqual(2 * 8 * 16 * 32 + 2 * 8 * 32 * 4);
  });

  it('frees every intermediate: the arena is back to its baseline afterwards', () => {
    const c = core();
    const before = c.arena.bytesInUse;
    interpret(program, args.map((a) => a.value()), c);
    expect(c.arena.bytesInUse).toBe(before);
    expect(c.arena.liveCount).toBe(0);
  });

  it('frees each value after its last use, so a long chain peaks at a few live tensors', () => {
    const n = 16 * 1024; // 64 KiB per f32 tensor
    const chain = (x: Tensor): Tensor[] => {
      let y = x;
      for (let i = 0; i < 12; i++) y = unary(i % 2 ? 'tanh' : 'sin', y);
      return [y];
    };
    const { program: p } = trace(chain, [{ dtype: 'f32', shape: [n] }]);
    const c = core(4 * n * 4);
    interpret(p, [tensorFrom('f32', [n], new Float32Array(n).fill(0.5))], c);
    // 12 ops in a chain: input and output of one op live at a time (13 tensors without liveness).
    expect(c.arena.peakBytesInUse).toBe(2 * n * 4);
    expect(c.arena.bytesInUse).toBe(0);
  });

  it('returns constants and inputs that are outputs', () => {
    const { program: p } = trace((x: Tensor) => [x, Tensor.concrete(tensorFrom('f32', [2], [7, 8]))], [{ dtype: 'f32', shape: [2] }]);
    const [a, b] = interpret(p, [tensorFrom('f32', [2], [1, 2])], core());
    expect(Array.from(a!.data)).toEqual([1, 2]);
    expect(Array.from(b!.data)).toEqual([7, 8]);
  });

  it('names a bad input, and releases everything when an op fails', () => {
    const c = core();
    expect(() => interpret(program, [args[0]!.value()], c)).toThrow(InterpreterError);
    expect(() => interpret(program, [args[1]!.value(), ...args.slice(1).map((a) => a.value())], c)).toThrow(
      /input 0 is f32\[16,32\], the program expects f32\[8,16\]/,
    );
    const bad: Program = {
      ...program,
      equations: [{ ...program.equations[0]!, params: { contractingDims: [[0], [0]], batchDims: [[], []] } } as Equation],
    };
    expect(() => interpret(bad, args.map((a) => a.value()), c)).toThrow(ShapeError);
    expect(c.arena.bytesInUse).toBe(0);
  });
});
