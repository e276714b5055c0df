import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as jnp from '../../src/program/numpy.js';
import { allGather, psum } from '../../src/gspmd/lax_parallel.js';
import type { Tensor } from '../../src/program/tracer.js';
import { ActorLostError, CoreTaskError, Pod } from '../../src/coordinator/pod.js';
import { AdmissionError, ConfigError, JobCancelledError } from '../../src/coordinator/plugin.js';
import { blockOf } from '../../src/coordinator/sharding.js';
import { makeMesh } from '../../src/collectives/mesh.js';
import { hostTensor } from '../../src/tpu/tensor.js';
import { matmulPlugin } from '../../src/workloads/matmul/plugin.js';
import { ensureBuilt, fixture, hooks, nextEvent, scriptPlugin } from './helpers.js';

const MIB = 1024 ** 2;

function iota(shape: number[]) {
  const t = hostTensor('f32', shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = i;
  return t;
}

describe('Pod on a v4-8', () => {
  let pod: Pod;
  let job = 0;
  const run = <R>(name: string, body: Parameters<typeof scriptPlugin<R>>[1], mesh?: Record<string, number>) =>
    pod.runJob({ id: `t${job++}`, plugin: scriptPlugin(name, body), config: {}, ...(mesh ? { mesh } : {}) }, hooks()) as Promise<R>;

  beforeAll(async () => {
    ensureBuilt();
    pod = await Pod.start({ topology: 'v4-8', mesh: { data: 4, model: 2 }, hbmBytesPerCore: 8 * MIB });
  });
  afterAll(async () => {
    await pod?.close();
  });

  it('has one actor per core, each knowing its core id and torus coordinates', async () => {
    expect(pod.info).toMatchObject({ topology: 'v4-8', chip: 'v4', numCores: 8, dims: [2, 2, 1], defaultMesh: { data: 4, model: 2 } });
    const r = await run('ids', async (ctx) => (await ctx.runOnCores(fixture('axisIndexSum'), { axes: ['data'] }, { outputs: { out: [] } })).cores);
    expect(r.map((c) => c.value)).toEqual(
      pod.info.cores.map((c) => ({
        coreId: c.id,
        rank: Math.floor(c.id / 2),
        meshCoords: [Math.floor(c.id / 2), c.id % 2],
        chipCoords: c.chipCoords,
      })),
    );
    // Core 3 is the second TensorCore of chip 1, at torus (1, 0, 0).
    expect(pod.info.cores[3]).toEqual({ id: 3, chipIndex: 1, chipCoords: [1, 0, 0], coreOnChip: 1 });
  });

  it('puts and gets sharded arrays through the arenas, for every kind of PartitionSpec', async () => {
    const x = iota([8, 6]);
    const mesh = makeMesh({ data: 4, model: 2 });
    const specs = [['data', 'model'], [['data', 'model'], null], [null, 'model'], ['model'], []] as const;
    const shards = await run('put-get', async (ctx) => {
      const out = [];
      for (const spec of specs) {
        const a = await ctx.put(x, spec, 'x');
        const back = await ctx.get(a);
        const shard5 = await ctx.getShard(a, 5);
        out.push({ localShape: a.localShape, back: [...back.data], shard5: [...shard5.data] });
        await ctx.free(a);
      }
      return out;
    });
    shards.forEach((s, i) => {
      expect(s.back).toEqual([...x.data]);
      const block = blockOf(specs[i]!, mesh, x.shape, 5);
      expect(s.localShape).toEqual(block.shape);
      const expected: number[] = [];
      for (let r = 0; r < block.shape[0]!; r++) {
        for (let c = 0; c < block.shape[1]!; c++) expected.push((block.start[0]! + r) * 6 + block.start[1]! + c);
      }
      expect(s.shard5).toEqual(expected);
    });
  });

  it('runs device functions on every core with collectives between the actors', async () => {
    const r = await run('psum', async (ctx) => {
      const over = async (axes: string[]) => {
        const res = await ctx.runOnCores(fixture('axisIndexSum'), { axes }, { outputs: { out: [] } });
        return [...(await ctx.get(res.outputs.out!)).data];
      };
      return { data: await over(['data']), model: await over(['model']), both: await over(['data', 'model']) };
    });
    expect(r).toEqual({ data: [0 + 1 + 2 + 3], model: [0 + 1], both: [28] });
  });

  it('sees a device function write a shard in place, and reads it back', async () => {
    const x = iota([4, 2]);
    const r = await run('incr', async (ctx) => {
      const a = await ctx.put(x, ['data'], 'x');
      const sums = (await ctx.runOnCores<number>(fixture('incrementShard'), { id: a.id })).cores.map((c) => c.value);
      return { sums, back: [...(await ctx.get(a)).data] };
    });
    expect(r.back).toEqual([...x.data].map((v) => v + 1));
    // Row i of x (values 2i, 2i+1) lives on the two cores with data coordinate i.
    expect(r.sums).toEqual([0, 1, 2, 3].flatMap((i) => [4 * i + 3, 4 * i + 3]));
  });

  it('jit traces on the coordinator and runs the program on every core', async () => {
    const x = iota([8, 4]);
    const r = await run('jit', async (ctx) => {
      const f = ctx.jit((t: Tensor) => jnp.add(jnp.multiply(t, 2), 1), { outSpecs: [['data', null]] });
      const a = await ctx.put(x, ['data', null], 'x');
      const [y] = await f(a);
      const [z] = await f(y!); // a cached program on the output's shards
      return { y: [...(await ctx.get(y!)).data], z: [...(await ctx.get(z!)).data], shape: z!.shape };
    });
    expect(r.y).toEqual([...x.data].map((v) => 2 * v + 1));
    expect(r.z).toEqual([...x.data].map((v) => 4 * v + 3));
    expect(r.shape).toEqual([8, 4]);
  });

  it('runs shard_map bodies with collectives between the actors', async () => {
    const x = iota([8, 4]);
    const before = pod.stats().collectives;
    const r = await run('shard_map', async (ctx) => {
      const a = await ctx.put(x, ['data', 'model'], 'x');
      const sumRows = ctx.shardMap((t: Tensor) => psum(t, 'data'), [['data', 'model']], [[null, 'model']]);
      const gather = ctx.shardMap((t: Tensor) => allGather(t, 'model', { axis: 1, tiled: true }), [['data', 'model']], [['data', null]]);
      const [s] = await sumRows(a);
      const [g] = await gather(a);
      const wrong = await sumRows(await ctx.put(x, ['data', null], 'y')).catch((e: Error) => e.message);
      return { s: [...(await ctx.get(s!)).data], sShape: s!.shape, g: [...(await ctx.get(g!)).data], wrong };
    });
    // s[r, c] = sum over the four row blocks of x[2i + r, c].
    const expected = [0, 1].flatMap((row) => [0, 1, 2, 3].map((c) => [0, 1, 2, 3].reduce((acc, i) => acc + x.data[(2 * i + row) * 4 + c]!, 0)));
    expect(r.sShape).toEqual([2, 4]);
    expect(r.s).toEqual(expected);
    expect(r.g).toEqual([...x.data]);
    expect(r.wrong).toMatch(/argument 0 is sharded PartitionSpec\('data', None\), in_specs\[0\] is PartitionSpec\('data', 'model'\)/);
    const after = pod.stats().collectives;
    expect(after['all-reduce'].calls - before['all-reduce'].calls).toBe(8);
    expect(after['all-gather'].calls - before['all-gather'].calls).toBe(8);
  });

  it('advances per-core counters, and busy + idle makes up the pod clock', async () => {
    const before = pod.stats();
    const values = await run('dot', async (ctx) => (await ctx.runOnCores<number>(fixture('oneDot'), { n: 64 })).cores.map((c) => c.value), { data: 2 });
    expect(values).toEqual([64, 64]);
    const after = pod.stats();
    expect(after.simulatedSeconds).toBeGreaterThan(before.simulatedSeconds);
    expect(after.wallSeconds).toBeGreaterThan(before.wallSeconds);
    expect(after.emulatedFlopsPerWallSecond).toBeGreaterThan(0);
    for (const c of [0, 1]) {
      expect(after.cores[c]!.usefulFlops - before.cores[c]!.usefulFlops).toBe(2 * 64 ** 3);
      expect(after.cores[c]!.hbmBytesWritten).toBeGreaterThan(before.cores[c]!.hbmBytesWritten);
    }
    // Cores outside the job's mesh did no work but idled for the whole job.
    expect(after.cores[5]!.usefulFlops).toBe(before.cores[5]!.usefulFlops);
    expect(after.cores[5]!.idleSeconds).toBeGreaterThan(before.cores[5]!.idleSeconds);
    for (const c of after.cores) {
      expect(c.busySeconds + c.idleSeconds).toBeCloseTo(after.simulatedSeconds, 12);
      expect(c.hbmBytesInUse).toBe(0); // the job's arrays went with it
      expect(c.mxuUtilization).toBeGreaterThanOrEqual(0);
      expect(c.mxuUtilization).toBeLessThanOrEqual(1);
    }
  });

  it('frees what a device function allocates and does not output', async () => {
    const r = await run('leak', async (ctx) => {
      const during = (await ctx.runOnCores<number>(fixture('leakTemporary'), { bytes: 4096 })).cores[0]!.value;
      const after = (await ctx.runOnCores<number>(fixture('bytesInUse'))).cores[0]!.value;
      return { during, after };
    });
    expect(r).toEqual({ during: 4096, after: 0 });
  });

  it('fails a job whose device function throws with that core and error, without restarting anything', async () => {
    const t0 = performance.now();
    const err = await run('throw', (ctx) => ctx.runOnCores(fixture('throwOn'), { core: 2 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CoreTaskError);
    expect((err as CoreTaskError).coreId).toBe(2);
    expect((err as Error).message).toMatch(/^core 2: RangeError: bad shard on core 2/);
    // The peers waiting in psum were told at once, not at their deadline.
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(pod.stats().restarts).toBe(0);
    const r = await run('after', async (ctx) => (await ctx.runOnCores(fixture('bytesInUse'))).cores.length);
    expect(r).toBe(8);
  });

  it('rejects a bad config naming the field, and a mesh larger than the pod', async () => {
    await expect(pod.runJob({ id: 'bad', plugin: matmulPlugin, config: { m: -1 } }, hooks())).rejects.toThrow(ConfigError);
    await expect(pod.runJob({ id: 'bad', plugin: matmulPlugin, config: { m: -1 } }, hooks())).rejects.toThrow(/config\.m:/);
    await expect(pod.runJob({ id: 'bad', plugin: matmulPlugin, config: { mm: 1 } }, hooks())).rejects.toThrow(/mm/);
    await expect(pod.runJob({ id: 'big', plugin: matmulPlugin, config: {}, mesh: { data: 16 } }, hooks())).rejects.toThrow(AdmissionError);
    const huge = { m: 8192, k: 8192, n: 8192 };
    await expect(pod.runJob({ id: 'huge', plugin: matmulPlugin, config: huge }, hooks())).rejects.toThrow(/bytes of HBM per core/);
  });

  it('stops a cancelled job at its next step boundary', async () => {
    const ac = new AbortController();
    const h = hooks(ac.signal);
    const plugin = scriptPlugin('loop', async (ctx) => {
      for (let step = 1; step <= 1000; step++) {
        ctx.throwIfCancelled();
        await ctx.runOnCores(fixture('bytesInUse'));
        ctx.progress(step, 1000);
        if (step === 2) ac.abort();
      }
      return 'finished';
    });
    const err = await pod.runJob({ id: 'cancel', plugin, config: {} }, h).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobCancelledError);
    expect(h.progress.map((p) => p.step)).toEqual([1, 2]);
  });

  it('checkpoints to msgpack in the job dir and restores typed arrays typed', async () => {
    const h = hooks();
    const first = scriptPlugin('ckpt', async (ctx) => {
      const none = await ctx.restore();
      await ctx.checkpoint({ step: 3, w: Float32Array.of(1.5, -2), note: 'x' });
      return none;
    });
    expect(await pod.runJob({ id: 'ck1', plugin: first, config: {} }, h)).toBeUndefined();
    const second = scriptPlugin('ckpt', async (ctx) => ctx.restore());
    const state = (await pod.runJob({ id: 'ck2', plugin: second, config: {} }, hooks(undefined, h.jobDir))) as { step: number; w: Float32Array };
    expect(state.step).toBe(3);
    expect(state.w).toBeInstanceOf(Float32Array);
    expect([...state.w]).toEqual([1.5, -2]);
  });

  it('runs jobs one at a time when they are submitted together', async () => {
    let running = 0;
    let most = 0;
    const plugin = scriptPlugin('overlap', async (ctx) => {
      most = Math.max(most, ++running);
      await ctx.runOnCores(fixture('bytesInUse'));
      running--;
      return ctx.jobId;
    });
    const ids = await Promise.all([0, 1, 2].map((i) => pod.runJob({ id: `o${i}`, plugin, config: {} }, hooks())));
    expect(ids).toEqual(['o0', 'o1', 'o2']);
    expect(most).toBe(1);
  });
});

describe('Pod supervision', () => {
  let pod: Pod;
  let job = 0;
  const exits: { coreId: number; reason: string }[] = [];
  const loops: { coreId: number; reason: string }[] = [];
  const small = { m: 32, k: 256, n: 16, steps: 2 };

  beforeAll(async () => {
    ensureBuilt();
    pod = await Pod.start({
      topology: 'v4-8',
      hbmBytesPerCore: 4 * MIB,
      actorTimeoutMs: 1_500,
      crashLoop: { restarts: 2, windowMs: 60_000, backoffMs: 50 },
    });
    pod.on('actor-exit', (e) => exits.push(e));
    pod.on('crash-loop', (e) => loops.push(e));
  });
  afterAll(async () => {
    await pod?.close();
  });

  const crashJob = (fn: string, args: unknown) =>
    pod.runJob({ id: `s${job++}`, plugin: scriptPlugin(fn, (ctx) => ctx.runOnCores(fixture(fn), args)), config: {} }, hooks());

  it('fails the job when an actor thread dies mid-job, restarts it, and the next job succeeds', async () => {
    const before = pod.stats();
    const restarted = nextEvent(pod, 'actor-restart', 3);
    const t0 = performance.now();
    const err = await crashJob('exitOn', { core: 3, code: 7 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorLostError);
    expect((err as ActorLostError).coreId).toBe(3);
    expect((err as Error).message).toMatch(/^core 3 lost: thread exited with code 7 \(during job s\d+\)$/);
    expect(performance.now() - t0).toBeLessThan(5_000); // the peers did not wait out a deadline
    expect(exits.at(-1)).toEqual({ coreId: 3, reason: 'thread exited with code 7' });
    await restarted;

    const h = hooks();
    const result = (await pod.runJob({ id: 'healed', plugin: matmulPlugin, config: small }, h)) as { checksum: number };
    expect(Number.isFinite(result.checksum)).toBe(true);
    const after = pod.stats();
    expect(after.cores[3]).toMatchObject({ alive: true, restarts: 1 });
    expect(after.cores.filter((c) => c.coreId !== 3).every((c) => c.restarts === 0)).toBe(true);
    // The dead actor's counters were kept: every counter only grows.
    expect(after.cores[3]!.tasks).toBeGreaterThan(before.cores[3]!.tasks);
    expect(after.cores[3]!.usefulFlops).toBeGreaterThan(before.cores[3]!.usefulFlops);
    expect(after.jobsFailed).toBe(before.jobsFailed + 1);
  });

  it('terminates an actor that hangs past its deadline, fails the job, and only that core restarts', async () => {
    const restarted = nextEvent(pod, 'actor-restart', 5);
    const err = await crashJob('spinOn', { core: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActorLostError);
    expect((err as Error).message).toMatch(/^core 5 lost: hung: call did not finish within the 1500 ms deadline/);
    await restarted;
    const s = pod.stats();
    expect(s.cores.map((c) => c.restarts)).toEqual([0, 0, 0, 1, 0, 1, 0, 0]);
    await expect(pod.runJob({ id: 'after-hang', plugin: matmulPlugin, config: small }, hooks())).resolves.toBeTruthy();
  });

  it('reports a crash loop and keeps serving', async () => {
    const looped = nextEvent(pod, 'crash-loop', 3);
    const restarted = nextEvent(pod, 'actor-restart', 3);
    await expect(crashJob('exitOn', { core: 3, code: 9 })).rejects.toThrow(/core 3 lost: thread exited with code 9/);
    const e = await looped;
    expect(e.reason).toMatch(/^2 restarts within 60 s; last: thread exited with code 9$/);
    expect(loops).toHaveLength(1);
    await restarted;
    expect(pod.stats()).toMatchObject({ crashLoops: 1, restarts: 3 });
    await expect(pod.runJob({ id: 'after-loop', plugin: matmulPlugin, config: small }, hooks())).resolves.toBeTruthy();
  });

  it('notices a thread killed from outside between jobs and restarts it', async () => {
    const exited = nextEvent(pod, 'actor-exit', 6);
    const restarted = nextEvent(pod, 'actor-restart', 6);
    // Kill core 6's thread from outside, as an operator (or the OOM killer) would: piscina
    // alone would quietly respawn it; the pod must notice and restart it with a fresh arena.
    const actor = (pod as unknown as { actors: { pool: { threads: { terminate(): Promise<number> }[] } }[] }).actors[6]!;
    await actor.pool.threads[0]!.terminate();
    expect(await exited).toEqual({ coreId: 6, reason: 'thread exited with code 1' });
    await restarted;
    expect(pod.stats().cores[6]).toMatchObject({ alive: true, restarts: 1 });
    await expect(pod.runJob({ id: 'after-idle-exit', plugin: matmulPlugin, config: small }, hooks())).resolves.toBeTruthy();
  });

  it('leaves no threads after close, and refuses jobs', async () => {
    expect(pod.liveThreads()).toBe(8);
    await pod.close();
    expect(pod.liveThreads()).toBe(0);
    await expect(pod.runJob({ id: 'closed', plugin: matmulPlugin, config: small }, hooks())).rejects.toThrow(/closed/);
  });
});
