import { describe, it, expect } from 'vitest';
import { formatDemo, runDemo } from '../../src/cli/demo.js';
import { main } from '../../src/cli/main.js';

describe('tpusim demo', () => {
  const small = {
    topology: 'v4-8',
    seed: 1,
    batch: 16,
    inFeatures: 64,
    hidden: 128,
    outFeatures: 32,
    databaseSize: 4096,
    queries: 32,
    dim: 32,
    k: 10,
  };

  it('computes the MLP like a float64 host reference and measures approx_max_k recall', () => {
    const r = runDemo(small);
    expect(r.chip).toBe('v4');
    expect(r.mlpMaxRelativeError).toBeLessThan(1e-3);
    expect(Number.isFinite(r.mlpOutputSum)).toBe(true);
    // 4096 scores per query reduce to 256 bins (XLA's rule); expected recall ((L-1)/L)^(k-1) ~ 0.965.
    expect(r.approxBins).toBe(256);
    expect(r.recall).toBeGreaterThan(0.8);
    expect(r.recall).toBeLessThanOrEqual(1);
    expect(r.simulatedSeconds).toBeGreaterThan(0);
    expect(r.utilization).toBeGreaterThan(0);
    expect(r.utilization).toBeLessThanOrEqual(1);
    expect(r.trace.map((e) => e.op)).toEqual([
      'dot_general', 'broadcast_in_dim', 'add', 'broadcast_in_dim', 'max', 'convert_element_type', 'dot_general', 'reduce_sum',
      'fusion', 'fusion',
    ]);
    expect(r.trace.slice(8).map((e) => e.fusedOps)).toEqual([
      ['dot_general', 'approx_max_k'],
      ['dot_general', 'top_k'],
    ]);
    // TPU-KNN: the sort-based search is instruction-bound and slower than the approximate one.
    expect(r.exactSearchSeconds).toBeGreaterThan(r.approxSearchSeconds);
    const text = formatDemo(r, 10);
    expect(text).toMatch(/simulated time/);
    expect(text).toMatch(/recall@10/);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    const a = runDemo(small).mlpOutputSum;
    expect(runDemo(small).mlpOutputSum).toBe(a);
    expect(runDemo({ ...small, seed: 2 }).mlpOutputSum).not.toBe(a);
  });

  it('takes the chip from --topology', () => {
    expect(runDemo({ ...small, topology: 'v5litepod-16' }).chip).toBe('v5e');
  });

  it('dispatches commands and reports unknown ones and bad flags', async () => {
    const errors: string[] = [];
    const logs: string[] = [];
    const [error, log] = [console.error, console.log];
    console.error = (m: string) => errors.push(m);
    console.log = (m: string) => logs.push(m);
    try {
      expect(await main(['--help'])).toBe(0);
      expect(logs.join('\n')).toMatch(/demo/);
      expect(await main(['nope'])).toBe(2);
      expect(errors.join('\n')).toMatch(/unknown command "nope"/);
      expect(await main(['demo', '--help'])).toBe(0);
      expect(await main(['demo', '--topology', 'v9-8'])).toBe(1);
      expect(errors.join('\n')).toMatch(/unknown TPU generation "v9"/);
      expect(await main(['demo', '--bogus'])).toBe(2);
    } finally {
      console.error = error;
      console.log = log;
    }
  });
});
