import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

describe('tpusim estimate', () => {
  afterEach(() => vi.restoreAllMocks());

  function capture(): string[] {
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    return out;
  }

  it('prints the report, and JSON with --json', async () => {
    let out = capture();
    expect(await main(['estimate', 'transformer', '--topology', 'v3-8', '--mesh', 'data=2,model=4', '--set', 'layers=2'])).toBe(0);
    expect(out.join('\n')).toMatch(/transformer on v3-8 \(8 v3 cores, mesh data=2,model=4\)/);
    vi.restoreAllMocks();
    out = capture();
    expect(await main(['estimate', 'transformer', '--topology', 'v3-8', '--set', 'sharding=megatron', '--json'])).toBe(0);
    const report = JSON.parse(out.join('\n'));
    expect(report.mesh).toEqual({ data: 2, model: 4 });
    expect(report.memory.fits).toBe(true);
    expect(report.stepSeconds).toBeGreaterThan(0);
  });

  it('exits 2 on usage errors and 1 on a bad config', async () => {
    capture();
    expect(await main(['estimate'])).toBe(2);
    expect(await main(['estimate', 'transformer', '--mesh', 'bad'])).toBe(2);
    expect(await main(['estimate', 'transformer', '--topology', 'v3-8', '--set', 'sharding=zigzag'])).toBe(1);
  });
});
