import { describe, expect, it } from 'vitest';
import { Device } from '../../src/program/device.js';
import { jit } from '../../src/program/jit.js';
import { Tensor, bind1, isTracing } from '../../src/program/tracer.js';
import { grad } from '../../src/program/autodiff/api.js';
import { add, mul, reduceSum, scale, unary } from '../../src/program/autodiff/builders.js';
import { rng, tensor, uniform } from './autodiff/helpers.js';

const sumAll = (x: Tensor): Tensor => reduceSum(x, x.shape.map((_, i) => i));

describe('jit', () => {
  it('traces once per input signature and reuses the program', () => {
    let traces = 0;
    const f = jit((x: Tensor, y: Tensor) => {
      traces++;
      return add(unary('exp', x), y);
    });
    const r = rng(1);
    f(uniform(r, [2, 3]), uniform(r, [2, 3]));
    f(uniform(r, [2, 3]), uniform(r, [2, 3]));
    expect(traces).toBe(1);
    f(uniform(r, [4]), uniform(r, [4]));
    expect(traces).toBe(2);
    f(uniform(r, [2, 3], -1, 1, 'bf16'), uniform(r, [2, 3], -1, 1, 'bf16'));
    expect(traces).toBe(3);
    expect(f.cacheSize).toBe(3);
    f.clearCache();
    expect(f.cacheSize).toBe(0);
  });

  it('keys the cache on static (non-Tensor) leaves and the tree structure', () => {
    let traces = 0;
    const f = jit((args: { x: Tensor; k: number; act: string }) => {
      traces++;
      const y = scale(args.x, args.k);
      return args.act === 'tanh' ? unary('tanh', y) : y;
    });
    const x = tensor([2], [0.5, -0.5]);
    const a = f({ x, k: 2, act: 'tanh' }) as Tensor;
    f({ x, k: 2, act: 'tanh' });
    const b = f({ x, k: 3, act: 'none' }) as Tensor;
    expect(traces).toBe(2);
    expect(Array.from(a.toNumbers())).toEqual([Math.fround(Math.tanh(1)), Math.fround(Math.tanh(-1))]);
    expect(Array.from(b.toNumbers())).toEqual([1.5, -1.5]);
  });

  it('runs eagerly on its device, priced, and returns the output pytree', () => {
    const device = new Device({ hbmBytes: 1024 * 1024 });
    const f = jit((p: { w: Tensor }, x: Tensor) => ({ y: bind1('dot_general', [x, p.w], { contractingDims: [[1], [0]], batchDims: [[], []] }), n: [sumAll(x)] }), {
      device,
    });
    const r = rng(2);
    const w = uniform(r, [3, 2]);
    const x = uniform(r, [4, 3]);
    const before = device.core.now;
    const out = f({ w }, x) as { y: Tensor; n: Tensor[] };
    expect(device.core.now).toBeGreaterThan(before);
    expect(out.y.isConcrete).toBe(true);
    expect([...out.y.shape]).toEqual([4, 2]);
    expect(out.n[0]!.item()).toBeCloseTo(Array.from(x.toNumbers()).reduce((s, v) => s + v, 0), 5);
    expect(device.core.arena.bytesInUse).toBe(0);
  });

  it('inlines into an enclosing trace: grad of jit and jit of grad agree with eager grad', () => {
    const loss = (x: Tensor): Tensor => sumAll(mul(unary('sin', x), x));
    const x = uniform(rng(3), [5]);
    const eager = (grad(loss)(x) as Tensor).toNumbers();
    const gradOfJit = (grad(jit(loss))(x) as Tensor).toNumbers();
    const jitOfGrad = jit((y: Tensor) => grad(loss)(y) as Tensor);
    const compiled = (jitOfGrad(x) as Tensor).toNumbers();
    Array.from(eager).forEach((v, i) => {
      expect(gradOfJit[i]).toBeCloseTo(v, 6);
      expect(compiled[i]).toBeCloseTo(v, 5);
    });
    // The compiled gradient program holds the forward and backward equations.
    expect(jitOfGrad.lower(x).equations.length).toBeGreaterThan(3);
  });

  it('does not cache a trace that captured a tracer of an enclosing trace', () => {
    let traces = 0;
    const outer = (x: Tensor): Tensor => {
      const inner = jit((y: Tensor) => {
        traces++;
        expect(isTracing()).toBe(true);
        return mul(x, y);
      });
      const out = sumAll(inner(tensor([2], [1, 2])) as Tensor);
      expect(inner.cacheSize).toBe(0);
      return out;
    };
    expect(Array.from((grad(outer)(tensor([2], [3, 4])) as Tensor).toNumbers())).toEqual([1, 2]);
    expect(traces).toBe(1);
  });

  it('lowers to a program and prints it', () => {
    const f = jit((x: Tensor) => unary('tanh', x), { name: 'act' });
    const x = tensor([3], [0, 1, 2]);
    expect(f.lower(x).equations.map((e) => e.op)).toEqual(['tanh']);
    expect(f.asText(x)).toBe(['ENTRY act {', '  %0 = f32[3] parameter(0)', '  %1 = f32[3] tanh(%0)', '  ROOT %2 = (f32[3]) tuple(%1)', '}'].join('\n'));
  });
});
