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
    expect(blockOf(['data', 'model'], mesh, [8, 6], 5)).toEqual({ start: [4, 3], shape: [2, 3], paddedShape: [2, 3] });
    // P(('data', 'model')): the major axis first, so core 5 holds block 5 of 8.
    expect(blockOf([['data', 'model']], mesh, [16], 5)).toEqual({ start: [10], shape: [2], paddedShape: [2] });
    expect(blockOf([['model', 'data']], mesh, [16], 5)).toEqual({ start: [12], shape: [2], paddedShape: [2] });
    // Replicated over the unused axis: cores 4 and 5 hold the same block.
    expect(blockOf(['data'], mesh, [8, 6], 4)).toEqual(blockOf(['data'], mesh, [8, 6], 5));
    expect(localShape([null, 'model'], mesh, [8, 6])).toEqual([8, 3]);
    expect(globalShape([null, 'model'], mesh, [8, 3])).toEqual([8, 6]);
    expect(formatSpec(['data', null, ['model']])).toBe("'data', None, ('model')");
  });

  it('names the problem in a bad spec', () => {
    expect(() => localShape(['rows'], mesh, [8])).toThrow("unknown mesh axis 'rows'; the mesh has (data, model)");
    expect(() => localShape(['data', 'data'], mesh, [8, 8])).toThrow("mesh axis 'data' is used twice");
    expect(() => localShape(['data', null], mesh, [8])).toThrow(ShardingError);
  });

  it('pads uneven dims as the SPMD partitioner does: ceil(n / shards) per core, zeros past the real elements', () => {
    // 6 rows over data=4: tiles of 2; core 6 (data 3) holds rows 6..7, none of them real.
    expect(localShape(['data'], mesh, [6])).toEqual([2]);
    expect(blockOf(['data'], mesh, [6], 4)).toEqual({ start: [4], shape: [2], paddedShape: [2] });
    expect(blockOf(['data'], mesh, [6], 6)).toEqual({ start: [6], shape: [0], paddedShape: [2] });
    // 5 columns over model=2: tiles of 3, the second holds 2 real columns and a zero.
    const x = hostTensor('f32', [2, 5]);
    x.data.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const block = blockOf([null, 'model'], mesh, [2, 5], 1);
    expect(block).toEqual({ start: [0, 3], shape: [2, 2], paddedShape: [2, 3] });
    const piece = allocHostArray('f32', 6).fill(-1);
    extractBlock(x, block, piece);
    expect([...piece]).toEqual([4, 5, 0, 9, 10, 0]);
    const back = hostTensor('f32', [2, 5]);
    insertBlock(back, block, piece);
    expect([...back.data]).toEqual([0, 0, 0, 4, 5, 0, 0, 0, 9, 10]);
  });

  it('scatters into blocks and gathers them back to the same tensor, for any spec, even or not', () => {
    const axisChoice = fc.constantFrom<PartitionSpec[number]>(null, 'data', 'model', ['data', 'model'], ['model', 'data']);
    const arb = fc
      .tuple(
        fc.integer({ min: 1, max: 3 }),
        fc.array(axisChoice, { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 3, maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 3, maxLength: 3 }),
      )
      .filter(([rank, spec]) => {
        const used = spec.slice(0, rank).flatMap((e) => (e === null ? [] : typeof e === 'string' ? [e] : e));
        return new Set(used).size === used.length;
      });
    fc.assert(
      fc.property(arb, ([rank, rawSpec, mults, trims]) => {
        const spec = rawSpec.slice(0, rank);
        const parts = spec.map((e) => (e === null ? 1 : typeof e === 'string' ? mesh.shape[mesh.axisNames.indexOf(e)]! : 8));
        // Some dims trimmed below a multiple of their shard count: padded tiles.
        const shape = Array.from({ length: rank }, (_, d) => Math.max(1, (parts[d] ?? 1) * mults[d]! - (trims[d]! % (parts[d] ?? 1))));
        const x = hostTensor('i32', shape);
        for (let i = 0; i < x.data.length; i++) x.data[i] = i;
        const back = hostTensor('i32', shape);
        back.data.fill(-1);
        const covered = new Set<number>();
        for (const core of mesh.devices) {
          const block = blockOf(spec, mesh, shape, core);
          expect(block.paddedShape).toEqual(localShape(spec, mesh, shape));
          const piece = allocHostArray('i32', sizeOf(block.paddedShape));
          extractBlock(x, block, piece);
          insertBlock(back, block, piece);
          const real = sizeOf(block.shape);
          expect([...piece].filter((v) => v === 0).length).toBeGreaterThanOrEqual(sizeOf(block.paddedShape) - real);
          for (const v of piece) covered.add(v);
        }
        expect([...back.data]).toEqual([...x.data]);
        expect(covered.size).toBe(x.data.length); // the blocks cover the tensor
      }),
      { numRuns: 200 },
    );
  });
});
