import { describe, expect, it } from 'vitest';
import { Mesh } from '../../../src/gspmd/mesh.js';
import { SpmdBuilder, specSharded } from '../../../src/gspmd/partitioner/builder.js';
import type { PartitionedProgram } from '../../../src/gspmd/partitioner/partition.js';
import { reshardBytes, reshardToHlo, reshardToSpec } from '../../../src/gspmd/partitioner/reshard.js';
import { type DimAxes, specToHlo, specToString, tileShapeOf } from '../../../src/gspmd/partitioner/spec.js';
import { HloSharding } from '../../../src/gspmd/sharding.js';
import { runSpmd } from '../../../src/gspmd/spmd_interpreter.js';
import { newVar } from '../../../src/program/ir.js';
import { toNumbers } from '../../../src/tpu/tensor.js';
import { collectives, randomTensor } from './helpers.js';

/** A one-value program that reshards its input from `from` to `to`. */
function reshardProgram(mesh: Mesh, shape: number[], from: DimAxes | HloSharding, to: DimAxes | HloSharding): PartitionedProgram {
  const b = new SpmdBuilder(mesh);
  const global = { shape, dtype: 'f32' as const };
  const fromHlo = from instanceof HloSharding ? from : specToHlo(mesh, from);
  const toHlo = to instanceof HloSharding ? to : specToHlo(mesh, to);
  const input = newVar({ shape: fromHlo.tileShape(shape), dtype: 'f32' });
  const x = from instanceof HloSharding ? ({ kind: 'hlo', atom: input, global, sharding: from } as const) : specSharded(input, global, from);
  const y = to instanceof HloSharding ? reshardToHlo(b, x, to) : reshardToSpec(b, x, to);
  return {
    program: { inputs: [input], equations: b.equations, outputs: [y.atom] },
    mesh,
    inShardings: [fromHlo],
    outShardings: [toHlo],
    globalInAvals: [global],
    globalOutAvals: [global],
    valueShardings: new Map(),
  };
}

function expectRoundTrip(p: PartitionedProgram, shape: number[]): void {
  const x = randomTensor(shape, 7);
  const { outputs } = runSpmd(p, [x]);
  expect(Array.from(toNumbers(outputs[0]!))).toEqual(Array.from(toNumbers(x)));
}

const mesh24 = Mesh.fromAxes({ data: 2, model: 4 });

describe('reshard: the collective each case needs', () => {
  const cases: [string, DimAxes, DimAxes, string[]][] = [
    ['same sharding: nothing', [['data'], ['model']], [['data'], ['model']], []],
    ['tiled dim moves: all-to-all', [['model'], []], [[], ['model']], ['all_to_all(model)']],
    ['to replicated along an axis: all-gather', [['data'], ['model']], [['data'], []], ['all_gather(model)']],
    ['replicated to tiled: dynamic-slice, no communication', [[], []], [['model'], ['data']], []],
    ['devices permuted within a dim: collective-permute', [['data', 'model'], []], [['model', 'data'], []], ['ppermute(data,model)']],
    ['an axis moves next to another: all-to-all', [['data'], ['model']], [[], ['model', 'data']], ['all_to_all(data)']],
    ['uneven dim to replicated: all-gather, padding sliced off', [['data'], []], [[], []], ['all_gather(data)']],
  ];
  for (const [name, from, to, want] of cases) {
    it(name, () => {
      const shape = name.includes('uneven') ? [7, 8] : [8, 8];
      const p = reshardProgram(mesh24, shape, from, to);
      expect(collectives(p)).toEqual(want);
      expect(p.program.equations.some((eq) => eq.op === 'dynamic_slice')).toBe(name.includes('dynamic-slice'));
      expectRoundTrip(p, shape);
    });
  }

  it('prices a reshard by the bytes its collectives move', () => {
    const b = new SpmdBuilder(mesh24);
    const x = specSharded(newVar({ shape: [4, 2], dtype: 'f32' }), { shape: [8, 8], dtype: 'f32' }, [['data'], ['model']]);
    expect(reshardBytes(b, x, [['data'], ['model']])).toBe(0);
    expect(reshardBytes(b, x, [['data'], []])).toBe((3 / 4) * 4 * 8 * 4);
    expect(b.equations.length).toBe(0);
  });
});

describe('reshard: every pair of shardings round-trips, uneven shapes included', () => {
  const specs: DimAxes[] = [
    [[], []],
    [['data'], []],
    [[], ['model']],
    [['data'], ['model']],
    [['model'], ['data']],
    [['data', 'model'], []],
    [[], ['model', 'data']],
    [['model', 'data'], []],
  ];
  for (const shape of [
    [8, 8],
    [6, 5],
    [3, 9],
  ]) {
    it(`shape [${shape}] on 2x4`, () => {
      for (const from of specs) {
        for (const to of specs) {
          const p = reshardProgram(mesh24, shape, from, to);
          const local = p.program.outputs[0]!.aval.shape;
          expect(local, `${specToString(from)} -> ${specToString(to)}`).toEqual(tileShapeOf(mesh24, shape, to));
          expectRoundTrip(p, shape);
        }
      }
    });
  }

  it('tile assignments that are not products of mesh axes go through replicated', () => {
    const mesh = Mesh.fromAxes({ x: 4 });
    const odd = HloSharding.tile([2, 2], [3, 0, 1, 2]);
    for (const shape of [
      [4, 6],
      [5, 3],
    ]) {
      expectRoundTrip(reshardProgram(mesh, shape, odd, [['x'], []]), shape);
      expectRoundTrip(reshardProgram(mesh, shape, [[], ['x']], odd), shape);
      expectRoundTrip(reshardProgram(mesh, shape, odd, HloSharding.tile([2, 2], [0, 1, 2, 3])), shape);
    }
    // The same tiles on other devices: one collective-permute.
    const p = reshardProgram(mesh, [4, 6], odd, HloSharding.tile([2, 2], [0, 1, 2, 3]));
    expect(collectives(p)).toEqual(['ppermute(x)']);
  });
});
