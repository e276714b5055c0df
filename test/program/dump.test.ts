import { describe, expect, it } from 'vitest';
import { dumpProgram, formatNumber } from '../../src/program/dump.js';
import { Tensor, bind, bind1, trace } from '../../src/program/tracer.js';
import { add, broadcastInDim, mul, reduceSum, scalar, unary } from '../../src/program/autodiff/builders.js';
import { roundToBf16 } from '../../src/tpu/dtype.js';
import { tensorFrom } from '../../src/tpu/tensor.js';

const matmul = (a: Tensor, b: Tensor): Tensor => bind1('dot_general', [a, b], { contractingDims: [[1], [0]], batchDims: [[], []] });

/** A 2-layer MLP with a squared-error loss. */
function mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor[] {
  const h = unary('tanh', add(matmul(x, w1), broadcastInDim(b1, [32, 64], [1])));
  const y = add(matmul(h, w2), broadcastInDim(b2, [32, 10], [1]));
  return [y, mul(reduceSum(mul(y, y), [0, 1]), scalar(0.5, 'f32'))];
}

const avals = [
  { dtype: 'f32' as const, shape: [32, 16] },
  { dtype: 'f32' as const, shape: [16, 64] },
  { dtype: 'f32' as const, shape: [64] },
  { dtype: 'f32' as const, shape: [64, 10] },
  { dtype: 'f32' as const, shape: [10] },
];

describe('dumpProgram', () => {
  it('prints a 2-layer MLP one op a line, stably', () => {
    const text = dumpProgram(trace(mlp, avals).program, { name: 'mlp' });
    expect(text).toMatchInlineSnapshot(`
      "ENTRY mlp {
        %0 = f32[32,16] parameter(0)
        %1 = f32[16,64] parameter(1)
        %2 = f32[64] parameter(2)
        %3 = f32[64,10] parameter(3)
        %4 = f32[10] parameter(4)
        %5 = f32[32,64] dot_general(%0, %1), contracting_dims={[1],[0]}, batch_dims={[],[]}
        %6 = f32[32,64] broadcast_in_dim(%2), shape=[32,64], broadcast_dimensions=[1]
        %7 = f32[32,64] add(%5, %6)
        %8 = f32[32,64] tanh(%7)
        %9 = f32[32,10] dot_general(%8, %3), contracting_dims={[1],[0]}, batch_dims={[],[]}
        %10 = f32[32,10] broadcast_in_dim(%4), shape=[32,10], broadcast_dimensions=[1]
        %11 = f32[32,10] add(%9, %10)
        %12 = f32[32,10] mul(%11, %11)
        %13 = f32[] reduce_sum(%12), axes=[0,1]
        %14 = f32[] mul(%13, f32[] 0.5)
        ROOT %15 = (f32[32,10], f32[]) tuple(%11, %14)
      }"
    `);
    // Numbering is per program, not per process: a second trace prints the same text.
    expect(dumpProgram(trace(mlp, avals).program, { name: 'mlp' })).toBe(text);
  });

  it('prints small constants inline, large ones by shape, and multi-output ops as tuples', () => {
    const small = Tensor.concrete(tensorFrom('i32', [3], [1, -2, 3]));
    const big = Tensor.concrete(tensorFrom('f32', [1024, 64], new Float32Array(1024 * 64)));
    const { program } = trace(
      (x: Tensor) => {
        const [v, i] = bind('top_k', [x], { k: 2 });
        return [v!, i!, add(x, big), bind1('add', [small, small], {})];
      },
      [{ dtype: 'f32', shape: [1024, 64] }],
    );
    const text = dumpProgram(program);
    expect(text).toContain('%1, %2 = (f32[1024,2], i32[1024,2]) top_k(%0), k=2');
    expect(text).toContain('add(%0, constant(f32[1024,64]))');
    expect(text).toContain('add(i32[3] {1, -2, 3}, i32[3] {1, -2, 3})');
    expect(text.startsWith('ENTRY main {')).toBe(true);
  });

  it('formats numbers as the shortest decimal that reads back in the dtype', () => {
    expect(formatNumber(Math.fround(0.1), 'f32')).toBe('0.1');
    expect(formatNumber(-Infinity, 'f32')).toBe('-inf');
    expect(formatNumber(NaN, 'bf16')).toBe('nan');
    expect(formatNumber(1, 'bool')).toBe('true');
    expect(formatNumber(roundToBf16(0.1), 'bf16')).toBe('0.1');
  });
});
