import { afterEach, describe, expect, it } from 'vitest';
import { gridInterconnect } from '../../src/collectives/interconnect.js';
import { makeMesh } from '../../src/collectives/mesh.js';
import { type CoreOutcome, type Task, TestPod } from './pod.js';

const LINK = { latency: 1e-6, bandwidth: 4.5e10 };
const psum = { kind: 'all-reduce', params: { op: 'sum' } } as const;

let pod: TestPod | undefined;
afterEach(async () => {
  await pod?.close();
  pod = undefined;
});

async function startPod(p: number, timeoutMs: number): Promise<TestPod> {
  pod = new TestPod(makeMesh({ x: p }), gridInterconnect([p], [true], LINK), p, { arenaBytes: 1 << 22, timeoutMs, choices: ['auto'] });
  await pod.ready();
  return pod;
}

function errorOf(o: CoreOutcome, core: number): Extract<CoreOutcome, { type: 'error' }>['error'] {
  if (o.type !== 'error') throw new Error(`core ${core}: expected a CollectiveError, got ${o.type}`);
  return o.error;
}

describe('faults never hang', () => {
  it('a worker terminated in the middle of all-reduces is a CollectiveError on every other core, within the deadline', async () => {
    const deadlineMs = 8000;
    const p = await startPod(8, deadlineMs);
    const victim = 3;
    const task: Task = { c: psum, axes: ['x'], dtype: 'f32', shape: [1 << 16], repeat: 1_000_000, returnOutput: false };
    const outcomes = p.run(p.workers.map(() => [task]));
    await new Promise((r) => setTimeout(r, 300));
    const killedAt = performance.now();
    await p.workers[victim]!.terminate();
    const results = await outcomes;
    const elapsed = performance.now() - killedAt;
    expect(results[victim]!.type).toBe('exited');
    expect(elapsed).toBeLessThan(deadlineMs);
    results.forEach((o, core) => {
      if (core === victim) return;
      const e = errorOf(o, core);
      expect(e.name).toBe('CollectiveError');
      expect(e.failure).toBe('peer-dead');
      expect(e.missingCores).toEqual([victim]);
      expect(e.missingRanks).toEqual([victim]);
      expect(e.message).toMatch(/all-reduce over \(x\)/);
      expect(e.waitedMs).toBeLessThan(deadlineMs);
    });
  });

  it('a peer that never arrives is a timeout naming it, at the deadline', async () => {
    const p = await startPod(4, 400);
    const late = 2;
    const tasks: Task[][] = p.workers.map((_, core) =>
      core === late ? [{ kind: 'sleep', ms: 1500 }] : [{ c: psum, axes: ['x'], dtype: 'f32', shape: [64] }],
    );
    const results = await p.run(tasks);
    results.forEach((o, core) => {
      if (core === late) return;
      const e = errorOf(o, core);
      expect(e.failure === 'timeout' || e.failure === 'peer-aborted').toBe(true);
      expect(e.missingRanks).toEqual([late]);
      expect(e.waitedMs).toBeLessThan(1400);
    });
    // At least one core reached its own deadline (the others may hear of it first).
    expect(results.some((o, core) => core !== late && o.type === 'error' && o.error.failure === 'timeout' && o.error.waitedMs! >= 400)).toBe(true);
  });

  it('a shape mismatch is an error on every core before any byte moves', async () => {
    const p = await startPod(4, 5000);
    const tasks: Task[][] = p.workers.map((_, core) => [{ c: psum, axes: ['x'], dtype: 'f32', shape: core === 1 ? [5] : [4] }]);
    const results = await p.run(tasks);
    results.forEach((o, core) => {
      const e = errorOf(o, core);
      expect(e.failure).toBe('mismatch');
      expect(e.waitedMs).toBeLessThan(2000);
    });
    // The odd one out is named by the others.
    expect(errorOf(results[0]!, 0).missingRanks).toEqual([1]);
  });

  it('a dtype mismatch is an error on every core', async () => {
    const p = await startPod(4, 5000);
    const dtypes = await p.run(p.workers.map((_, core) => [{ c: psum, axes: ['x'], dtype: core === 0 ? 'f32' : 'i32', shape: [8] }]));
    dtypes.forEach((o, core) => expect(errorOf(o, core).failure).toBe('mismatch'));
  });

  it('a local usage error on one core aborts its peers quickly', async () => {
    const p = await startPod(4, 5000);
    const scatter = (dim: number): Task => ({
      c: { kind: 'reduce-scatter', params: { scatterDimension: dim, tiled: true, op: 'sum' } },
      axes: ['x'],
      dtype: 'f32',
      shape: [8, 3],
      outShape: [2, 3],
    });
    const results = await p.run(p.workers.map((_, core) => [scatter(core === 2 ? 1 : 0)]));
    expect(errorOf(results[2]!, 2).name).toBe('CollectiveUsageError');
    results.forEach((o, core) => {
      if (core === 2) return;
      const e = errorOf(o, core);
      expect(e.failure).toBe('peer-aborted');
      expect(e.missingRanks).toEqual([2]);
      expect(e.waitedMs).toBeLessThan(2000);
    });
  });
});
