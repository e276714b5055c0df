import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createControlBlock } from '../../src/collectives/control.js';
import { interconnectOf } from '../../src/collectives/interconnect.js';
import { makeMesh } from '../../src/collectives/mesh.js';
import { Actor, ActorLostError, CoreTaskError } from '../../src/coordinator/actor.js';
import { compiledModuleUrl } from '../../src/coordinator/module_url.js';
import { parseTopology } from '../../src/tpu/topology.js';
import type { AllocReply, ExecReply, HelloReply } from '../../src/worker/protocol.js';
import { readStats } from '../../src/worker/stats_block.js';
import { ensureBuilt, fixture } from '../coordinator/helpers.js';

const topology = parseTopology('v4-8');
const actors: Actor[] = [];

function startActor(coreId: number, lost: string[] = []): Actor {
  ensureBuilt();
  const filename = fileURLToPath(compiledModuleUrl('../../src/worker/actor.js', import.meta.url));
  const a = new Actor({ coreId, topology: 'v4-8', hbmBytes: 1 << 20, filename, onLost: (_, reason) => lost.push(reason) });
  actors.push(a);
  return a;
}

/** Opens job `id` on `a` alone (a one-core mesh). */
async function openSolo(a: Actor, id: string): Promise<void> {
  await a.run({
    type: 'open-job',
    jobId: id,
    mesh: makeMesh({ data: 1 }, [a.coreId]),
    interconnect: interconnectOf(topology),
    control: createControlBlock(8, 1),
    buffers: new Array(8).fill(a.arena),
    collectiveTimeoutMs: 5_000,
  });
}

afterEach(async () => {
  await Promise.all(actors.splice(0).map((a) => a.close()));
});

describe('actor thread', () => {
  it('knows its core and torus coordinates, and runs priced work in its own arena', async () => {
    const a = startActor(6);
    const hello = (await a.start()) as HelloReply;
    expect(hello).toMatchObject({ coreId: 6, chipCoords: [1, 1, 0], coreOnChip: 0 });
    expect(hello.threadId).toBeGreaterThan(0);
    await openSolo(a, 'j');
    const alloc = (await a.run({ type: 'alloc', jobId: 'j', arrays: [{ id: 'x', dtype: 'f32', shape: [4] }] })) as AllocReply;
    expect(alloc.placements[0]).toMatchObject({ id: 'x', dtype: 'f32', shape: [4] });
    const r = (await a.run({ type: 'call', jobId: 'j', fn: fixture('oneDot'), args: { n: 32 }, outputs: {} })) as ExecReply;
    expect(r.value).toBe(32);
    expect(r.usefulFlops).toBe(2 * 32 ** 3);
    expect(r.end).toBeGreaterThan(r.start);
    const s = readStats(a.stats);
    expect(s.core.usefulFlops).toBe(2 * 32 ** 3);
    expect(s.core.tasks).toBe(4); // hello, open-job, alloc, call: the counters are published after each
    expect(s.core.hbmBytesInUse).toBe(16); // x stays; the call's temporaries are gone
    await a.run({ type: 'close-job', jobId: 'j' });
    expect(readStats(a.stats).core).toMatchObject({ hbmBytesInUse: 0, usefulFlops: 2 * 32 ** 3 });
  });

  it('reports a failing task with the core and the error class, and keeps running', async () => {
    const a = startActor(1);
    await a.start();
    await openSolo(a, 'j');
    const err = await a.run({ type: 'call', jobId: 'j', fn: fixture('noSuchExport'), args: null, outputs: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoreTaskError);
    expect((err as Error).message).toMatch(/^core 1: Error: core 1: .*device_functions\.mjs has no exported function 'noSuchExport'$/);
    await expect(a.run({ type: 'free', jobId: 'other', ids: [] })).rejects.toThrow(/job other is not open on this core/);
    expect(a.isAlive).toBe(true);
  });

  it('is terminated when it overruns its deadline, reported lost once, and restarts with a fresh arena', async () => {
    const lost: string[] = [];
    const a = startActor(4, lost);
    await a.start();
    const arena = a.arena;
    await openSolo(a, 'j');
    const err = await a.run({ type: 'call', jobId: 'j', fn: fixture('spinOn'), args: { core: 4 }, outputs: {} }, 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorLostError);
    expect((err as Error).message).toBe('core 4 lost: hung: call did not finish within the 300 ms deadline');
    expect(lost).toEqual(['hung: call did not finish within the 300 ms deadline']);
    expect(a.isAlive).toBe(false);
    await expect(a.run({ type: 'hello' })).rejects.toThrow(ActorLostError);
    await a.restart();
    expect(a.isAlive).toBe(true);
    expect(a.arena).not.toBe(arena);
    expect(a.generation).toBe(2);
    expect(lost).toHaveLength(1);
  });

  it('leaves no thread behind when closed', async () => {
    const a = startActor(0);
    await a.start();
    expect(a.liveThreads()).toBe(1);
    await a.close();
    expect(a.liveThreads()).toBe(0);
  });
});
