/**
 * The pod: one worker-thread actor per core of a Cloud TPU topology, supervised, running
 * one job at a time on a mesh laid over the cores.
 *
 * Supervision. When an actor's thread dies (exit, uncaught error) or overruns the deadline
 * of a task (actorTimeoutMs: a hang; the thread is terminated), the pod
 * 1. reports 'actor-exit' and fails the running job with an ActorLostError naming the core,
 *    marking the core dead in the job's collectives control block so the other cores stop
 *    waiting for it at once;
 * 2. keeps the dead actor's counters (so the metrics stay monotonic) and restarts it with a
 *    fresh arena, reporting 'actor-restart';
 * 3. counts restarts per core: crashLoop.restarts within crashLoop.windowMs is a crash loop,
 *    reported as 'crash-loop' (and in stats()), and further restarts of that core wait
 *    crashLoop.backoffMs first so a thread that dies at start does not spin.
 * The pod keeps serving: the next job waits for the restarted actors and runs.
 *
 * Simulated time. Each job starts every core's clock at 0; the job lasts, in simulated
 * time, as long as its latest core. The pod's clock is the sum over jobs; a core is idle
 * for whatever part of it it was not busy, so per core busy + idle = the pod's clock.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interconnectOf } from '../collectives/interconnect.js';
import { type DeviceMesh, makeMesh } from '../collectives/mesh.js';
import { COLLECTIVE_OPS, type CollectiveOpName } from '../collectives/semantics.js';
import type { KernelChoice } from '../tpu/core.js';
import { type Topology, parseTopology } from '../tpu/topology.js';
import { type CollectiveOpCounters, type StatsSnapshot, addSnapshots, emptySnapshot, readStats } from '../worker/stats_block.js';
import { Actor, ActorLostError } from './actor.js';
import { type JobHooks, PodJobContext } from './job_context.js';
import { JobRun } from './job_run.js';
import { compiledModuleUrl } from './module_url.js';
import { AdmissionError, JobCancelledError, type PodInfo, type WorkloadPlugin, parseConfig } from './plugin.js';

export { ActorLostError, CoreTaskError } from './actor.js';

export interface PodOptions {
  /** Cloud TPU name (`v4-8`) or generation:dims (`v4:2x2x1`). */
  readonly topology: string;
  /** Default mesh for jobs that name none, e.g. { data: 4, model: 2 }; default { data: numCores }. */
  readonly mesh?: Record<string, number>;
  /** Arena bytes per core (a real SharedArrayBuffer each). Default 256 MiB. */
  readonly hbmBytesPerCore?: number;
  /** Where job directories live: a relative hooks.jobDir is resolved against it (default: the working directory). */
  readonly dataDir?: string;
  /** Deadline of one task on one core (one step of one job); past it the actor is deemed hung. Default 10 min. */
  readonly actorTimeoutMs?: number;
  readonly crashLoop?: { readonly restarts?: number; readonly windowMs?: number; readonly backoffMs?: number };
  /** Kernel choice of every core (default 'fast'). */
  readonly kernels?: KernelChoice;
}

export type PodEvent = 'actor-exit' | 'actor-restart' | 'crash-loop';
export interface PodEventInfo {
  readonly coreId: number;
  readonly reason: string;
}

export interface PodCoreStats {
  readonly coreId: number;
  readonly alive: boolean;
  readonly restarts: number;
  /** Simulated seconds the core was busy (its clock's advance, collectives included). */
  readonly busySeconds: number;
  /** Simulated seconds of the pod's clock the core was not busy. */
  readonly idleSeconds: number;
  /** Useful FLOPs / (pod simulated seconds x peak per core). */
  readonly mxuUtilization: number;
  readonly usefulFlops: number;
  /** FLOPs the MXU spent, padding included. */
  readonly mxuFlops: number;
  readonly vpuOps: number;
  readonly hbmBytesRead: number;
  readonly hbmBytesWritten: number;
  readonly hbmBytesInUse: number;
  readonly hbmCapacityBytes: number;
  /** Simulated busy seconds per unit (units overlap inside an op). */
  readonly busyByUnit: Readonly<Record<'mxu' | 'vpu' | 'hbm' | 'overhead' | 'ici' | 'host', number>>;
  /** Wall seconds the actor spent running tasks. */
  readonly wallBusySeconds: number;
  readonly tasks: number;
}

export interface PodStats {
  /** The pod's simulated clock: the sum of the jobs' simulated durations. */
  readonly simulatedSeconds: number;
  /** Wall seconds spent running jobs. */
  readonly wallSeconds: number;
  /** Useful FLOPs the emulated cores computed. */
  readonly emulatedFlops: number;
  /** emulatedFlops / wallSeconds: how fast the host emulates the pod. */
  readonly emulatedFlopsPerWallSecond: number;
  readonly jobsRun: number;
  readonly jobsFailed: number;
  readonly restarts: number;
  readonly crashLoops: number;
  readonly cores: readonly PodCoreStats[];
  /** Per collective op, summed over cores. */
  readonly collectives: Readonly<Record<CollectiveOpName, CollectiveOpCounters>>;
}

export interface PodJob {
  readonly id: string;
  readonly plugin: WorkloadPlugin;
  readonly config: unknown;
  readonly mesh?: Record<string, number>;
}

const DEFAULT_HBM_BYTES = 256 * 1024 ** 2;
const DEFAULT_ACTOR_TIMEOUT_MS = 10 * 60_000;
const DEFAULT_CRASH_LOOP = { restarts: 3, windowMs: 60_000, backoffMs: 1_000 };

function podInfo(t: Topology, mesh: Record<string, number>, hbmBytesPerCore: number): PodInfo {
  return {
    topology: t.name,
    chip: t.chip.generation,
    dims: [...t.dims],
    numCores: t.numCores,
    cores: t.cores.map((c) => ({ id: c.coreId, chipIndex: c.chipIndex, chipCoords: [...c.chipCoords], coreOnChip: c.coreOnChip })),
    defaultMesh: { ...mesh },
    hbmBytesPerCore,
    peakFlopsPerCore: t.chip.peakFlopsPerCore,
  };
}

export class Pod {
  readonly info: PodInfo;
  private readonly topology: Topology;
  private readonly actors: Actor[] = [];
  private readonly listeners = new Map<PodEvent, Set<(e: PodEventInfo) => void>>();
  /** Counters of each core's dead actors. */
  private readonly retired: StatsSnapshot[];
  private readonly restartCounts: number[];
  private readonly restartTimes: number[][];
  private readonly restartChains: Promise<void>[];
  private readonly timeoutMs: number;
  private readonly dataDir: string;
  private readonly crashLoop: { restarts: number; windowMs: number; backoffMs: number };
  private current: JobRun | undefined;
  private jobChain: Promise<unknown> = Promise.resolve();
  private simulatedSeconds = 0;
  private wallSeconds = 0;
  private jobsRun = 0;
  private jobsFailed = 0;
  private crashLoops = 0;
  private closed = false;

  private constructor(topology: Topology, info: PodInfo, opts: PodOptions) {
    this.topology = topology;
    this.info = info;
    this.timeoutMs = opts.actorTimeoutMs ?? DEFAULT_ACTOR_TIMEOUT_MS;
    this.dataDir = resolve(opts.dataDir ?? '.');
    this.crashLoop = { ...DEFAULT_CRASH_LOOP, ...opts.crashLoop };
    const n = topology.numCores;
    this.retired = Array.from({ length: n }, () => emptySnapshot());
    this.restartCounts = new Array<number>(n).fill(0);
    this.restartTimes = Array.from({ length: n }, () => []);
    this.restartChains = Array.from({ length: n }, () => Promise.resolve());
  }

  /** Parses the topology, starts one actor per core and waits until every one answers. */
  static async start(opts: PodOptions): Promise<Pod> {
    const topology = parseTopology(opts.topology);
    const mesh = opts.mesh ?? { data: topology.numCores };
    makeMesh(mesh, checkMeshSize(mesh, topology.numCores));
    const hbm = opts.hbmBytesPerCore ?? DEFAULT_HBM_BYTES;
    if (!Number.isSafeInteger(hbm) || hbm <= 0) throw new RangeError(`hbmBytesPerCore must be a positive integer, got ${hbm}`);
    const pod = new Pod(topology, podInfo(topology, mesh, hbm), opts);
    const filename = fileURLToPath(compiledModuleUrl('../worker/actor.js', import.meta.url));
    for (const c of topology.cores) {
      pod.actors.push(
        new Actor({
          coreId: c.coreId,
          topology: topology.name,
          hbmBytes: hbm,
          filename,
          ...(opts.kernels ? { kernels: opts.kernels } : {}),
          onLost: (a, reason) => pod.onActorLost(a, reason),
        }),
      );
    }
    try {
      await Promise.all(pod.actors.map((a) => a.start()));
    } catch (e) {
      await pod.close();
      throw new Error(`pod ${topology.name}: an actor failed to start: ${(e as Error).message}`);
    }
    return pod;
  }

  on(event: PodEvent, fn: (e: PodEventInfo) => void): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
  }

  off(event: PodEvent, fn: (e: PodEventInfo) => void): void {
    this.listeners.get(event)?.delete(fn);
  }

  /**
   * Runs one job: validates its config, admits it, opens it on the mesh's cores, runs the
   * plugin and closes it. Jobs run one at a time (a second call waits for the first).
   * Rejects with the job's root cause: ActorLostError naming the core on a crash or hang,
   * CoreTaskError naming the core when a device function throws, ConfigError, AdmissionError,
   * JobCancelledError.
   */
  runJob(job: PodJob, hooks: JobHooks): Promise<unknown> {
    const run = this.jobChain.then(() => this.runNow(job, hooks));
    this.jobChain = run.catch(() => undefined);
    return run;
  }

  stats(): PodStats {
    const sim = this.simulatedSeconds + (this.current?.maxClock ?? 0);
    const collectives = emptySnapshot().collectives;
    let flops = 0;
    const cores = this.actors.map((a, c): PodCoreStats => {
      const live = a.stats ? readStats(a.stats) : emptySnapshot();
      const s = addSnapshots(this.retired[c]!, live);
      if (!a.isAlive) s.core.hbmBytesInUse = 0;
      for (const op of COLLECTIVE_OPS) {
        const x = collectives[op];
        const y = s.collectives[op];
        collectives[op] = { calls: x.calls + y.calls, bytesSent: x.bytesSent + y.bytesSent, seconds: x.seconds + y.seconds };
      }
      flops += s.core.usefulFlops;
      const busy = s.core.elapsedSeconds;
      return {
        coreId: c,
        alive: a.isAlive,
        restarts: this.restartCounts[c]!,
        busySeconds: busy,
        idleSeconds: Math.max(0, sim - busy),
        mxuUtilization: sim > 0 ? s.core.usefulFlops / (sim * this.info.peakFlopsPerCore) : 0,
        usefulFlops: s.core.usefulFlops,
        mxuFlops: s.core.mxuFlops,
        vpuOps: s.core.vpuOps,
        hbmBytesRead: s.core.hbmBytesRead,
        hbmBytesWritten: s.core.hbmBytesWritten,
        hbmBytesInUse: s.core.hbmBytesInUse,
        hbmCapacityBytes: this.info.hbmBytesPerCore,
        busyByUnit: {
          mxu: s.core.busyMxuSeconds,
          vpu: s.core.busyVpuSeconds,
          hbm: s.core.busyHbmSeconds,
          overhead: s.core.busyOverheadSeconds,
          ici: s.core.busyIciSeconds,
          host: s.core.busyHostSeconds,
        },
        wallBusySeconds: s.core.wallBusySeconds,
        tasks: s.core.tasks,
      };
    });
    const wall = this.wallSeconds;
    return {
      simulatedSeconds: sim,
      wallSeconds: wall,
      emulatedFlops: flops,
      emulatedFlopsPerWallSecond: wall > 0 ? flops / wall : 0,
      jobsRun: this.jobsRun,
      jobsFailed: this.jobsFailed,
      restarts: this.restartCounts.reduce((x, y) => x + y, 0),
      crashLoops: this.crashLoops,
      cores,
      collectives,
    };
  }

  /** Threads the pod's actors have running (0 after close). */
  liveThreads(): number {
    return this.actors.reduce((n, a) => n + a.liveThreads(), 0);
  }

  /** Stops every actor; pending restarts are abandoned. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.restartChains);
    await Promise.all(this.actors.map((a) => a.close()));
  }

  // ---- jobs ------------------------------------------------------------------------------

  private async runNow(job: PodJob, hooks: JobHooks): Promise<unknown> {
    if (this.closed) throw new Error(`pod is closed; job ${job.id} was not run`);
    const config = parseConfig(job.plugin, job.config);
    const meshAxes = job.mesh ?? job.plugin.mesh?.(config, this.info) ?? this.info.defaultMesh;
    const mesh: DeviceMesh = makeMesh(meshAxes, checkMeshSize(meshAxes, this.info.numCores));
    this.admit(job, config, mesh);
    if (hooks.signal.aborted) throw new JobCancelledError(job.id);
    await this.waitForActors(mesh);
    const run = new JobRun(job.id, mesh, this.actors, interconnectOf(this.topology), this.timeoutMs);
    this.current = run;
    const t0 = performance.now();
    try {
      await run.open();
      const ctx = new PodJobContext(run, this.info, { ...hooks, jobDir: resolve(this.dataDir, hooks.jobDir) });
      let result: unknown;
      try {
        result = await job.plugin.run(ctx, config);
      } catch (e) {
        throw run.error ?? e;
      }
      run.throwIfFailed();
      this.jobsRun++;
      return result;
    } catch (e) {
      this.jobsRun++;
      this.jobsFailed++;
      throw e;
    } finally {
      await run.close();
      this.current = undefined;
      this.simulatedSeconds += run.maxClock;
      this.wallSeconds += (performance.now() - t0) / 1000;
    }
  }

  private admit(job: PodJob, config: unknown, mesh: DeviceMesh): void {
    const need = job.plugin.resources?.(config, this.info);
    if (!need) return;
    if (need.cores > mesh.devices.length) {
      throw new AdmissionError(`${job.plugin.name}: needs ${need.cores} cores, the job's mesh has ${mesh.devices.length}`);
    }
    if (need.hbmBytesPerCore > this.info.hbmBytesPerCore) {
      throw new AdmissionError(
        `${job.plugin.name}: needs ${need.hbmBytesPerCore} bytes of HBM per core, the pod's cores have ${this.info.hbmBytesPerCore}`,
      );
    }
  }

  /** Waits for restarts of the mesh's cores in progress; throws naming a core that is still down. */
  private async waitForActors(mesh: DeviceMesh): Promise<void> {
    await Promise.all(mesh.devices.map((c) => this.restartChains[c]));
    for (const c of mesh.devices) {
      if (!this.actors[c]!.isAlive) throw new ActorLostError(c, 'the actor is down and its restart failed');
    }
  }

  // ---- supervision -----------------------------------------------------------------------

  private emit(event: PodEvent, e: PodEventInfo): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(e);
      } catch {
        // A listener's failure must not stop supervision.
      }
    }
  }

  private onActorLost(actor: Actor, reason: string): void {
    const c = actor.coreId;
    this.emit('actor-exit', { coreId: c, reason });
    this.current?.actorLost(c, reason);
    const dead = readStats(actor.stats);
    dead.core.hbmBytesInUse = 0;
    dead.core.hbmPeakBytesInUse = 0;
    this.retired[c] = addSnapshots(this.retired[c]!, dead);
    if (this.closed) return;

    const now = performance.now();
    const times = this.restartTimes[c]!.filter((t) => now - t < this.crashLoop.windowMs);
    times.push(now);
    this.restartTimes[c] = times;
    const looping = times.length >= this.crashLoop.restarts;
    if (looping) {
      this.crashLoops++;
      this.emit('crash-loop', {
        coreId: c,
        reason: `${times.length} restarts within ${this.crashLoop.windowMs / 1000} s; last: ${reason}`,
      });
    }
    this.restartChains[c] = this.restartChains[c]!.then(async () => {
      if (looping) await new Promise((r) => setTimeout(r, this.crashLoop.backoffMs));
      if (this.closed) return;
      this.restartCounts[c]!++;
      try {
        await actor.restart();
        this.emit('actor-restart', { coreId: c, reason });
      } catch {
        // The new thread died too; its own loss report schedules the next restart.
      }
    });
  }
}

/** The devices of a mesh of `axes` on a pod of `numCores`: the first prod(axes) cores. */
function checkMeshSize(axes: Record<string, number>, numCores: number): number[] {
  const size = Object.values(axes).reduce((p, d) => p * d, 1);
  if (!Number.isSafeInteger(size) || size < 1 || size > numCores) {
    throw new AdmissionError(
      `mesh ${Object.entries(axes).map(([k, v]) => `${k}=${v}`).join(',')} needs ${size} cores, the pod has ${numCores}`,
    );
  }
  return Array.from({ length: size }, (_, i) => i);
}
