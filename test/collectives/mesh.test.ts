import { describe, expect, it } from 'vitest';
import { CollectiveUsageError } from '../../src/collectives/errors.js';
import { interconnectOf, route } from '../../src/collectives/interconnect.js';
import { axisGroup, axisGroups, makeMesh } from '../../src/collectives/mesh.js';
import { allGatherShape, allToAllShape, reduceScatterShape } from '../../src/collectives/semantics.js';
import { CHIPS } from '../../src/tpu/chips.js';
import { parseTopology } from '../../src/tpu/topology.js';

describe('mesh groups (JAX axis_index)', () => {
  const mesh = makeMesh({ data: 2, model: 4 });

  it('groups over one axis hold the cores that differ only along it', () => {
    expect(axisGroups(mesh, ['model'])).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(axisGroups(mesh, ['data'])).toEqual([
      [0, 4],
      [1, 5],
      [2, 6],
      [3, 7],
    ]);
    expect(axisGroup(mesh, ['data'], 6)).toEqual({ axes: ['data'], members: [2, 6], rank: 1 });
  });

  it('over several axes the rank is row-major in the order given', () => {
    expect(axisGroup(mesh, ['data', 'model'], 6).rank).toBe(6);
    const g = axisGroup(mesh, ['model', 'data'], 6);
    expect(g.rank).toBe(2 * 2 + 1);
    expect(g.members).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
  });

  it('names the bad field', () => {
    expect(() => axisGroup(mesh, ['batch'], 0)).toThrow(CollectiveUsageError);
    expect(() => axisGroup(mesh, ['batch'], 0)).toThrow(/unknown mesh axis 'batch'/);
    expect(() => makeMesh({ a: 0 })).toThrow(/axis 'a'/);
    expect(() => makeMesh({ a: 2 }, [0, 0])).toThrow(/distinct/);
  });
});

describe('output shapes as jax.lax defines them', () => {
  it('all_gather', () => {
    expect(allGatherShape([3, 5], 4, { axis: 0, tiled: false })).toEqual([4, 3, 5]);
    expect(allGatherShape([3, 5], 4, { axis: 2, tiled: false })).toEqual([3, 5, 4]);
    expect(allGatherShape([3, 5], 4, { axis: 1, tiled: true })).toEqual([3, 20]);
  });
  it('psum_scatter', () => {
    expect(reduceScatterShape([8, 3], 4, { scatterDimension: 0, tiled: true, op: 'sum' })).toEqual([2, 3]);
    expect(reduceScatterShape([3, 4], 4, { scatterDimension: 1, tiled: false, op: 'sum' })).toEqual([3]);
    expect(() => reduceScatterShape([3, 5], 4, { scatterDimension: 1, tiled: true, op: 'sum' })).toThrow(/not divisible/);
  });
  it('all_to_all', () => {
    expect(allToAllShape([8, 3], 4, { splitAxis: 0, concatAxis: 1, tiled: true })).toEqual([2, 12]);
    expect(allToAllShape([4, 3], 4, { splitAxis: 0, concatAxis: 1, tiled: false })).toEqual([3, 4]);
    expect(allToAllShape([2, 4, 3], 4, { splitAxis: 1, concatAxis: 0, tiled: false })).toEqual([4, 2, 3]);
    expect(() => allToAllShape([3, 3], 4, { splitAxis: 0, concatAxis: 1, tiled: false })).toThrow(/axis size 4/);
  });
});

describe('interconnect of a Cloud TPU slice', () => {
  it('v4-8: chips on ICI, the two cores of a chip through shared HBM', () => {
    const ic = interconnectOf(parseTopology('v4-8'));
    expect(ic.dims).toEqual([2, 2, 1, 2]);
    expect(ic.coords[1]).toEqual([0, 0, 0, 1]);
    const onChip = route(ic, 0, 1);
    expect(onChip.bandwidth).toBe(CHIPS.v4.hbmBandwidthPerChip / 2);
    const ici = route(ic, 0, 2);
    expect(ici).toEqual({ latency: 1e-6, bandwidth: 4.5e10, hops: 1 });
    expect(route(ic, 0, 6).hops).toBe(2);
  });
});
