import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Mesh } from '../../src/gspmd/mesh.js';
import { HloSharding, NamedSharding, P, PartitionSpec, meshSplit, partitionSpecOf } from '../../src/gspmd/sharding.js';

const mesh24 = Mesh.fromAxes({ data: 2, model: 4 });

describe('HloSharding text form', () => {
  it('prints replicated, manual, maximal, tiled and partially tiled as XLA does', () => {
    expect(HloSharding.replicate().toString()).toBe('{replicated}');
    expect(HloSharding.manual().toString()).toBe('{manual}');
    expect(HloSharding.maximal(3).toString()).toBe('{maximal device=3}');
    expect(HloSharding.tile([2, 1], [0, 1]).toString()).toBe('{devices=[2,1]0,1}');
    expect(HloSharding.partialTile([4, 1, 2], [0, 1, 2, 3, 4, 5, 6, 7]).toString()).toBe(
      '{devices=[4,1,2]0,1,2,3,4,5,6,7 last_tile_dim_replicate}',
    );
  });

  it('normalises degenerate partial tilings as XLA does', () => {
    expect(HloSharding.partialTile([1, 1, 4], [0, 1, 2, 3]).isReplicated).toBe(true);
    expect(HloSharding.partialTile([2, 2, 1], [0, 1, 2, 3]).toString()).toBe('{devices=[2,2]0,1,2,3}');
  });

  it('parses what it prints, and the iota form', () => {
    for (const s of ['{replicated}', '{manual}', '{maximal device=5}', '{devices=[2,2]0,2,1,3}', '{devices=[4,1,2]0,1,2,3,4,5,6,7 last_tile_dim_replicate}']) {
      expect(HloSharding.parse(s).toString()).toBe(s);
    }
    expect(HloSharding.parse('{devices=[4,2]<=[8]}').toString()).toBe('{devices=[4,2]0,1,2,3,4,5,6,7}');
    expect(() => HloSharding.parse('{devices=[2]0}')).toThrow(/needs 2 devices/);
    expect(() => HloSharding.parse('tiled')).toThrow(/cannot parse/);
  });

  it('compares by value', () => {
    expect(HloSharding.tile([2, 1], [0, 1]).equals(HloSharding.parse('{devices=[2,1]0,1}'))).toBe(true);
    expect(HloSharding.tile([2, 1], [0, 1]).equals(HloSharding.tile([2, 1], [1, 0]))).toBe(false);
    expect(HloSharding.tile([2, 1], [0, 1]).equals(HloSharding.partialTile([2, 1, 1], [0, 1]))).toBe(true);
  });
});

describe('tile offsets', () => {
  it('gives each device its tile of an even shape', () => {
    const s = HloSharding.tile([2, 2], [0, 2, 1, 3]);
    expect(s.tileShape([8, 6])).toEqual([4, 3]);
    expect(s.shardOffset(0, [8, 6]).offset).toEqual([0, 0]);
    expect(s.shardOffset(2, [8, 6]).offset).toEqual([0, 3]);
    expect(s.shardOffset(1, [8, 6]).offset).toEqual([4, 0]);
    expect(s.shardOffset(3, [8, 6])).toEqual({ offset: [4, 3], paddedShape: [4, 3], validShape: [4, 3] });
  });

  it('ceil-divides uneven dims and pads the last shards', () => {
    const s = HloSharding.tile([4], [0, 1, 2, 3]);
    expect(s.tileShape([10])).toEqual([3]);
    expect([0, 1, 2, 3].map((d) => s.shardOffset(d, [10]).validShape[0])).toEqual([3, 3, 3, 1]);
    const t = HloSharding.tile([4], [0, 1, 2, 3]);
    // 5 over 4: tiles of 2, the last one entirely padding.
    expect([0, 1, 2, 3].map((d) => t.shardOffset(d, [5]))).toEqual([
      { offset: [0], paddedShape: [2], validShape: [2] },
      { offset: [2], paddedShape: [2], validShape: [2] },
      { offset: [4], paddedShape: [2], validShape: [1] },
      { offset: [5], paddedShape: [2], validShape: [0] },
    ]);
  });

  it('valid extents of all tiles cover each dim exactly (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 40 }), (tiles, n) => {
        const s = HloSharding.tile([tiles], Array.from({ length: tiles }, (_, i) => i));
        let covered = 0;
        for (let d = 0; d < tiles; d++) {
          const r = s.shardOffset(d, [n]);
          expect(r.offset[0]).toBe(Math.min(covered, n));
          covered += r.validShape[0]!;
        }
        expect(covered).toBe(n);
      }),
    );
  });

  it('partially tiled: replicas hold the same tile', () => {
    const s = HloSharding.partialTile([2, 1, 2], [0, 1, 2, 3]);
    expect(s.shardOffset(0, [4, 4]).offset).toEqual([0, 0]);
    expect(s.shardOffset(1, [4, 4]).offset).toEqual([0, 0]);
    expect(s.shardOffset(2, [4, 4]).offset).toEqual([2, 0]);
    expect(s.replicationFactor).toBe(2);
    expect(s.numTiles).toBe(2);
  });

  it('rejects a tensor of the wrong rank', () => {
    expect(() => HloSharding.tile([2, 1], [0, 1]).tileShape([4])).toThrow(/rank 2/);
  });
});

describe('PartitionSpec and NamedSharding', () => {
  it('prints as JAX does and rejects reused axes', () => {
    expect(P('data', null).toString()).toBe("PartitionSpec('data', None)");
    expect(P(['data', 'model']).toString()).toBe("PartitionSpec(('data', 'model'),)");
    expect(() => P('data', 'data')).toThrow(/more than once/);
  });

  it('maps specs to tile assignments as JAX does', () => {
    const h = (spec: PartitionSpec, rank: number) => new NamedSharding(mesh24, spec).toHloSharding(rank).toString();
    expect(h(P('data', null), 2)).toBe('{devices=[2,1,4]0,1,2,3,4,5,6,7 last_tile_dim_replicate}');
    expect(h(P(null, 'model'), 2)).toBe('{devices=[1,4,2]0,4,1,5,2,6,3,7 last_tile_dim_replicate}');
    expect(h(P('data', 'model'), 2)).toBe('{devices=[2,4]0,1,2,3,4,5,6,7}');
    expect(h(P('model', 'data'), 2)).toBe('{devices=[4,2]0,4,1,5,2,6,3,7}');
    expect(h(P(['data', 'model'], null), 2)).toBe('{devices=[8,1]0,1,2,3,4,5,6,7}');
    expect(h(P(['model', 'data']), 1)).toBe('{devices=[8]0,4,1,5,2,6,3,7}');
    expect(h(P(), 3)).toBe('{replicated}');
    expect(() => h(P('data', null, null), 2)).toThrow(/more than the rank/);
    expect(() => new NamedSharding(mesh24, P('batch'))).toThrow(/no axis 'batch'/);
  });

  it('uses the mesh device ids', () => {
    const m = new Mesh([[3, 2], [1, 0]], ['x', 'y']);
    expect(new NamedSharding(m, P('y')).toHloSharding(1).toString()).toBe('{devices=[2,2]3,1,2,0 last_tile_dim_replicate}');
  });

  it('mesh_split takes axis indices or names, -1 for none', () => {
    expect(meshSplit(mesh24, [0, -1]).toString()).toBe('{devices=[2,1,4]0,1,2,3,4,5,6,7 last_tile_dim_replicate}');
    expect(meshSplit(mesh24, [1, 0]).equals(new NamedSharding(mesh24, P('model', 'data')).toHloSharding(2))).toBe(true);
    expect(meshSplit(mesh24, [null, 'model']).equals(new NamedSharding(mesh24, P(null, 'model')).toHloSharding(2))).toBe(true);
    expect(() => meshSplit(mesh24, [2])).toThrow(/dimsMapping\[0\]/);
  });

  it('recovers the spec of a sharding built from the mesh', () => {
    for (const spec of [P('data', null), P(null, 'model'), P('model', 'data'), P(['data', 'model'], null), P(null, null)]) {
      const h = new NamedSharding(mesh24, spec).toHloSharding(2);
      expect(partitionSpecOf(mesh24, h, 2)!.equals(spec)).toBe(true);
    }
    expect(partitionSpecOf(mesh24, HloSharding.tile([8], [7, 6, 5, 4, 3, 2, 1, 0]), 1)).toBeUndefined();
  });
});
