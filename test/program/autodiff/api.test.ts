import { describe, expect, it } from 'vitest';
import { DTypeError, type DType } from '../../../src/tpu/dtype.js';
import { ShapeError } from '../../../src/tpu/primitive.js';
import { Tensor, annotate, bind1, trace } from '../../../src/program/tracer.js';
import { grad, jvp, stopGradient, valueAndGrad, vjp } from '../../../src/program/autodiff/api.js';
import { add, mul, reduceSum, unary } from '../../../src/program/autodiff/builders.js';
import { jit } from '../../../src/program/jit.js';
import { rng, tensor, uniform } from './helpers.js';

const sumAll = (x: Tensor): Tensor => reduceSum(x, x.shape.map((_, i) => i));
const matmul = (a: Tensor, b: Tensor): Tensor => bind1('dot_general', [a, b], { contractingDims: [[1], [0]], batchDims: [[], []] });

describe('grad', () => {
  it('differentiates with respect to a pytree and returns gradients of the same structure', () => {
    const r = rng(1);
    const params = { w: uniform(r, [3, 2]), b: [uniform(r, [2])] };
    const x = uniform(r, [4, 3]);
    const f = (p: typeof params, xs: Tensor): Tensor => sumAll(mul(add(matmul(xs, p.w), bind1('broadcast_in_dim', [p.b[0]!], { shape: [4, 2], broadcastDimensions: [1] })), tensor([4, 2], new Array(8).fill(2))));
    const g = grad(f)(params, x) as { w: Tensor; b: Tensor[] };
    expect([...g.w.shape]).toEqual([3, 2]);
    expect(g.b).toHaveLength(1);
    // d/db of Σ 2(xw + b) is 2 per row: 8 for each of the two outputs.
    expect(Array.from(g.b[0]!.toNumbers())).toEqual([8, 8]);
    // d/dw[i][j] = 2 Σ_n x[n][i].
    const xs = x.toNumbers();
    const colSums = [0, 1, 2].map((i) => [0, 1, 2, 3].reduce((s, n) => s + xs[n * 3 + i]!, 0));
    Array.from(g.w.toNumbers()).forEach((v, k) => expect(v).toBeCloseTo(2 * colSums[Math.floor(k / 2)]!, 5));
  });

  it('takes argnums and hasAux', () => {
    const x = tensor([2], [1, 2]);
    const y = tensor([2], [3, 4]);
    const f = (a: Tensor, b: Tensor): [Tensor, Tensor] => [sumAll(mul(a, b)), mul(a, a)];
    const [[gx, gy], aux0] = grad(f, { argnums: [0, 1], hasAux: true })(x, y) as [[Tensor, Tensor], Tensor];
    expect(Array.from(gx.toNumbers())).toEqual([3, 4]);
    expect(Array.from(gy.toNumbers())).toEqual([1, 2]);
    expect(Array.from(aux0.toNumbers())).toEqual([1, 4]);
    const [[value, aux], g1] = valueAndGrad(f, { argnums: 1, hasAux: true })(x, y) as [[Tensor, Tensor], Tensor];
    expect(value.item()).toBe(11);
    expect(Array.from(aux.toNumbers())).toEqual([1, 4]);
    expect(Array.from(g1.toNumbers())).toEqual([1, 2]);
  });

  it('of a non-scalar output is an error naming the shape', () => {
    expect(() => grad((x: Tensor) => mul(x, x))(tensor([3], [1, 2, 3]))).toThrow(/scalar output.*f32\[3\]/);
  });

  it('of a non-float output or with respect to an integer input is an error', () => {
    expect(() => grad((x: Tensor) => bind1('convert_element_type', [sumAll(x)], { newDtype: 'i32' }))(tensor([2], [1, 2]))).toThrow(/float output.*i32\[\]/);
    expect(() => grad((x: Tensor) => sumAll(x))(tensor([2], [1, 2], 'i32'))).toThrow(/float inputs.*i32\[2\]/);
  });

  it('surfaces shape errors from tracing with the op and both shapes', () => {
    const w = tensor([4, 2], new Array(8).fill(1));
    const f = (x: Tensor): Tensor => sumAll(matmul(x, w));
    const run = (): unknown => grad(f)(tensor([2, 3], new Array(6).fill(1)));
    expect(run).toThrow(ShapeError);
    expect(run).toThrow(/dot_general.*f32\[2,3\].*f32\[4,2\]/);
    expect(() => jit(f)(tensor([2, 3], new Array(6).fill(1)))).toThrow(/dot_general.*f32\[2,3\].*f32\[4,2\]/);
  });

  it('rejects an unknown dtype', () => {
    expect(() => grad((x: Tensor) => sumAll(bind1('convert_element_type', [x], { newDtype: 'f64' as DType })))(tensor([2], [1, 2]))).toThrow(
      /convert_element_type.*f64/,
    );
    const bad = Tensor.concrete({ dtype: 'f64' as DType, shape: [2], data: new Float32Array(2) });
    expect(() => jit((x: Tensor) => x)(bad)).toThrow(DTypeError);
  });

  it('nests: the inner gradient closes over the outer variable', () => {
    // f(x) = d/dy Σ x·y² at y0 = 2·x·y0, so df/dx summed is 2·y0 per element.
    const y0 = tensor([3], [1, -2, 0.5]);
    const outer = (x: Tensor): Tensor => sumAll(grad((y: Tensor) => sumAll(mul(x, mul(y, y))))(y0) as Tensor);
    expect(Array.from((grad(outer)(tensor([3], [0.3, 0.4, 0.5])) as Tensor).toNumbers())).toEqual([2, -4, 1]);
  });
});

describe('vjp and jvp', () => {
  it('vjp returns one cotangent per primal and checks the cotangent shape', () => {
    const x = tensor([2], [0.5, -1]);
    const y = tensor([2], [2, 3]);
    const [out, vjpFn] = vjp((a: Tensor, b: Tensor) => ({ p: mul(a, b), s: add(a, b) }), x, y);
    expect(Array.from((out.p as Tensor).toNumbers())).toEqual([1, -3]);
    const [gx, gy] = vjpFn({ p: tensor([2], [1, 1]), s: tensor([2], [10, 10]) }) as Tensor[];
    expect(Array.from(gx!.toNumbers())).toEqual([12, 13]);
    expect(Array.from(gy!.toNumbers())).toEqual([10.5, 9]);
    expect(() => vjpFn({ p: tensor([3], [1, 1, 1]), s: tensor([2], [1, 1]) })).toThrow(/cotangent f32\[3\] for output f32\[2\]/);
  });

  it('vjp gives zero cotangents for primals the output does not depend on', () => {
    const [, vjpFn] = vjp((a: Tensor, _b: Tensor) => unary('exp', a), tensor([1], [0]), tensor([2], [1, 2]));
    const [, gb] = vjpFn(tensor([1], [1])) as Tensor[];
    expect(Array.from(gb!.toNumbers())).toEqual([0, 0]);
  });

  it('jvp pushes a tangent forward and checks tangent types', () => {
    const [y, dy] = jvp((a: Tensor) => mul(a, a), [tensor([2], [3, 4])], [tensor([2], [1, 0.5])]);
    expect(Array.from((y as Tensor).toNumbers())).toEqual([9, 16]);
    expect(Array.from((dy as Tensor).toNumbers())).toEqual([6, 4]);
    expect(() => jvp((a: Tensor) => a, [tensor([2], [1, 2])], [tensor([2], [1, 2], 'bf16')])).toThrow(/tangent bf16\[2\] for primal f32\[2\]/);
  });
});

describe('stopGradient', () => {
  it('blocks the derivative but keeps the value, exactly', () => {
    const x = tensor([3], [0.1, -2.5, 3.3]);
    const f = (a: Tensor): Tensor => sumAll(mul(a, stopGradient(a)));
    expect(Array.from((grad(f)(x) as Tensor).toNumbers())).toEqual(Array.from(x.toNumbers()));
    const xb = tensor([2], [0.1, -2.5], 'bf16');
    const g = grad((a: Tensor) => sumAll(mul(a, stopGradient(a))))(xb) as Tensor;
    expect(g.dtype).toBe('bf16');
    expect(Array.from(g.toNumbers())).toEqual(Array.from(xb.toNumbers()));
  });
});

describe('sharding annotations', () => {
  it('move with values through grad and jvp, and the cotangent or tangent gets its primal\'s annotation', () => {
    const ann = { kind: 'sharding' as const, text: '{devices=[2,1]0,1}' };
    const f = (x: Tensor): Tensor => {
      const h = unary('tanh', x);
      annotate(h, ann);
      return sumAll(h);
    };
    const aval = { dtype: 'f32' as const, shape: [4, 2] };
    const viaGrad = trace((x: Tensor) => [grad(f)(x) as Tensor], [aval]).program;
    // The forward tanh and the cotangent of its output are both annotated.
    expect([...(viaGrad.annotations?.values() ?? [])]).toEqual([ann, ann]);
    const tanhOut = viaGrad.equations.find((e) => e.op === 'tanh')!.outputs[0]!;
    expect(viaGrad.annotations?.get(tanhOut.id)).toEqual(ann);
    const viaJvp = trace((x: Tensor, t: Tensor) => jvp(f, [x], [t]) as Tensor[], [aval, aval]).program;
    expect(viaJvp.annotations?.size).toBe(2);
  });
});
