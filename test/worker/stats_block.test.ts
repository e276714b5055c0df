import { describe, expect, it } from 'vitest';
import {
  Activity,
  addSnapshots,
  createStatsBlock,
  emptySnapshot,
  readActivity,
  readStats,
  setActivity,
  writeStats,
} from '../../src/worker/stats_block.js';

function sample(scale: number) {
  const s = emptySnapshot();
  s.core.usefulFlops = 100 * scale;
  s.core.elapsedSeconds = 0.5 * scale;
  s.core.hbmBytesInUse = 4096 * scale;
  s.core.hbmCapacity = 1 << 20;
  s.core.tasks = 3 * scale;
  s.collectives['all-reduce'] = { calls: 2 * scale, bytesSent: 64 * scale, seconds: 1e-6 * scale };
  return s;
}

describe('stats block', () => {
  it('round-trips a snapshot through the shared buffer', () => {
    const sab = createStatsBlock();
    expect(readStats(sab)).toEqual(emptySnapshot());
    writeStats(sab, sample(2));
    expect(readStats(sab)).toEqual(sample(2));
  });

  it('adds counters across an actor restart but takes levels from the live actor', () => {
    const sum = addSnapshots(sample(1), sample(3));
    expect(sum.core.usefulFlops).toBe(400);
    expect(sum.core.tasks).toBe(12);
    expect(sum.core.hbmBytesInUse).toBe(4096 * 3);
    expect(sum.core.hbmCapacity).toBe(1 << 20);
    expect(sum.collectives['all-reduce']).toEqual({ calls: 8, bytesSent: 256, seconds: 4e-6 });
    expect(sum.collectives['all-gather']).toEqual({ calls: 0, bytesSent: 0, seconds: 0 });
  });

  it('still answers when the writer died mid-write (the sequence word stays odd)', () => {
    const sab = createStatsBlock();
    writeStats(sab, sample(1));
    Atomics.add(new Int32Array(sab, 0, 1), 0, 1); // a write that never finished
    expect(readStats(sab).core.usefulFlops).toBe(100);
  });

  it('carries the actor activity beside the counters', () => {
    const sab = createStatsBlock();
    expect(readActivity(sab)).toBe(Activity.idle);
    setActivity(sab, Activity.collective);
    writeStats(sab, sample(1));
    expect(readActivity(sab)).toBe(Activity.collective);
    expect(readStats(sab)).toEqual(sample(1));
  });
});
