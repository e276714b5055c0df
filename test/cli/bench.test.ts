import { describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

describe('tpusim bench', () => {
  it('lists the benchmarks with --help (exit 0), and without a name is a usage error (exit 2)', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await main(['bench', '--help'])).toBe(0);
      const text = log.mock.calls.map((c) => String(c[0])).join('\n');
      for (const name of ['kernels', 'collectives', 'knn']) expect(text).toContain(name);
      expect(await main(['bench'])).toBe(2);
    } finally {
      log.mockRestore();
    }
  });

  it('names the known benchmarks when given an unknown one (exit 2)', async () => {
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await main(['bench', 'nope'])).toBe(2);
      expect(err.mock.calls.map((c) => String(c[0])).join('\n')).toContain('one of kernels, collectives, knn');
    } finally {
      err.mockRestore();
    }
  });
});
