import { describe, it, expect } from 'vitest';
import { chipHops, coreLocation, parseTopology } from '../../src/tpu/topology.js';

describe('parseTopology', () => {
  it.each([
    ['v2-8', 'v2', [2, 2], 4, 8],
    ['v3-8', 'v3', [2, 2], 4, 8],
    ['v3-32', 'v3', [4, 4], 16, 32],
    ['v4-8', 'v4', [2, 2, 1], 4, 8],
    ['v4-32', 'v4', [2, 2, 4], 16, 32],
    ['v4-128', 'v4', [4, 4, 4], 64, 128],
    ['v4-256', 'v4', [4, 4, 8], 128, 256],
    ['v5p-128', 'v5p', [4, 4, 4], 64, 128],
    ['v5p-12288', 'v5p', [16, 16, 24], 6144, 12288],
    ['v5litepod-16', 'v5e', [4, 4], 16, 16],
    ['v5litepod-1', 'v5e', [1, 1], 1, 1],
    ['v6e-64', 'v6e', [8, 8], 64, 64],
    ['v6e-128', 'v6e', [8, 16], 128, 128],
  ])('%s -> %s %j, %i chips, %i cores', (name, gen, dims, chips, cores) => {
    const t = parseTopology(name);
    expect(t.chip.generation).toBe(gen);
    expect(t.dims).toEqual(dims);
    expect(t.numChips).toBe(chips);
    expect(t.numCores).toBe(cores);
    expect(t.cores).toHaveLength(cores);
  });

  it('accepts a generation with explicit chip dims', () => {
    const t = parseTopology('v4:2x2x4');
    expect(t.dims).toEqual([2, 2, 4]);
    expect(t.numCores).toBe(32);
    expect(parseTopology('v5e:4x4').numChips).toBe(16);
    expect(parseTopology('v5litepod:2x4').chip.generation).toBe('v5e');
  });

  it('wraps v4/v5p dims only on full 4x4x4 cubes', () => {
    expect(parseTopology('v4-32').wraparound).toEqual([false, false, false]);
    expect(parseTopology('v4-64').wraparound).toEqual([false, false, false]);
    expect(parseTopology('v4-128').wraparound).toEqual([true, true, true]);
    expect(parseTopology('v5p:4x4x8').wraparound).toEqual([true, true, true]);
  });

  it('wraps 2D tori only along dims spanning the full pod', () => {
    expect(parseTopology('v5litepod-16').wraparound).toEqual([false, false]);
    expect(parseTopology('v5e:8x16').wraparound).toEqual([false, true]);
    expect(parseTopology('v6e-256').wraparound).toEqual([true, true]);
    expect(parseTopology('v3-2048').wraparound).toEqual([true, true]);
  });

  it('maps core ids to chip coords (dim 0 fastest) and core-on-chip', () => {
    const t = parseTopology('v4-16'); // 2x2x2
    expect(coreLocation(t, 0)).toMatchObject({ chipIndex: 0, chipCoords: [0, 0, 0], coreOnChip: 0 });
    expect(coreLocation(t, 1)).toMatchObject({ chipIndex: 0, chipCoords: [0, 0, 0], coreOnChip: 1 });
    expect(coreLocation(t, 2)).toMatchObject({ chipIndex: 1, chipCoords: [1, 0, 0], coreOnChip: 0 });
    expect(coreLocation(t, 15)).toMatchObject({ chipIndex: 7, chipCoords: [1, 1, 1], coreOnChip: 1 });
    expect(() => coreLocation(t, 16)).toThrow(/no core 16 \(cores are 0..15\)/);
    const ids = t.cores.map((c) => c.coreId);
    expect(ids).toEqual([...Array(16).keys()]);
  });

  it('counts hops with and without wraparound', () => {
    expect(chipHops(parseTopology('v5e:4x4'), [0, 0], [3, 3])).toBe(6);
    expect(chipHops(parseTopology('v5e:16x16'), [0, 0], [15, 15])).toBe(2);
  });

  it('rejects bad names with clear errors', () => {
    expect(() => parseTopology('v4-7')).toThrow(/v4-7: 7 is not a valid v4 slice size; v4 sizes count TensorCores \(2 per chip\)/);
    expect(() => parseTopology('v4-12')).toThrow(/valid sizes are 4, 8, 16, 32 or a multiple of 64 chips/);
    expect(() => parseTopology('v9-8')).toThrow(/unknown TPU generation "v9"; known: v2, v3, v4, v5e, v5p, v6e/);
    expect(() => parseTopology('2x0x4')).toThrow(/chip dims must be positive/);
    expect(() => parseTopology('v4:2x0x4')).toThrow(/chip dims must be positive/);
    expect(() => parseTopology('2x2x4')).toThrow(/name the generation .* v4:2x2x4/);
    expect(() => parseTopology('v4:4x4')).toThrow(/3D torus, so give 3 chip dims/);
    expect(() => parseTopology('v4-16384')).toThrow(/8192 chips exceeds the largest v4 slice \(16x16x16 = 4096 chips\)/);
    expect(() => parseTopology('v5litepod-512')).toThrow(/exceeds the largest v5e slice/);
    expect(() => parseTopology('v5e:32x8')).toThrow(/does not fit in the v5e pod/);
    expect(() => parseTopology('hello')).toThrow(/not a topology/);
  });
});
