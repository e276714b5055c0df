import { describe, expect, it } from 'vitest';
import { allGather, allToAll, axisIndex, pmax, pmean, ppermute, psum, psumScatter } from '../../src/gspmd/lax_parallel.js';
import { Mesh } from '../../src/gspmd/mesh.js';
import { P } from '../../src/gspmd/sharding.js';
import { shardMap } from '../../src/gspmd/shard_map.js';
import { runLockstep } from '../../src/gspmd/spmd_interpreter.js';
import { dumpProgram } from '../../src/program/dump.js';
import { dot, reduceMax, reduceSum, reshape } from '../../src/program/lax.js';
import { Tensor, trace } from '../../src/program/tracer.js';
import { interpret } from '../../src/program/interpreter.js';
import { TensorCore } from '../../src/tpu/core.js';
import { chipSpec } from '../../src/tpu/chips.js';
import { tensorFrom, toNumbers } from '../../src/tpu/tensor.js';

const mesh = Mesh.fromAxes({ data: 4 });
const mesh2d = Mesh.fromAxes({ data: 2, model: 2 });

function arange(shape: number[], dtype: 'f32' | 'i32' = 'f32'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.concrete(tensorFrom(dtype, shape, Array.from({ length: n }, (_, i) => i + 1)));
}

/** The single-device oracle: the same function traced and run by the interpreter. */
function singleDevice(fn: (...xs: Tensor[]) => Tensor, ...args: Tensor[]): Float64Array {
  const { program } = trace((...xs) => [fn(...xs)], args.map((a) => a.aval));
  const core = new TensorCore({ chip: chipSpec('v4'), hbmBytes: 1 << 24 });
  return toNumbers(interpret(program, args.map((a) => a.value()), core)[0]!);
}

describe('shard_map', () => {
  it('psum of per-shard sums equals the unsharded sum', () => {
    const x = arange([8, 3]);
    const f = shardMap((xs: Tensor) => psum(reduceSum(xs, [0, 1]), 'data'), mesh, [P('data', null)], P());
    const out = f(x);
    expect(Array.from(out.toNumbers())).toEqual(Array.from(singleDevice((v) => reduceSum(v, [0, 1]), x)));
    // Priced: each core ran its kernels and spent ICI time in the all-reduce.
    const cores = f.lastCores!;
    expect(cores).toHaveLength(4);
    for (const c of cores) {
      expect(c.stats().busySeconds.ici).toBeGreaterThan(0);
      expect(c.now).toBeGreaterThan(0);
    }
  });

  it('a data-parallel matmul: local dot on row shards equals the global dot', () => {
    const x = arange([8, 4]);
    const w = arange([4, 2]);
    const f = shardMap((xs: Tensor, ws: Tensor) => dot(xs, ws), mesh, [P('data', null), P()], P('data', null));
    expect(Array.from(f(x, w).toNumbers())).toEqual(Array.from(singleDevice(dot, x, w)));
  });

  it('model-parallel contraction: psum of partial dots over the sharded contracting dim', () => {
    const x = arange([4, 8]);
    const w = arange([8, 3]);
    const f = shardMap((xs: Tensor, ws: Tensor) => psum(dot(xs, ws), 'model'), mesh2d, [P('data', 'model'), P('model', null)], P('data', null));
    expect(Array.from(f(x, w).toNumbers())).toEqual(Array.from(singleDevice(dot, x, w)));
  });

  it('axis_index gives each core its index along the axis', () => {
    const f = shardMap(() => reshapeToVector(axisIndex('data')), mesh, [], P('data'));
    expect(Array.from(f().toNumbers())).toEqual([0, 1, 2, 3]);
    const g = shardMap(() => reshapeToVector(axisIndex(['data', 'model'])), mesh2d, [], P(['data', 'model']));
    expect(Array.from(g().toNumbers())).toEqual([0, 1, 2, 3]);
    const h = shardMap(() => reshapeToVector(axisIndex('model')), mesh2d, [], P(['data', 'model']));
    expect(Array.from(h().toNumbers())).toEqual([0, 1, 0, 1]);
  });

  it('all_gather tiled rebuilds the global value on every core; untiled stacks', () => {
    const x = arange([8, 2]);
    const tiled = shardMap((xs: Tensor) => allGather(xs, 'data', { tiled: true }), mesh, [P('data', null)], P());
    expect(Array.from(tiled(x).toNumbers())).toEqual(Array.from(x.toNumbers()));
    const stacked = shardMap((xs: Tensor) => allGather(xs, 'data'), mesh, [P('data', null)], P());
    const s = stacked(x);
    expect(s.shape).toEqual([4, 2, 2]);
    expect(Array.from(s.toNumbers())).toEqual(Array.from(x.toNumbers()));
  });

  it('ppermute shifts shards round a ring; unnamed destinations get zeros', () => {
    const x = arange([4]);
    const ring = shardMap((xs: Tensor) => ppermute(xs, 'data', [[0, 1], [1, 2], [2, 3], [3, 0]]), mesh, [P('data')], P('data'));
    expect(Array.from(ring(x).toNumbers())).toEqual([4, 1, 2, 3]);
    const partial = shardMap((xs: Tensor) => ppermute(xs, 'data', [[0, 1], [1, 2]]), mesh, [P('data')], P('data'));
    expect(Array.from(partial(x).toNumbers())).toEqual([0, 1, 2, 0]);
  });

  it('psum_scatter gives each core its block of the sum', () => {
    const x = arange([4, 4]);
    // Every core holds the whole x; the reduce-scatter sums 4 copies and splits rows.
    const f = shardMap((xs: Tensor) => psumScatter(xs, 'data', { tiled: true }), mesh, [P()], P('data', null));
    expect(Array.from(f(x).toNumbers())).toEqual(Array.from(x.toNumbers(), (v) => 4 * v));
  });

  it('all_to_all moves a row-sharded value to a column-sharded one', () => {
    const x = arange([4, 8]);
    const f = shardMap((xs: Tensor) => allToAll(xs, 'data', 1, 0, { tiled: true }), mesh, [P('data', null)], P(null, 'data'));
    expect(Array.from(f(x).toNumbers())).toEqual(Array.from(x.toNumbers()));
  });

  it('pmax and pmean', () => {
    const x = arange([8]);
    const mx = shardMap((xs: Tensor) => pmax(reduceMaxVector(xs), 'data'), mesh, [P('data')], P());
    expect(mx(x).item()).toBe(8);
    const mean = shardMap((xs: Tensor) => pmean(xs, 'data'), mesh, [P('data')], P());
    expect(Array.from(mean(x).toNumbers())).toEqual([4, 5]);
  });

  it('records collectives with their axes and sizes in the per-core program', () => {
    const f = shardMap((xs: Tensor) => psum(xs, 'data'), mesh, [P('data', null)], P(null, null));
    const spmd = f.lower({ shape: [8, 3], dtype: 'f32' });
    expect(spmd.program.inputs[0]!.aval.shape).toEqual([2, 3]);
    expect(spmd.globalOutAvals[0]!.shape).toEqual([2, 3]);
    expect(dumpProgram(spmd.program)).toContain('psum(%0), axes=[data], axis_sizes=[4]');
  });

  it('rejects collectives outside shard_map, unknown axes and uneven splits', () => {
    expect(() => psum(arange([2]), 'data')).toThrow(/not bound/);
    expect(() => shardMap((xs: Tensor) => psum(xs, 'model'), mesh, [P('data')], P('data')).lower({ shape: [4], dtype: 'f32' })).toThrow(/unbound axis name 'model'/);
    expect(() => shardMap((xs: Tensor) => xs, mesh, [P('data')], P('data')).lower({ shape: [6], dtype: 'f32' })).toThrow(/not divisible by 4/);
  });

  it('the lockstep interpreter detects cores that disagree on the program', () => {
    const f = shardMap((xs: Tensor) => psum(xs, 'data'), mesh, [P('data')], P());
    const spmd = f.lower({ shape: [4], dtype: 'f32' });
    const one = [tensorFrom('f32', [1], [1])];
    expect(() => runLockstep(spmd.program, mesh, [one, one, one])).toThrow(/inputs for 3 cores/);
  });
});

function reshapeToVector(x: Tensor): Tensor {
  return reshape(x, [1]);
}

function reduceMaxVector(x: Tensor): Tensor {
  return reduceMax(x, [0]);
}

import { runSpmdProgramOnCore } from '../../src/gspmd/executor.js';
import { referenceCollective } from '../../src/collectives/ops.js';

describe('runSpmdProgramOnCore', () => {
  it('hands each collective to the communicator and charges its time as ICI', () => {
    const one = Mesh.fromAxes({ data: 1 });
    const spmd = shardMap((xs: Tensor) => psum(xs, 'data'), one, [P('data')], P('data')).lower({ shape: [3], dtype: 'f32' });
    const core = new TensorCore({ chip: chipSpec('v4'), hbmBytes: 1 << 20 });
    const seen: string[] = [];
    const out = runSpmdProgramOnCore(spmd.program, [tensorFrom('f32', [3], [1, 2, 3])], core, {
      collective: (req) => {
        seen.push(`${req.op} rank ${req.group.rank} of ${req.group.members.length}`);
        return { outputs: referenceCollective(req.op, req.params, [req.inputs])[0]!, seconds: 2e-6 };
      },
    }, one);
    expect(seen).toEqual(['psum rank 0 of 1']);
    expect(Array.from(toNumbers(out[0]!))).toEqual([1, 2, 3]);
    expect(core.stats().busySeconds.ici).toBeCloseTo(2e-6);
    expect(core.arena.bytesInUse).toBe(0);
  });
});
