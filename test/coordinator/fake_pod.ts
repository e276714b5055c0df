/**
 * A small in-test executor for the job manager's tests: it runs a plugin's `run` on the
 * coordinator's thread with a context that has the lifecycle parts of JobContext
 * (signal, progress, log) and counts simulated time as the plugin reports it.
 */
import { z } from 'zod';
import type { JobHooks } from '../../src/coordinator/job_context.js';
import type { PodStats } from '../../src/coordinator/pod.js';
import { JobCancelledError, type JobContext, type PodInfo, type WorkloadPlugin, makeRegistry } from '../../src/coordinator/plugin.js';
import type { PodLike } from '../../src/coordinator/coordinator.js';

export function fakeInfo(numCores = 8, hbmBytesPerCore = 1 << 20): PodInfo {
  return {
    topology: `fake-${numCores}`,
    chip: 'v4',
    dims: [numCores],
    numCores,
    cores: Array.from({ length: numCores }, (_, id) => ({ id, chipIndex: id >> 1, chipCoords: [id >> 1], coreOnChip: id & 1 })),
    defaultMesh: { data: numCores },
    hbmBytesPerCore,
    peakFlopsPerCore: 1e12,
  };
}

/** The lifecycle slice of a JobContext: enough for the `steps` plugin. */
export type StepContext = Pick<JobContext, 'jobId' | 'signal' | 'throwIfCancelled' | 'progress' | 'log'> & { addSimulated(seconds: number, flops: number): void };

export class FakePod implements PodLike {
  readonly info: PodInfo;
  simulatedSeconds = 0;
  flops = 0;
  runs = 0;
  closed = false;

  constructor(info = fakeInfo()) {
    this.info = info;
  }

  async runJob(job: { id: string; plugin: WorkloadPlugin; config: unknown }, hooks: JobHooks): Promise<unknown> {
    this.runs++;
    const ctx: StepContext = {
      jobId: job.id,
      signal: hooks.signal,
      throwIfCancelled: () => {
        if (hooks.signal.aborted) throw new JobCancelledError(job.id);
      },
      progress: (step, total, metrics = {}) => hooks.onProgress(step, total, metrics),
      log: (line) => hooks.onLog(line),
      addSimulated: (s, f) => {
        this.simulatedSeconds += s;
        this.flops += f;
      },
    };
    return job.plugin.run(ctx as unknown as JobContext, job.config);
  }

  stats(): PodStats {
    const n = this.info.numCores;
    const per = this.flops / n;
    return {
      simulatedSeconds: this.simulatedSeconds,
      wallSeconds: 1,
      emulatedFlops: this.flops,
      emulatedFlopsPerWallSecond: this.flops,
      jobsRun: this.runs,
      jobsFailed: 0,
      restarts: 0,
      crashLoops: 0,
      cores: Array.from({ length: n }, (_, coreId) => ({
        coreId,
        alive: true,
        restarts: 0,
        busySeconds: this.simulatedSeconds,
        idleSeconds: 0,
        mxuUtilization: this.simulatedSeconds > 0 ? per / (this.simulatedSeconds * this.info.peakFlopsPerCore) : 0,
        usefulFlops: per,
        mxuFlops: per,
        vpuOps: 0,
        hbmBytesRead: 0,
        hbmBytesWritten: 0,
        hbmBytesInUse: 0,
        hbmCapacityBytes: this.info.hbmBytesPerCore,
        busyByUnit: { mxu: 0, vpu: 0, hbm: 0, overhead: 0, ici: 0, host: 0 },
        wallBusySeconds: 0,
        tasks: 0,
      })),
      collectives: {
        'all-reduce': { calls: 0, bytesSent: 0, seconds: 0 },
        'all-gather': { calls: 0, bytesSent: 0, seconds: 0 },
        'reduce-scatter': { calls: 0, bytesSent: 0, seconds: 0 },
        'all-to-all': { calls: 0, bytesSent: 0, seconds: 0 },
        'collective-permute': { calls: 0, bytesSent: 0, seconds: 0 },
        broadcast: { calls: 0, bytesSent: 0, seconds: 0 },
        barrier: { calls: 0, bytesSent: 0, seconds: 0 },
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

export const stepsConfig = z
  .object({
    steps: z.number().int().positive().max(1000).default(3),
    /** Wall milliseconds per step. */
    ms: z.number().int().nonnegative().max(10_000).default(1),
    /** Throw at this step (0: never). */
    failAt: z.number().int().nonnegative().default(0),
    /** HBM bytes per core the job says it needs. */
    hbm: z.number().int().nonnegative().default(0),
    cores: z.number().int().positive().default(1),
  })
  .strict();

/** A test workload: `steps` steps of `ms` wall ms each, 1 ms simulated and 1e9 FLOPs per step. */
export const stepsPlugin: WorkloadPlugin<z.infer<typeof stepsConfig>, { steps: number; sum: number }> = {
  name: 'steps',
  description: 'test workload: counts steps',
  configSchema: stepsConfig,
  resources: (c) => ({ cores: c.cores, hbmBytesPerCore: c.hbm }),
  async run(rawCtx, config) {
    const ctx = rawCtx as unknown as StepContext;
    let sum = 0;
    for (let i = 1; i <= config.steps; i++) {
      ctx.throwIfCancelled();
      await new Promise((r) => setTimeout(r, config.ms));
      if (i === config.failAt) throw new Error(`steps: failing at step ${i} as configured`);
      ctx.addSimulated(1e-3, 1e9);
      sum += i;
      ctx.log(`step ${i}`);
      ctx.progress(i, config.steps, { step_seconds: 1e-3, loss: 1 / i });
    }
    return { steps: config.steps, sum };
  },
};

export const fakeRegistry = makeRegistry([stepsPlugin]);
