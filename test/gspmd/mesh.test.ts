import { describe, expect, it } from 'vitest';
import { Mesh, createDeviceMesh } from '../../src/gspmd/mesh.js';
import { chipHops, coreLocation, parseTopology, type Topology } from '../../src/tpu/topology.js';

/** Hops between the chips of consecutive devices along `axis` (0 for the two cores of one chip). */
function hopsAlong(topo: Topology, mesh: Mesh, axis: string): number[] {
  const a = mesh.axisIndex(axis);
  const hops: number[] = [];
  for (const d of mesh.devices) {
    const c = mesh.coords(d);
    if (c[a]! + 1 >= mesh.shape[a]!) continue;
    const next = mesh.deviceAt(c.map((x, i) => (i === a ? x + 1 : x)));
    hops.push(chipHops(topo, coreLocation(topo, d).chipCoords, coreLocation(topo, next).chipCoords));
  }
  return hops;
}

describe('Mesh', () => {
  it('takes a nested device array and axis names, as JAX', () => {
    const m = new Mesh([[0, 1, 2], [3, 4, 5]], ['data', 'model']);
    expect(m.shape).toEqual([2, 3]);
    expect(m.axisSizes).toEqual({ data: 2, model: 3 });
    expect(m.coords(4)).toEqual([1, 1]);
    expect(m.deviceAt([1, 2])).toBe(5);
    expect(m.toString()).toBe("Mesh('data': 2, 'model': 3)");
    expect(() => new Mesh([[0, 1], [2]], ['a', 'b'])).toThrow(/rectangular/);
    expect(() => new Mesh([0, 0], ['a'])).toThrow(/distinct/);
  });
});

describe('createDeviceMesh', () => {
  it('v4-8: the heavy axis spans the two cores of a chip, then one ICI hop', () => {
    const topo = parseTopology('v4-8');
    const m = createDeviceMesh(topo, { data: 2, model: 4 });
    expect([...m.devices].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const hops = hopsAlong(topo, m, 'model');
    expect(Math.max(...hops)).toBeLessThanOrEqual(1);
    expect(hops.filter((h) => h === 0).length).toBeGreaterThan(0);
  });

  it('v4:2x2x4: model=8 neighbours are at most one hop apart', () => {
    const topo = parseTopology('v4:2x2x4');
    const m = createDeviceMesh(topo, { data: 4, model: 8 });
    expect(new Set(m.devices).size).toBe(32);
    expect(Math.max(...hopsAlong(topo, m, 'model'))).toBeLessThanOrEqual(1);
  });

  it('v5e:4x4: both axes run along torus dims, neighbours one hop apart', () => {
    const topo = parseTopology('v5e:4x4');
    const m = createDeviceMesh(topo, { data: 4, model: 4 });
    expect(hopsAlong(topo, m, 'model').every((h) => h === 1)).toBe(true);
    expect(hopsAlong(topo, m, 'data').every((h) => h === 1)).toBe(true);
  });

  it('contiguousAxis picks the heavy axis; a naive row-major layout would not be contiguous', () => {
    const topo = parseTopology('v5e:4x4');
    const m = createDeviceMesh(topo, { model: 2, data: 8 }, { contiguousAxis: 'model' });
    expect(hopsAlong(topo, m, 'model').every((h) => h === 1)).toBe(true);
    expect(Math.max(...hopsAlong(topo, m, 'data'))).toBeLessThanOrEqual(3);
    const naive = Mesh.fromAxes({ model: 2, data: 8 });
    expect(Math.max(...hopsAlong(topo, naive, 'model'))).toBeGreaterThan(1);
  });

  it('names the field on bad input', () => {
    expect(() => createDeviceMesh('v4-8', { data: 3 })).toThrow(/hold 3 devices but v4-8 has 8 cores/);
    expect(() => createDeviceMesh('v4-8', { data: 8 }, { contiguousAxis: 'model' })).toThrow(/contiguousAxis 'model'/);
    expect(() => createDeviceMesh('v4-8', { data: 0, model: 8 })).toThrow(/axes.data/);
  });
});
