/**
 * The partition-rule table and the rules one at a time: coverage of every primitive, the
 * local ops and collectives each efficient rule emits, and the oracle check for ops the
 * suite in oracle.test.ts does not reach.
 */
import { describe, expect, it } from 'vitest';
import type { ShardingArg } from '../../../src/gspmd/api.js';
import { Mesh } from '../../../src/gspmd/mesh.js';
import { PARTITION_RULES } from '../../../src/gspmd/partitioner/table.js';
import { P } from '../../../src/gspmd/sharding.js';
import * as lax from '../../../src/program/lax.js';
import * as jnp from '../../../src/program/numpy.js';
import type { Tensor } from '../../../src/program/tracer.js';
import { PRIMITIVES } from '../../../src/tpu/ops.js';
import { runSpmd } from '../../../src/gspmd/spmd_interpreter.js';
import { type AbstractValue, type TensorView, toNumbers } from '../../../src/tpu/tensor.js';
import { type Partitioned, collectives, expectMatchesOracle, opCounts, partitionFn, randomTensor, runOracle } from './helpers.js';

const f32 = (...shape: number[]): AbstractValue => ({ shape, dtype: 'f32' });
const mesh22 = Mesh.fromAxes({ data: 2, model: 2 });
const mesh24 = Mesh.fromAxes({ data: 2, model: 4 });

function check(
  fn: (...args: Tensor[]) => Tensor | readonly Tensor[],
  avals: readonly AbstractValue[],
  mesh: Mesh,
  shardings: readonly ShardingArg[],
  opts: { bitwise?: boolean; outShardings?: readonly ShardingArg[] } = {},
) {
  const p = partitionFn(fn, avals, mesh, shardings, opts.outShardings);
  expectMatchesOracle(
    p,
    avals.map((a, i) => randomTensor(a.shape, 50 + i, a.dtype, 6)),
    opts.bitwise ? { bitwise: true } : {},
  );
  return p.partitioned;
}

describe('the partition-rule table', () => {
  it('has a rule for every primitive', () => {
    const missing = PRIMITIVES.filter((n) => typeof PARTITION_RULES[n] !== 'function');
    expect(missing).toEqual([]);
    expect(Object.keys(PARTITION_RULES).sort()).toEqual([...PRIMITIVES].sort());
  });
});

describe('dot_general', () => {
  it('contracting dims split alike: local dot then all-reduce', () => {
    const p = check((x, w) => jnp.matmul(x!, w!), [f32(4, 8), f32(8, 6)], mesh22, [P(null, 'model'), P('model', null)]);
    expect(collectives(p)).toEqual(['psum(model)']);
  });

  it('contracting dim split and the output split on the same axis: reduce-scatter', () => {
    const p = check((x, w) => jnp.matmul(x!, w!), [f32(4, 8), f32(8, 6)], mesh22, [P(null, 'model'), P('model', null)], {
      outShardings: [P('model', null)],
    });
    expect(collectives(p)).toEqual(['psum_scatter(model)']);
  });

  it('batch dims split alike: local batched dot, bitwise', () => {
    const f = (a: Tensor, b: Tensor) => jnp.einsum('bij,bjk->bik', a, b);
    const p = check(f, [f32(4, 3, 5), f32(4, 5, 2)], mesh24, [P('model', null, null), P('model', null, null)], { bitwise: true });
    expect(collectives(p)).toEqual([]);
  });

  it('mismatched contracting splits reshard the cheaper operand', () => {
    // x [64, 8] is big, w [8, 4] is small: moving w costs fewer bytes than moving x.
    const p = check((x, w) => jnp.matmul(x!, w!), [f32(64, 8), f32(8, 4)], mesh22, [P(null, 'model'), P(null, null)]);
    expect(collectives(p)).toEqual(['psum(model)']);
    expect(opCounts(p).get('dynamic_slice')).toBe(1);
  });

  it('an uneven contracting dim is masked before the dot', () => {
    const p = check((x, w) => jnp.matmul(x!, w!), [f32(3, 10), f32(10, 5)], mesh24, [P(null, 'model'), P('model', null)]);
    expect(collectives(p)).toEqual(['psum(model)']);
    expect(opCounts(p).get('select')).toBe(2);
  });
});

describe('reductions', () => {
  const x = f32(6, 10);
  for (const [name, f] of [
    ['sum', (a: Tensor) => lax.reduceSum(a, [1])],
    ['max', (a: Tensor) => lax.reduceMax(a, [1])],
    ['min', (a: Tensor) => lax.reduceMin(a, [0, 1])],
    ['prod', (a: Tensor) => lax.reduceProd(a, [1])],
    ['and', (a: Tensor) => lax.reduceAnd(jnp.greater(a, -0.9), [1])],
    ['argmax', (a: Tensor) => lax.argmax(a, 1)],
  ] as const) {
    it(`${name} over a dim split unevenly (padding masked with the identity)`, () => {
      check(f, [x], mesh24, [P('data', 'model')], { bitwise: name !== 'sum' && name !== 'prod' });
    });
  }
  it('a sum over a split dim is a local sum and one psum', () => {
    const p = check((a) => lax.reduceSum(a!, [1]), [f32(4, 8)], mesh22, [P('data', 'model')]);
    expect(collectives(p)).toEqual(['psum(model)']);
  });
});

describe('layout ops', () => {
  it('reshape splitting and merging a split major dim stays local', () => {
    const f = (a: Tensor) => jnp.reshape(jnp.reshape(a, [4, 3, 2, 4]), [12, 8]);
    const p = check(f, [f32(12, 8)], mesh22, [P('data', 'model')], { outShardings: [P('data', 'model')], bitwise: true });
    expect(collectives(p)).toEqual([]);
  });
  it('transpose, slice, pad, concatenate, rev, iota and broadcast on split dims', () => {
    const f = (a: Tensor, b: Tensor) => {
      const t = jnp.transpose(a);
      const s = lax.slice(t, [1, 0], [7, 6]);
      const padded = lax.pad(s, jnp.full([], 0.5, 'f32'), [
        [1, 2, 0],
        [0, 0, 1],
      ]);
      const c = jnp.concatenate([padded, padded], 1);
      const r = lax.rev(c, [0]);
      const i = lax.iota('f32', r.shape, 1);
      return jnp.add(jnp.add(r, i), jnp.broadcastTo(b, r.shape));
    };
    check(f, [f32(6, 9), f32(22)], mesh24, [P('data', 'model'), P('model')], { bitwise: true });
  });
  it('cumulative ops, sort and dynamic slices along split dims', () => {
    const f = (a: Tensor) => {
      const c = lax.cumsum(a, 1, true);
      const [s] = lax.sort([c], 0);
      return lax.dynamicSlice(s!, [jnp.array(1, { dtype: 'i32' }), jnp.array(2, { dtype: 'i32' })], [4, 5]);
    };
    check(f, [f32(6, 10)], mesh24, [P('data', 'model')], { bitwise: true });
  });
  it('scatter-add is computed whole, then sliced', () => {
    const f = (op: Tensor, idx: Tensor, upd: Tensor) =>
      lax.scatterAdd(op, idx, upd, { updateWindowDims: [1], insertedWindowDims: [0], scatterDimsToOperandDims: [0] });
    check(f, [f32(7, 4), { shape: [5, 1], dtype: 'i32' }, f32(5, 4)], mesh22, [P('model', 'data'), null, P('data', null)]);
  });
});

describe('windowed ops', () => {
  const conv = (x: Tensor, k: Tensor) => lax.convGeneralDilated(x, k, { windowStrides: [1, 1], padding: 'SAME', dimensionNumbers: ['NHWC', 'HWIO', 'NHWC'] });
  it('a spatially split convolution exchanges halos by collective-permute', () => {
    const p = check(conv, [f32(1, 8, 8, 2), f32(3, 3, 2, 3)], mesh24, [P(null, 'model', null, null), null], { bitwise: true });
    expect(collectives(p)).toEqual(['ppermute(model)', 'ppermute(model)']);
    expect(p.program.equations.find((eq) => eq.op === 'conv_general_dilated')!.inputs[0]!.aval.shape).toEqual([1, 4, 8, 2]);
  });
  it('strided and dilated convolutions over a split dim', () => {
    const strided = (x: Tensor, k: Tensor) =>
      lax.convGeneralDilated(x, k, { windowStrides: [2, 1], padding: 'SAME', rhsDilation: [1, 1], dimensionNumbers: ['NHWC', 'HWIO', 'NHWC'] });
    check(strided, [f32(1, 16, 4, 2), f32(3, 3, 2, 2)], mesh24, [P(null, 'model', null, null), null], { bitwise: true });
    const dilated = (x: Tensor, k: Tensor) =>
      lax.convGeneralDilated(x, k, { windowStrides: [1, 1], padding: 'SAME', rhsDilation: [2, 1], dimensionNumbers: ['NHWC', 'HWIO', 'NHWC'] });
    check(dilated, [f32(1, 16, 4, 2), f32(3, 3, 2, 2)], mesh24, [P(null, 'model', null, null), null], { bitwise: true });
  });
  it('input features split alike on input and kernel: local conv then all-reduce', () => {
    const p = check(conv, [f32(2, 6, 6, 4), f32(3, 3, 4, 2)], mesh22, [P(null, null, null, 'model'), P(null, null, 'model', null)]);
    expect(collectives(p)).toEqual(['psum(model)']);
  });
  it('reduce-window with padding on a split dim fills the halo with the identity', () => {
    const f = (x: Tensor) => lax.reduceWindowMax(x, { windowDimensions: [1, 3, 3, 1], windowStrides: [1, 1, 1, 1], padding: 'SAME' });
    const p = check(f, [f32(1, 8, 8, 2)], mesh24, [P(null, 'model', 'data', null)], { bitwise: true });
    expect(collectives(p).filter((c) => c.startsWith('ppermute')).length).toBe(4);
  });
});

describe('top-k', () => {
  it('approx_max_k over a split dim: local PartialReduce with the full size override, all-gather, final top-k', () => {
    const f = (x: Tensor) => lax.approxMaxK(x, 8, { recallTarget: 0.9 });
    const lowering = partitionFn(f, [f32(2, 4096)], Mesh.fromAxes({ x: 4 }), [P(null, 'x')]);
    const eqs = lowering.partitioned.program.equations;
    const local = eqs.find((eq) => eq.op === 'approx_max_k')!;
    expect(local.inputs[0]!.aval.shape).toEqual([2, 1024]);
    expect((local.params as { reductionInputSizeOverride: number }).reductionInputSizeOverride).toBe(4096);
    expect(collectives(lowering.partitioned)).toEqual(['all_gather(x)', 'all_gather(x)']);
    expect(eqs.some((eq) => eq.op === 'top_k')).toBe(true);
    // Every index the partitioned program returns points at the value it returns.
    const input = randomTensor([2, 4096], 3);
    const out = expectRecallAtLeastSingleDevice(lowering, input);
    expect(out).toBe(true);
  });
});

describe('gather', () => {
  it('a table split on its vocabulary: clamp, shift, local gather, mask, one psum', () => {
    const f = (t: Tensor, ids: Tensor) => jnp.take(t, ids, 0);
    const p = check(f, [f32(10, 4), { shape: [4, 5], dtype: 'i32' }], mesh24, [P('model', null), P('data', null)], { bitwise: true });
    expect(collectives(p)).toEqual(['psum(model)']);
  });
  it('a table split on its feature dim gathers locally', () => {
    const f = (t: Tensor, ids: Tensor) => jnp.take(t, ids, 0);
    const p = check(f, [f32(10, 8), { shape: [3, 5], dtype: 'i32' }], mesh24, [P(null, 'model'), P('data', null)], {
      bitwise: true,
      outShardings: [P('data', null, 'model')],
    });
    expect(collectives(p)).toEqual([]);
  });
});

/** The partitioned approx top-k finds at least as many true top-k entries as one device does, with consistent indices. */
function expectRecallAtLeastSingleDevice(p: Partitioned, input: TensorView): boolean {
  const [values, indices] = runSpmd(p.partitioned, [input]).outputs;
  const [oneValues] = runOracle(p.program, [input]);
  const x = toNumbers(input);
  const [rows, n] = input.shape as [number, number];
  const k = values!.shape[1]!;
  const v = toNumbers(values!);
  const idx = toNumbers(indices!);
  const ov = toNumbers(oneValues!);
  for (let r = 0; r < rows; r++) {
    const exact = Array.from(x.subarray(r * n, (r + 1) * n)).sort((a, b) => b - a).slice(0, k);
    const hits = (vals: ArrayLike<number>) => Array.from(vals).filter((y) => exact.includes(y)).length;
    for (let j = 0; j < k; j++) expect(x[r * n + idx[r * k + j]!]).toBe(v[r * k + j]);
    expect(hits(v.subarray(r * k, (r + 1) * k))).toBeGreaterThanOrEqual(hits(ov.subarray(r * k, (r + 1) * k)));
  }
  return true;
}
