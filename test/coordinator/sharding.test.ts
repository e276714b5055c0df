import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeMesh } from '../../src/collectives/mesh.js';
import {
  type PartitionSpec,
  ShardingError,
  blockOf,
  extractBlock,
  formatSpec,
  globalShape,
  insertBlock,
  localShape,
} from '../../src/coordinator/sharding.js';
import { allocHostArray } from '../../src/tpu/dtype.js';
import { hostTensor, sizeOf } from '../../src/tpu/tensor.js';

const mesh = makeMesh({ data: 4, model: 2 });

describe('PartitionSpec over a mesh', () => {
  it('lays shards out as NamedSharding does', () => {
    // P('data', 'model') on [8, 6]: core 5 sits at mesh (2, 1).
    expect(blockOf(['data', 'model'], mesh, [8, 6], 5)).toEqual({ start: [4, 3], shape: [2, 3] });
    // P(('data', 'model')): the major axis first, so core 5 holds block 5 of 8.
    expect(blockOf([['data', 'model']], mesh, [16], 5)).toEqual({ start: [10], shape: [2] });
    expect(blockOf([['model', 'data']], mesh, [16], 5)).toEqual({ start: [12], shape: [2] });
    // Replicated over the unused axis: cores 4 and 5 hold the same block.
    expect(blockOf(['data'], mesh, [8, 6], 4)).toEqual(blockOf(['data'], mesh, [8, 6], 5));
    expect(localShape([null, 'model'], mesh, [8, 6])).toEqual([8, 3]);
    expect(globalShape([null, 'model'], mesh, [8, 3])).toEqual([8, 6]);
    expect(formatSpec(['data', null, ['model']])).toBe("'data', None, ('model')");
  });

  it('names the problem in a bad spec', () => {
    expect(() => localShape(['rows'], mesh, [8])).toThrow("unknown mesh axis 'rows'; the mesh has (data, model)");
    expect(() => localShape(['data', 'data'], mesh, [8, 8])).toThrow("mesh axis 'data' is used twice");
    expect(() => localShape(['data'], mesh, [6])).toThrow('dim 0 of size 6 does not divide into 4 shards over (data)');
    expect(() => localShape(['data', null], mesh, [8])).toThrow(ShardingError);
  });

  it('scatters into blocks and gathers them back to the same tensor, for any spec', () => {
    const axisChoice = fc.constantFrom<PartitionSpec[number]>(null, 'data', 'model', ['data', 'model'], ['model', 'data']);
    const arb = fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.array(axisChoice, { minLength: 1, maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }))
      .filter(([rank, spec]) => {
        const used = spec.slice(0, rank).flatMap((e) => (e === null ? [] : typeof e === 'string' ? [e] : e));
        return new Set(used).size === used.length;
      });
    fc.assert(
      fc.property(arb, ([rank, rawSpec, mults]) => {
        const spec = rawSpec.slice(0, rank);
        const parts = spec.map((e) => (e === null ? 1 : typeof e === 'string' ? mesh.shape[mesh.axisNames.indexOf(e)]! : 8));
        const shape = Array.from({ length: rank }, (_, d) => (parts[d] ?? 1) * mults[d]!);
        const x = hostTensor('i32', shape);
        for (let i = 0; i < x.data.length; i++) x.data[i] = i;
        const back = hostTensor('i32', shape);
        back.data.fill(-1);
        const covered = new Set<number>();
        for (const core of mesh.devices) {
          const block = blockOf(spec, mesh, shape, core);
          expect(block.shape).toEqual(localShape(spec, mesh, shape));
          const piece = allocHostArray('i32', sizeOf(block.shape));
          extractBlock(x, block, piece);
          insertBlock(back, block, piece);
          for (const v of piece) covered.add(v);
        }
        expect([...back.data]).toEqual([...x.data]);
        expect(covered.size).toBe(x.data.length); // the blocks cover the tensor
      }),
      { numRuns: 200 },
    );
  });
});
