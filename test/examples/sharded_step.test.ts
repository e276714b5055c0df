import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The README's example must keep working: run its compiled form (npm test builds first).
describe('examples/sharded_step', () => {
  it('prints core 0 partitioned program and matches one device', () => {
    const out = execFileSync(process.execPath, [join(process.cwd(), 'dist', 'examples', 'sharded_step.js')], {
      encoding: 'utf8',
    });
    expect(out).toContain('psum(');
    expect(out).toContain('sharding={devices=[2,4]0,1,2,3,4,5,6,7}');
    const m = /max \|difference\| = (\S+)/.exec(out);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(1e-5);
  });
});
