import { describe, it, expect } from 'vitest';
import { CHIPS, GENERATIONS, chipSpec, withOverrides } from '../../src/tpu/chips.js';

describe('chip table', () => {
  it('has a spec for every generation with positive, finite numbers', () => {
    for (const g of GENERATIONS) {
      const c = CHIPS[g];
      expect(c.generation).toBe(g);
      for (const [field, value] of Object.entries(c)) {
        if (typeof value === 'number') expect(Number.isFinite(value) && value > 0, `${g}.${field}`).toBe(true);
      }
    }
  });

  it('splits chip peak and HBM bandwidth evenly across TensorCores', () => {
    expect(CHIPS.v4.peakFlopsPerCore).toBe(137.5e12);
    expect(CHIPS.v4.hbmBandwidthPerCore).toBe(600e9);
    expect(CHIPS.v5e.peakFlopsPerCore).toBe(197e12);
    expect(CHIPS.v3.hbmBytesPerCore).toBe(16 * 1024 ** 3);
  });

  it('derives clocks consistent with published figures (v3 940 MHz, v4 1050 MHz, v5e 1.5 GHz)', () => {
    expect(CHIPS.v3.clockHz / 1e6).toBeCloseTo(938, 0);
    expect(CHIPS.v4.clockHz / 1e6).toBeCloseTo(1049, 0);
    expect(CHIPS.v5e.clockHz / 1e9).toBeCloseTo(1.5, 2);
  });

  it('derives VPU throughput as sublanes x lanes x ALUs x clock', () => {
    const v4 = CHIPS.v4;
    expect(v4.vpuOpsPerSecondPerCore).toBeCloseTo(8 * 128 * 2 * v4.clockHz, -3);
    expect(v4.vpuOpsPerSecondPerCore / 1e12).toBeCloseTo(2.15, 2);
  });

  it('uses a 256 MXU tile only on v6e', () => {
    for (const g of GENERATIONS) expect(CHIPS[g].mxuTile).toBe(g === 'v6e' ? 256 : 128);
  });

  it('derives ICI per-link one-way bandwidth consistent with per-chip bidirectional figures', () => {
    // REFERENCES.md: v5e 400 GB/s, v6e 800 GB/s, v5p 1200 GB/s bidirectional per chip.
    expect(CHIPS.v5e.iciBandwidthPerLinkOneWay * 2 * CHIPS.v5e.iciLinksPerChip).toBe(400e9);
    expect(CHIPS.v6e.iciBandwidthPerLinkOneWay * 2 * CHIPS.v6e.iciLinksPerChip).toBe(800e9);
    expect(CHIPS.v5p.iciBandwidthPerLinkOneWay * 2 * CHIPS.v5p.iciLinksPerChip).toBe(1200e9);
  });

  it('looks up by generation or accelerator prefix and names the known ones otherwise', () => {
    expect(chipSpec('v5litepod')).toBe(CHIPS.v5e);
    expect(chipSpec('v4')).toBe(CHIPS.v4);
    expect(() => chipSpec('v9')).toThrow(/known: v2, v3, v4, v5e, v5p, v6e/);
  });

  it('overrides fields without touching the table', () => {
    const half = withOverrides(CHIPS.v4, { mxuEfficiency: 0.5 });
    expect(half.mxuEfficiency).toBe(0.5);
    expect(CHIPS.v4.mxuEfficiency).toBe(1);
  });
});
