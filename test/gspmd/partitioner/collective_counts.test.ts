/**
 * Collective counts: the partitioned programs insert the collectives the Megatron and
 * GSPMD papers describe, and no others.
 */
import { describe, expect, it } from 'vitest';
import { jit } from '../../../src/gspmd/api.js';
import { Mesh } from '../../../src/gspmd/mesh.js';
import { P } from '../../../src/gspmd/sharding.js';
import { valueAndGrad } from '../../../src/program/autodiff/api.js';
import * as jnp from '../../../src/program/numpy.js';
import type { Tensor } from '../../../src/program/tracer.js';
import type { AbstractValue } from '../../../src/tpu/tensor.js';
import { collectives, expectMatchesOracle, partitionFn, randomTensor } from './helpers.js';

const f32 = (...shape: number[]): AbstractValue => ({ shape, dtype: 'f32' });

/** Two Megatron MLP blocks: column-parallel first weight, row-parallel second. */
function megatron(x: Tensor, a1: Tensor, b1: Tensor, a2: Tensor, b2: Tensor): Tensor {
  const block = (h: Tensor, w: Tensor, v: Tensor) => jnp.add(h, jnp.matmul(jnp.maximum(jnp.matmul(h, w), 0), v));
  return block(block(x, a1, b1), a2, b2);
}
const megatronLoss = (x: Tensor, a1: Tensor, b1: Tensor, a2: Tensor, b2: Tensor) => jnp.sum(jnp.square(megatron(x, a1, b1, a2, b2)));
const megatronTrain = (x: Tensor, a1: Tensor, b1: Tensor, a2: Tensor, b2: Tensor) => {
  const [loss, grads] = valueAndGrad(megatronLoss, { argnums: [0, 1, 2, 3, 4] })(x, a1, b1, a2, b2) as [Tensor, Tensor[]];
  return [loss, ...grads];
};

describe('Megatron-style MLP', () => {
  const mesh = Mesh.fromAxes({ model: 4 });
  const avals = [f32(8, 16), f32(16, 32), f32(32, 16), f32(16, 32), f32(32, 16)];
  const shardings = [null, P(null, 'model'), P('model', null), P(null, 'model'), P('model', null)];

  it('forward: exactly one all-reduce per layer', () => {
    const p = partitionFn((...a: Tensor[]) => megatron(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!), avals, mesh, shardings);
    expect(collectives(p.partitioned)).toEqual(['psum(model)', 'psum(model)']);
    expectMatchesOracle(p, avals.map((a, i) => randomTensor(a.shape, 10 + i)));
  });

  it('backward: one more all-reduce per layer, nothing else', () => {
    const p = partitionFn((...a: Tensor[]) => megatronTrain(a[0]!, a[1]!, a[2]!, a[3]!, a[4]!), avals, mesh, shardings, [
      null,
      null,
      P(null, 'model'),
      P('model', null),
      P(null, 'model'),
      P('model', null),
    ]);
    expect(collectives(p.partitioned)).toEqual(Array(4).fill('psum(model)'));
    expectMatchesOracle(p, avals.map((a, i) => randomTensor(a.shape, 20 + i)));
  });
});

describe('pure data parallelism', () => {
  const mesh = Mesh.fromAxes({ data: 4 });
  const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, x: Tensor, t: Tensor) =>
    jnp.mean(jnp.square(jnp.subtract(jnp.add(jnp.matmul(jnp.tanh(jnp.add(jnp.matmul(x, w1), b1)), w2), b2), t)));
  const train = (...a: Tensor[]) => {
    const [value, grads] = valueAndGrad(loss, { argnums: [0, 1, 2, 3] })(...a) as [Tensor, Tensor[]];
    return [value, ...grads];
  };
  const avals = [f32(6, 12), f32(12), f32(12, 3), f32(3), f32(32, 6), f32(32, 3)];

  it('inserts one gradient all-reduce per parameter (plus the loss)', () => {
    const p = partitionFn(train, avals, mesh, [null, null, null, null, P('data', null), P('data', null)]);
    const cs = collectives(p.partitioned);
    expect(cs.every((c) => c === 'psum(data)')).toBe(true);
    expect(cs.length).toBe(4 + 1);
    // Each gradient output is the result of one of those all-reduces.
    const psumOutputs = new Set(p.partitioned.program.equations.filter((eq) => eq.op === 'psum').map((eq) => eq.outputs[0]!.id));
    const gradOutputs = p.partitioned.program.outputs.slice(1);
    const fromPsum = (id: number): boolean => {
      if (psumOutputs.has(id)) return true;
      // A gradient may be scaled after its all-reduce (the mean's 1/B); follow element-wise ops back.
      const def = p.partitioned.program.equations.find((eq) => eq.outputs.some((v) => v.id === id));
      return !!def && def.op !== 'dot_general' && def.inputs.some((a) => a.kind === 'var' && fromPsum(a.id));
    };
    for (const g of gradOutputs) expect(g.kind === 'var' && fromPsum(g.id)).toBe(true);
    expectMatchesOracle(p, avals.map((a, i) => randomTensor(a.shape, 30 + i)));
  });
});

describe('2D sharding of a Transformer feed-forward layer (GSPMD paper, section 5.1)', () => {
  // Mesh X x Y; activations [B, S, M] split B on X and M on Y; the hidden [B, S, H] B on X
  // and H on Y; weights [M, H] and [H, M] split M on X and H on Y.
  const mesh = Mesh.fromAxes({ X: 2, Y: 4 });
  const ffn = (x: Tensor, wIn: Tensor, wOut: Tensor) => {
    const h = jnp.maximum(jnp.einsum('bsm,mh->bsh', x, wIn), 0);
    return jnp.einsum('bsh,hm->bsm', h, wOut);
  };
  const avals = [f32(8, 16, 32), f32(32, 64), f32(64, 32)];

  it('all-gathers weights along X, reduce-scatters the output along Y, and never all-reduces', () => {
    const p = partitionFn(ffn, avals, mesh, [P('X', null, 'Y'), P('X', 'Y'), P('Y', 'X')], [P('X', null, 'Y')]);
    // Activations gathered along Y and the weight along X before the first einsum; the
    // second weight gathered along X, and the partial sums reduce-scattered along Y.
    expect(collectives(p.partitioned)).toEqual(['all_gather(Y)', 'all_gather(X)', 'all_gather(X)', 'psum_scatter(Y)']);
    expectMatchesOracle(p, avals.map((a, i) => randomTensor(a.shape, 40 + i)));
  });
});

describe('dump of a partitioned program', () => {
  it('prints one op a line with local shapes, shardings and collectives, per core', () => {
    const mesh = Mesh.fromAxes({ data: 2, model: 2 });
    const f = (x: Tensor, w: Tensor) => jnp.matmul(x, w);
    const compiled = jit(f, { mesh, inShardings: [P('data', 'model'), P('model', null)] }).compile(f32(8, 6), f32(6, 4));
    const text = compiled.dump(3);
    expect(text).toContain('// core 3: data=1, model=1');
    expect(text).toMatch(/%0 = f32\[4,3\] parameter\(0\), sharding=\{devices=\[2,2\]0,1,2,3\}, global=f32\[8,6\]/);
    expect(text).toMatch(/f32\[4,4\] dot_general\(%0, %1\)/);
    expect(text).toMatch(/psum\(%\d+\), axes=\[model\]/);
    const lines = text.split('\n');
    expect(lines.filter((l) => l.includes(' = ')).length).toBe(compiled.partitioned.program.inputs.length + compiled.partitioned.program.equations.length + 1);
    const out = compiled.run([randomTensor([8, 6], 1), randomTensor([6, 4], 2)]);
    expect(out[0]!.shape).toEqual([8, 4]);
  });
});
