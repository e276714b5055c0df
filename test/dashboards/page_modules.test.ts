/** The live page's pure modules (run here in Node): torus layout, colour scale, number formats, chart ranges. */
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain ES modules of the page, without type declarations
import { utilizationColor, utilizationPosition, viridis } from '../../dashboards/page/colors.js';
// @ts-expect-error: as above
import { bytes, percent, seconds, si } from '../../dashboards/page/format.js';
// @ts-expect-error: as above
import { cellSize, torusLayout } from '../../dashboards/page/torus.js';
import { podLayout } from '../../src/coordinator/dashboard/pod_frame.js';
import type { PodInfo } from '../../src/coordinator/plugin.js';
import { parseTopology } from '../../src/tpu/topology.js';

interface Chip {
  chipIndex: number;
  coords: number[];
  x: number;
  y: number;
  cores: number[];
}
interface Layout {
  nx: number;
  ny: number;
  coresPerChip: number;
  slices: { label: string; chips: Chip[] }[];
}

function layoutOf(name: string): Layout {
  const t = parseTopology(name);
  const info: PodInfo = {
    topology: t.name,
    chip: t.chip.generation,
    dims: [...t.dims],
    numCores: t.numCores,
    cores: t.cores.map((c) => ({ id: c.coreId, chipIndex: c.chipIndex, chipCoords: [...c.chipCoords], coreOnChip: c.coreOnChip })),
    defaultMesh: { data: t.numCores },
    hbmBytesPerCore: 1,
    peakFlopsPerCore: 1,
  };
  return torusLayout(podLayout(info)) as Layout;
}

describe('torus layout', () => {
  it('draws a 3D torus as z slices of x-by-y chips, each chip holding its TensorCores', () => {
    const l = layoutOf('v4:2x2x4');
    expect([l.nx, l.ny, l.coresPerChip]).toEqual([2, 2, 2]);
    expect(l.slices.map((s) => s.label)).toEqual(['z=0', 'z=1', 'z=2', 'z=3']);
    for (const [z, s] of l.slices.entries()) {
      expect(s.chips).toHaveLength(4);
      for (const chip of s.chips) {
        expect(chip.coords[2]).toBe(z);
        expect([chip.x, chip.y]).toEqual([chip.coords[0], chip.coords[1]]);
        // Cores of a chip are adjacent ids (chip index x cores per chip + core on chip).
        expect(chip.cores).toEqual([2 * chip.chipIndex, 2 * chip.chipIndex + 1]);
      }
    }
    const all = l.slices.flatMap((s) => s.chips.flatMap((c) => c.cores)).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 32 }, (_, i) => i));
  });

  it('draws a 2D torus as one slice', () => {
    const l = layoutOf('v5litepod-16');
    expect([l.nx, l.ny, l.coresPerChip]).toEqual([4, 4, 1]);
    expect(l.slices).toHaveLength(1);
    expect(new Set(l.slices[0]!.chips.map((c) => `${c.x},${c.y}`)).size).toBe(16);
  });

  it('shrinks cells as pods grow', () => {
    expect(cellSize(8)).toBeGreaterThan(cellSize(512));
    expect(cellSize(8192)).toBeGreaterThanOrEqual(8);
  });
});

describe('colour scale', () => {
  it('runs viridis from dark purple (idle) to yellow (100%), on a square-root scale', () => {
    expect(viridis(0)).toEqual([0x44, 0x01, 0x54]);
    expect(viridis(1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(utilizationPosition(0.25)).toBeCloseTo(0.5, 12);
    expect(utilizationColor(0)).not.toBe(utilizationColor(0.01));
    expect(utilizationColor(2)).toBe(utilizationColor(1));
    expect(utilizationColor(Number.NaN)).toBe(utilizationColor(0));
  });
});

describe('formats', () => {
  it('writes numbers the way the page shows them', () => {
    expect(si(1.5e12, 'FLOP/s')).toBe('1.50 TFLOP/s');
    expect(bytes(16 * 1024 * 1024)).toBe('16.00 MiB');
    expect(percent(0.1234)).toBe('12.3%');
    expect(percent(0.0004)).toBe('0.040%');
    expect(seconds(1.7e-5)).toBe('17.00 µs');
    expect(seconds(0)).toBe('0 s');
  });
});
