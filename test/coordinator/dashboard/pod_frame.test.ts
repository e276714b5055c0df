/** The pod-state frames: windowed MXU utilization held while the pod's clock stands, emulation speed, levels. */
import { describe, expect, it } from 'vitest';
import type { PodStats } from '../../../src/coordinator/pod.js';
import { podFrame, podLayout } from '../../../src/coordinator/dashboard/pod_frame.js';
import { fakeInfo } from '../fake_pod.js';

const PEAK = 1e12;

/** Pod stats with the given clock and per-core useful FLOPs. */
function stats(sim: number, flops: number[], hbm: number[] = flops.map(() => 0), alive: boolean[] = flops.map(() => true)): PodStats {
  const total = flops.reduce((s, x) => s + x, 0);
  return {
    simulatedSeconds: sim,
    wallSeconds: 1,
    emulatedFlops: total,
    emulatedFlopsPerWallSecond: total,
    jobsRun: 1,
    jobsFailed: 0,
    restarts: 0,
    crashLoops: 0,
    cores: flops.map((f, coreId) => ({
      coreId,
      alive: alive[coreId]!,
      restarts: 0,
      busySeconds: sim / 2,
      idleSeconds: sim / 2,
      mxuUtilization: sim > 0 ? f / (sim * PEAK) : 0,
      usefulFlops: f,
      mxuFlops: f,
      vpuOps: 0,
      hbmBytesRead: 0,
      hbmBytesWritten: 0,
      hbmBytesInUse: hbm[coreId]!,
      hbmCapacityBytes: 1000,
      busyByUnit: { mxu: 0, vpu: 0, hbm: 0, overhead: 0, ici: 0, host: 0 },
      wallBusySeconds: 0,
      tasks: 0,
    })),
    collectives: { 'all-reduce': { calls: 2, bytesSent: 64, seconds: 0.25 } } as unknown as PodStats['collectives'],
  };
}

describe('podFrame', () => {
  it('starts from the lifetime utilization, then measures each window of simulated time', () => {
    const first = podFrame(stats(2, [1e12, 0]), PEAK, 1000, null, undefined);
    expect(first.frame.cores.mxu).toEqual([0.5, 0]);
    expect(first.frame.emulationFlopsPerSecond).toBe(0);
    expect(first.frame.collectiveSeconds).toEqual({ 'all-reduce': 0.25 });

    // One more simulated second in which core 0 computed 0.25e12 and core 1 0.75e12, over 2 wall seconds.
    const second = podFrame(stats(3, [1.25e12, 0.75e12]), PEAK, 3000, 'job-1', first.state);
    expect(second.frame.cores.mxu[0]).toBeCloseTo(0.25, 12);
    expect(second.frame.cores.mxu[1]).toBeCloseTo(0.75, 12);
    expect(second.frame.mxuUtilization).toBeCloseTo(0.5, 12);
    expect(second.frame.emulationFlopsPerSecond).toBeCloseTo(0.5e12, 0);
    expect(second.frame.running).toBe('job-1');
  });

  it("holds the last window's utilization while the pod's clock stands, and reads 0 FLOP/s", () => {
    const a = podFrame(stats(1, [0, 0]), PEAK, 0, null, undefined);
    const b = podFrame(stats(2, [0.5e12, 0.1e12]), PEAK, 500, 'job-1', a.state);
    const c = podFrame(stats(2, [0.5e12, 0.1e12]), PEAK, 1000, null, b.state);
    expect(c.frame.cores.mxu).toEqual(b.frame.cores.mxu);
    expect(c.frame.cores.mxu[0]).toBeCloseTo(0.5, 12);
    expect(c.frame.emulationFlopsPerSecond).toBe(0);
    expect(c.frame.running).toBeNull();
  });

  it('reports HBM levels and which cores are up as read', () => {
    const f = podFrame(stats(1, [0, 0, 0], [100, 0, 900], [true, false, true]), PEAK, 0, null, undefined).frame;
    expect(f.cores.hbmUsed).toEqual([100, 0, 900]);
    expect(f.hbmUsedBytes).toBe(1000);
    expect(f.hbmCapacityBytes).toBe(3000);
    expect(f.cores.up).toEqual([1, 0, 1]);
  });
});

describe('podLayout', () => {
  it("copies where every core sits and the pod's sizes", () => {
    const info = fakeInfo(4);
    const layout = podLayout(info);
    expect(layout).toMatchObject({ topology: 'fake-4', numCores: 4, dims: [4], hbmBytesPerCore: info.hbmBytesPerCore, peakFlopsPerCore: 1e12 });
    expect(layout.cores.map((c) => c.chipIndex)).toEqual([0, 0, 1, 1]);
  });
});
