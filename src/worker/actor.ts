/**
 * The actor: the entry of one core's worker thread (a piscina worker module; its default
 * export handles one mailbox message at a time).
 *
 * The thread is long-lived and knows its identity from workerData: core id, torus
 * coordinates, and the HBM arena buffer the coordinator created. Per job it builds a fresh
 * TensorCore over that buffer (a fresh allocator: a job's leftovers never leak into the
 * next) and a Communicator over the job's control block; at the job's end the core's
 * counters are folded into the actor's running totals, which it publishes in its stats
 * block after every task.
 *
 * Work arrives as device functions (a module export called with a DeviceContext) or as
 * traced programs (jit, shard_map), which spmd_runner.ts runs with their collectives on
 * the communicator.
 */
import { threadId, workerData } from 'node:worker_threads';
import { Communicator } from '../collectives/communicator.js';
import { HbmArena, type DeviceTensor } from '../tpu/arena.js';
import { TensorCore } from '../tpu/core.js';
import { type CoreLocation, coreLocation, parseTopology } from '../tpu/topology.js';
import type { ActorInit, ActorRequest, AllocReply, ArrayPlacement, ExecReply, HelloReply } from './protocol.js';
import { DeviceContext, type DeviceFunction } from './device_context.js';
import { runProgramOnCore } from './spmd_runner.js';
import { COLLECTIVE_OPS } from '../collectives/semantics.js';
import { Activity, type StatsSnapshot, addSnapshots, emptySnapshot, setActivity, writeStats } from './stats_block.js';

interface OpenJob {
  readonly id: string;
  readonly core: TensorCore;
  readonly comm: Communicator;
  readonly arrays: Map<string, DeviceTensor>;
}

const init = workerData as ActorInit;
const topology = parseTopology(init.topology);
const location: CoreLocation = coreLocation(topology, init.coreId);
/** Counters of the jobs this actor has closed. */
let retired: StatsSnapshot = emptySnapshot();
let wallBusySeconds = 0;
let tasks = 0;
let job: OpenJob | undefined;

function jobSnapshot(j: OpenJob): StatsSnapshot {
  const s = emptySnapshot();
  const c = j.core.stats();
  Object.assign(s.core, {
    elapsedSeconds: c.elapsedSeconds,
    usefulFlops: c.usefulFlops,
    mxuFlops: c.mxuFlops,
    vpuOps: c.vpuOps,
    hbmBytesRead: c.hbmBytesRead,
    hbmBytesWritten: c.hbmBytesWritten,
    hbmBytesInUse: c.hbmBytesInUse,
    hbmPeakBytesInUse: c.hbmPeakBytesInUse,
    hbmCapacity: c.hbmCapacity,
    busyMxuSeconds: c.busySeconds.mxu,
    busyVpuSeconds: c.busySeconds.vpu,
    busyHbmSeconds: c.busySeconds.hbm,
    busyOverheadSeconds: c.busySeconds.overhead,
    busyIciSeconds: c.busySeconds.ici,
    busyHostSeconds: c.busySeconds.host,
  });
  for (const [op, k] of j.comm.counters()) s.collectives[op] = { calls: k.calls, bytesSent: k.bytesSent, seconds: k.seconds };
  return s;
}

function publish(): void {
  const s = job ? addSnapshots(retired, jobSnapshot(job)) : addSnapshots(retired, emptySnapshot());
  s.core.hbmCapacity = init.hbmBytes;
  s.core.wallBusySeconds = wallBusySeconds;
  s.core.tasks = tasks;
  writeStats(init.stats, s);
}

function openJob(req: Extract<ActorRequest, { type: 'open-job' }>): void {
  if (job) closeJob();
  // The arena over the job's copy of this core's buffer: the same memory as workerData's,
  // but the very object the communicator was given (each posted SAB is a new wrapper).
  const buffer = req.buffers[init.coreId];
  if (!buffer || buffer.byteLength !== init.arena.byteLength) {
    throw new Error(`core ${init.coreId}: open-job did not carry this core's arena buffer`);
  }
  const core = new TensorCore({
    chip: topology.chip,
    arena: new HbmArena({ capacityBytes: init.hbmBytes, buffer }),
    coreId: init.coreId,
    ...(init.kernels ? { kernels: init.kernels } : {}),
  });
  const comm = new Communicator(
    {
      coreId: init.coreId,
      mesh: req.mesh,
      interconnect: req.interconnect,
      control: req.control,
      buffers: req.buffers,
      timeoutMs: req.collectiveTimeoutMs,
    },
    { arena: core.arena, clock: { now: () => core.now, advance: (seconds) => core.advance(seconds, 'ici') } },
  );
  job = { id: req.jobId, core, comm, arrays: new Map() };
}

function closeJob(): void {
  if (!job) return;
  const done = jobSnapshot(job);
  done.core.hbmBytesInUse = 0;
  done.core.hbmPeakBytesInUse = 0;
  retired = addSnapshots(retired, done);
  job = undefined;
}

function openJobFor(jobId: string): OpenJob {
  if (!job || job.id !== jobId) throw new Error(`core ${init.coreId}: job ${jobId} is not open on this core`);
  return job;
}

function placement(id: string, t: DeviceTensor): ArrayPlacement {
  return { id, dtype: t.dtype, shape: [...t.shape], offset: t.allocation.offset };
}

function keep(j: OpenJob, id: string, t: DeviceTensor): void {
  const old = j.arrays.get(id);
  if (old) j.core.arena.release(old);
  j.arrays.set(id, t);
}

function collectiveSeconds(j: OpenJob): number {
  let s = 0;
  for (const op of COLLECTIVE_OPS) s += j.comm.counters().get(op)?.seconds ?? 0;
  return s;
}

async function loadFunction(module: string, name: string): Promise<DeviceFunction> {
  const mod = (await import(module)) as Record<string, unknown>;
  const f = mod[name];
  if (typeof f !== 'function') throw new Error(`core ${init.coreId}: ${module} has no exported function '${name}'`);
  return f as DeviceFunction;
}

async function call(req: Extract<ActorRequest, { type: 'call' }>): Promise<ExecReply> {
  const j = openJobFor(req.jobId);
  const f = await loadFunction(req.fn.module, req.fn.name);
  const dev = new DeviceContext(j.core, j.comm, j.arrays, location, j.id, (inside) =>
    setActivity(init.stats, inside ? Activity.collective : Activity.running),
  );
  const start = j.core.now;
  const flops0 = j.core.stats();
  const coll0 = collectiveSeconds(j);
  let value: unknown;
  let kept: Map<string, DeviceTensor>;
  try {
    value = await f(dev, req.args);
    kept = dev.finish();
    for (const name of Object.keys(req.outputs)) {
      if (!kept.has(name)) throw new Error(`core ${init.coreId}: ${req.fn.name} did not produce output '${name}'`);
    }
  } catch (e) {
    dev.abandon();
    throw e;
  }
  const outputs: (ArrayPlacement & { name: string })[] = [];
  for (const [name, t] of kept) {
    const id = req.outputs[name];
    if (id === undefined) {
      j.core.arena.release(t); // an output nobody asked for
      continue;
    }
    keep(j, id, t);
    outputs.push({ name, ...placement(id, t) });
  }
  const flops1 = j.core.stats();
  return {
    value,
    outputs,
    start,
    end: j.core.now,
    usefulFlops: flops1.usefulFlops - flops0.usefulFlops,
    mxuFlops: flops1.mxuFlops - flops0.mxuFlops,
    collectiveSeconds: collectiveSeconds(j) - coll0,
  };
}

function runProgram(req: Extract<ActorRequest, { type: 'program' }>): ExecReply {
  const j = openJobFor(req.jobId);
  const inputs = req.inputs.map((id) => {
    const t = j.arrays.get(id);
    if (!t) throw new Error(`core ${init.coreId}: no array '${id}' in job ${j.id}`);
    return t;
  });
  const start = j.core.now;
  const before = j.core.stats();
  const coll0 = collectiveSeconds(j);
  const results = runProgramOnCore(req.program, inputs, j.core, j.comm, j.comm.mesh, (inside) =>
    setActivity(init.stats, inside ? Activity.collective : Activity.running),
  );
  if (results.length !== req.outputs.length) {
    throw new Error(`core ${init.coreId}: the program has ${results.length} outputs, ${req.outputs.length} ids were given`);
  }
  const outputs = results.map((r, i) => {
    const t = j.core.arena.tensor(r.dtype, r.shape, `program output ${i}`);
    t.data.set(r.data);
    keep(j, req.outputs[i]!, t);
    return { name: String(i), ...placement(req.outputs[i]!, t) };
  });
  const after = j.core.stats();
  return {
    value: null,
    outputs,
    start,
    end: j.core.now,
    usefulFlops: after.usefulFlops - before.usefulFlops,
    mxuFlops: after.mxuFlops - before.mxuFlops,
    collectiveSeconds: collectiveSeconds(j) - coll0,
  };
}

function alloc(req: Extract<ActorRequest, { type: 'alloc' }>): AllocReply {
  const j = openJobFor(req.jobId);
  const made: [string, DeviceTensor][] = [];
  try {
    for (const a of req.arrays) made.push([a.id, j.core.arena.tensor(a.dtype, a.shape, a.id)]);
  } catch (e) {
    for (const [, t] of made) j.core.arena.release(t);
    throw e;
  }
  for (const [id, t] of made) keep(j, id, t);
  return { placements: made.map(([id, t]) => placement(id, t)) };
}

function free(req: Extract<ActorRequest, { type: 'free' }>): null {
  const j = openJobFor(req.jobId);
  for (const id of req.ids) {
    const t = j.arrays.get(id);
    if (!t) continue;
    j.core.arena.release(t);
    j.arrays.delete(id);
  }
  return null;
}

function hello(): HelloReply {
  return { coreId: init.coreId, chipCoords: [...location.chipCoords], coreOnChip: location.coreOnChip, threadId };
}

publish();

export default async function handle(req: ActorRequest): Promise<unknown> {
  const t0 = performance.now();
  setActivity(init.stats, Activity.running);
  try {
    switch (req.type) {
      case 'hello':
        return hello();
      case 'open-job':
        openJob(req);
        return null;
      case 'alloc':
        return alloc(req);
      case 'free':
        return free(req);
      case 'call':
        return await call(req);
      case 'program':
        return runProgram(req);
      case 'close-job':
        if (job?.id === req.jobId) closeJob();
        return null;
    }
  } catch (e) {
    // Errors cross to the coordinator by structured clone, which keeps only standard error
    // names; carry the class name (CollectiveError, OutOfMemoryError...) in the message.
    const err = e instanceof Error ? e : new Error(String(e));
    const wrapped = new Error(`${err.name}: ${err.message}`);
    if (err.stack) wrapped.stack = err.stack;
    throw wrapped;
  } finally {
    setActivity(init.stats, Activity.idle);
    wallBusySeconds += (performance.now() - t0) / 1000;
    tasks++;
    publish();
  }
}
