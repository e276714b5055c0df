import { afterAll, describe, expect, it } from 'vitest';
import {
  allReduceCost,
  allToAllCost,
  allToAllLineLoad,
  reduceScatterCost,
  ringPhaseCost,
  ringPhases,
  torusPhases,
} from '../../src/collectives/cost.js';
import { chooseAlgorithm, flatRing, gridInterconnect, iciLink, interconnectOf } from '../../src/collectives/interconnect.js';
import { makeMesh } from '../../src/collectives/mesh.js';
import { priceCollective } from '../../src/collectives/plan.js';
import { CHIPS } from '../../src/tpu/chips.js';
import { parseTopology } from '../../src/tpu/topology.js';
import { type CoreOutcome, type Task, TestPod } from './pod.js';

const V4 = iciLink(CHIPS.v4);
const MiB = 1 << 20;

describe('alpha-beta formulas (REFERENCES.md)', () => {
  it('ring all-reduce on 8 v4 chips: 2(p-1)a + 2(p-1)/p n/B, and a bidirectional ring halves the bandwidth term', () => {
    const n = 64 * MiB;
    const p = 8;
    const alpha = 1e-6; // chips.ts: ~1 µs per ICI hop
    const B = 4.5e10; // chips.ts: v4 one-way bytes/s per link
    expect(V4).toEqual({ latency: alpha, bandwidth: B });
    const uni = allReduceCost(ringPhases(p, V4), n);
    expect(uni.latencySeconds).toBeCloseTo(2 * (p - 1) * alpha, 15);
    expect(uni.bandwidthSeconds).toBeCloseTo(((2 * (p - 1)) / p) * (n / B), 12);
    const bidi = allReduceCost(ringPhases(p, V4, { bidirectional: true }), n);
    expect(bidi.latencySeconds).toBeCloseTo(uni.latencySeconds, 15);
    expect(bidi.bandwidthSeconds).toBeCloseTo(uni.bandwidthSeconds / 2, 12);
    expect(reduceScatterCost(ringPhases(p, V4), n).seconds).toBeCloseTo(uni.seconds / 2, 12);
  });

  it('on a 4x4 torus the by-dimension all-reduce has a lower latency term than a flat 16-ring, the same bandwidth term', () => {
    const n = 16 * MiB;
    const torus = allReduceCost(torusPhases([4, 4], V4, { bidirectional: true }), n);
    const ring = allReduceCost(ringPhases(16, V4, { bidirectional: true }), n);
    expect(torus.latencySeconds).toBeCloseTo(2 * (4 + 4 - 2) * 1e-6, 15);
    expect(ring.latencySeconds).toBeCloseTo(2 * 15 * 1e-6, 15);
    expect(torus.latencySeconds).toBeLessThan(ring.latencySeconds);
    expect(torus.bandwidthSeconds).toBeCloseTo(ring.bandwidthSeconds, 12);
    // The same, from the algorithm chosen on a real 4x4 grid vs a ring forced through it.
    const ic = gridInterconnect([4, 4], [true, true], V4);
    const members = [...Array(16).keys()];
    const chosen = chooseAlgorithm(ic, members);
    expect(chosen.name).toBe('torus');
    expect(allReduceCost(chosen.phases, n)).toEqual(torus);
  });

  it('without wraparound a ring costs twice as much', () => {
    const n = 8 * MiB;
    const wrap = chooseAlgorithm(gridInterconnect([8], [true], V4), [...Array(8).keys()]);
    const line = chooseAlgorithm(gridInterconnect([8], [false], V4), [...Array(8).keys()]);
    expect(wrap.name).toBe('bidirectional-ring');
    expect(line.name).toBe('ring');
    const a = allReduceCost(wrap.phases, n);
    const b = allReduceCost(line.phases, n);
    expect(b.seconds).toBeCloseTo(2 * a.seconds, 12);
    expect(b.latencySeconds).toBeCloseTo(2 * a.latencySeconds, 15);
    expect(ringPhaseCost({ size: 2, link: V4, bidirectional: false, wraparound: false }, n).seconds).toBeCloseTo(
      ringPhaseCost({ size: 2, link: V4, bidirectional: false, wraparound: true }, n).seconds,
      15,
    );
  });

  it('all-to-all: the busiest link of a wrapping ring carries m e^2/8, a line twice that', () => {
    expect(allToAllLineLoad(8, true, 1)).toBeCloseTo(8, 12);
    expect(allToAllLineLoad(8, false, 1)).toBeCloseTo(16, 12);
    expect(allToAllLineLoad(4, true, 1)).toBeCloseTo(2, 12);
    const c = allToAllCost(ringPhases(8, V4, { bidirectional: true }), 8 * MiB);
    expect(c.bandwidthSeconds).toBeCloseTo((8 * MiB) / V4.bandwidth, 12); // m = n/8 per pair, 8 m on the busiest link
    expect(c.latencySeconds).toBeCloseTo(4 * 1e-6, 15);
  });

  it('prices a 2048-core v4 pod (estimate mode) without threads', () => {
    const topo = parseTopology('v4-2048'); // 1024 chips, 8x8x16
    const ic = interconnectOf(topo);
    const mesh = makeMesh({ data: 256, model: 8 });
    const members = mesh.devices.filter((_, i) => i % 8 === 0); // one 'data' group
    // Synchronous and thread-free: pricing is arithmetic over the topology.
    const { algorithm, cost } = priceCollective({ kind: 'all-reduce', params: { op: 'sum' } }, [1 << 20], 'f32', members, ic);
    expect(algorithm.p).toBe(256);
    expect(cost.seconds).toBeGreaterThan(0);
    expect(flatRing(ic, members).phases[0]!.size).toBe(256);
  });
});

describe('the ICI model advances the cores\' clocks', () => {
  let pod: TestPod | undefined;
  afterAll(async () => pod?.close());

  it('8-core v4 ring: every core ends at the latest arrival plus the alpha-beta cost, and counts its bytes', async () => {
    const p = 8;
    pod = new TestPod(makeMesh({ x: p }), gridInterconnect([p], [true], V4), p, { arenaBytes: 1 << 22, timeoutMs: 20_000, choices: ['ring', 'auto'] });
    await pod.ready();
    const n = 1 << 16; // f32 elements
    const bytes = 4 * n;
    const lateBy = 2e-3;
    const psum = { kind: 'all-reduce', params: { op: 'sum' } } as const;
    const tasks: Task[][] = pod.workers.map((_, core) => [
      ...(core === 5 ? [{ kind: 'advance' as const, seconds: lateBy }] : []),
      { comm: 0, c: psum, axes: ['x'], dtype: 'f32', shape: [n], returnOutput: false },
      { comm: 1, c: psum, axes: ['x'], dtype: 'f32', shape: [n], returnOutput: false },
    ]);
    const outcomes = await pod.run(tasks);
    const formula = 2 * (p - 1) * 1e-6 + ((2 * (p - 1)) / p) * (bytes / 4.5e10);
    const bidirectional = 2 * (p - 1) * 1e-6 + ((2 * (p - 1)) / p) * (bytes / 4.5e10) / 2;
    outcomes.forEach((o: CoreOutcome, core) => {
      if (o.type !== 'done') throw new Error(`core ${core}: ${o.type === 'error' ? o.error.message : 'exited'}`);
      const [ring, auto] = o.results.filter((r) => r.timing).map((r) => r.timing!);
      expect(ring!.algorithm).toBe('ring');
      expect(ring!.costSeconds).toBeCloseTo(formula, 12);
      expect(ring!.start).toBeCloseTo(lateBy, 12);
      expect(ring!.end).toBeCloseTo(lateBy + formula, 12);
      expect(auto!.algorithm).toBe('bidirectional-ring');
      expect(auto!.costSeconds).toBeCloseTo(bidirectional, 12);
      expect(o.clock).toBeCloseTo(lateBy + formula + bidirectional, 12);
      // Ring all-reduce: each core sends 2(p-1)/p of the buffer.
      expect(o.counters['all-reduce']!.bytesSent).toBe(((2 * (p - 1)) / p) * bytes);
      expect(o.counters['all-reduce']!.calls).toBe(1);
      expect(o.counters['all-reduce']!.seconds).toBeCloseTo(lateBy + formula - (core === 5 ? lateBy : 0), 12);
    });
  });
});
