/**
 * The job manager: validation, a FIFO queue with admission, the lifecycle
 * PENDING -> RUNNING -> SUCCEEDED | FAILED | STOPPED, cancellation, event streams and
 * recovery after a restart. Every transition is written to the job store before it is
 * announced, so what a client is told is what `tpusim jobs` shows.
 *
 * Jobs run one at a time, in submission order, on the mesh they name (default: the pod's
 * mesh), because the pod runs one job at a time: every job's mesh starts at core 0 and
 * each core holds one job's arena state. Admission happens at submit: a job whose mesh or
 * resources the pod can never satisfy is rejected with the reason; one that fits waits in
 * the queue until the pod is free.
 *
 * Cancellation aborts the job's signal; the workload stops at its next step boundary
 * (ctx.throwIfCancelled) and the job ends STOPPED. A PENDING job is STOPPED at once.
 */
import { randomBytes } from 'node:crypto';
import type { JobHooks } from './job_context.js';
import { type PodInfo, type WorkloadPlugin, type WorkloadRegistry } from './plugin.js';
import {
  type ErrorCode,
  type ErrorInfo,
  type JobDetail,
  type JobState,
  type JobSummary,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerMessage,
  type WorkloadInfo,
  issuePath,
} from './protocol.js';
import type { JobStore, LogLine, StepMetrics } from './store.js';
import { jobDirOf } from './programs.js';

/** What the manager needs of the pod (src/coordinator/pod.ts implements it). */
export interface JobExecutor {
  readonly info: PodInfo;
  runJob(job: { id: string; plugin: WorkloadPlugin; config: unknown; mesh?: Record<string, number> }, hooks: JobHooks): Promise<unknown>;
}

export interface SubmitRequest {
  readonly workload: string;
  readonly config?: Record<string, unknown> | undefined;
  readonly mesh?: Record<string, number> | undefined;
  readonly name?: string | undefined;
}

/** A job as the manager tracks it while it is not finished. */
export interface ActiveJob {
  readonly id: string;
  readonly name: string | null;
  readonly plugin: WorkloadPlugin;
  readonly config: Record<string, unknown>;
  readonly mesh: Record<string, number> | null;
  /** Cores of the job's mesh. */
  readonly cores: number;
}

/** Hooks for metrics; called synchronously at each transition. */
export interface JobObserver {
  submitted?(job: ActiveJob): void;
  rejected?(code: ErrorCode): void;
  started?(job: ActiveJob): void;
  progressed?(job: ActiveJob, step: number, total: number, metrics: Record<string, number>): void;
  ended?(job: ActiveJob, state: JobState): void;
}

/** The events of one job, as sent to its subscribers. */
export type JobEvent = Extract<ServerMessage, { type: 'state' | 'progress' | 'log' | 'result' | 'error' }> & { jobId: string };

export interface JobManagerOptions {
  readonly executor: JobExecutor;
  readonly registry: WorkloadRegistry;
  readonly store: JobStore;
  /** Jobs' directories (checkpoints) go under `<dataDir>/jobs/<id>`. */
  readonly dataDir: string;
  readonly observer?: JobObserver;
  /** Bound on PENDING jobs; a submit past it is rejected with queue_full. */
  readonly maxPending?: number;
  /** Bound on stored log lines per job; the rest are dropped with one notice. */
  readonly maxLogLinesPerJob?: number;
  readonly maxLogLineChars?: number;
  readonly now?: () => number;
  /** Told of failures of the manager itself (the store refused a write); default console.error. */
  readonly onInternalError?: (e: Error) => void;
}

interface Running {
  readonly job: ActiveJob;
  readonly controller: AbortController;
  readonly done: Promise<void>;
  stopReason?: 'cancelled' | 'coordinator_shutdown';
}

type Listener = (e: JobEvent) => void;

/** The error code a job's failure gets, by the error's class name (plugin.ts and pod.ts). */
function failureCode(e: unknown): ErrorCode {
  const name = e instanceof Error ? e.name : '';
  switch (name) {
    case 'ActorLostError':
      return 'actor_lost';
    case 'CoreTaskError':
      return 'core_task_failed';
    case 'ConfigError':
      return 'invalid_config';
    case 'AdmissionError':
      return 'insufficient_resources';
    default:
      return 'job_failed';
  }
}

function finiteMetrics(m: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m)) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

export class JobManager {
  private readonly executor: JobExecutor;
  private readonly registry: WorkloadRegistry;
  private readonly store: JobStore;
  private readonly dataDir: string;
  private readonly observer: JobObserver;
  private readonly maxPending: number;
  private readonly maxLogLines: number;
  private readonly maxLogChars: number;
  private readonly now: () => number;
  private readonly onInternalError: (e: Error) => void;
  private readonly queue: ActiveJob[] = [];
  private running: Running | undefined;
  private readonly logSeq = new Map<string, number>();
  private readonly lastProgress = new Map<string, { step: number; total: number; metrics: Record<string, number> }>();
  private readonly subscribers = new Map<string, Set<Listener>>();
  private readonly listeners = new Set<Listener>();
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;

  constructor(opts: JobManagerOptions) {
    this.executor = opts.executor;
    this.registry = opts.registry;
    this.store = opts.store;
    this.dataDir = opts.dataDir;
    this.observer = opts.observer ?? {};
    this.maxPending = opts.maxPending ?? 1000;
    this.maxLogLines = opts.maxLogLinesPerJob ?? 10_000;
    this.maxLogChars = opts.maxLogLineChars ?? 4096;
    this.now = opts.now ?? Date.now;
    this.onInternalError = opts.onInternalError ?? ((e) => console.error(`tpusim coordinator: ${e.message}`));
  }

  /**
   * After a restart: jobs that were RUNNING died with the previous coordinator and are
   * marked FAILED; PENDING jobs are queued again in their order. Call once, before serving.
   */
  recover(): { failed: string[]; requeued: string[]; dropped: string[] } {
    const failed = this.store.failInterrupted(
      { code: 'coordinator_restarted', message: 'coordinator restarted: the job was running when the coordinator stopped' },
      this.now(),
    );
    const requeued: string[] = [];
    const dropped: string[] = [];
    for (const p of this.store.pending()) {
      try {
        this.queue.push(this.validate({ workload: p.workload, config: p.config, mesh: p.mesh ?? undefined, name: p.name ?? undefined }, p.id));
        requeued.push(p.id);
      } catch (e) {
        const err = e instanceof ProtocolError ? e.toInfo() : { code: 'internal' as const, message: String(e) };
        this.store.finish(p.id, { state: 'FAILED', at: this.now(), error: { ...err, message: `coordinator restarted and could not requeue the job: ${err.message}` } });
        dropped.push(p.id);
      }
    }
    this.pump();
    return { failed, requeued, dropped };
  }

  workloads(): WorkloadInfo[] {
    return [...this.registry.values()].map((p) => {
      const d = p.configSchema.safeParse({});
      return { name: p.name, description: p.description, defaults: d.success ? (d.data as Record<string, unknown>) : {} };
    });
  }

  /** Validates and queues a job; throws ProtocolError naming the field on bad input. */
  submit(req: SubmitRequest): JobSummary {
    try {
      if (this.shuttingDown) throw new ProtocolError('shutting_down', 'the coordinator is shutting down and takes no new jobs');
      if (this.queue.length >= this.maxPending) {
        throw new ProtocolError('queue_full', `the queue holds ${this.queue.length} pending jobs, its limit; retry later`);
      }
      const job = this.validate(req, this.newId());
      this.store.insert({ id: job.id, name: job.name, workload: job.plugin.name, config: job.config, mesh: job.mesh, submittedAt: this.now() });
      this.queue.push(job);
      this.observer.submitted?.(job);
      this.emit({ v: PROTOCOL_VERSION, type: 'state', jobId: job.id, state: 'PENDING', at: this.now() });
      queueMicrotask(() => this.pump());
      return this.summary(job.id);
    } catch (e) {
      if (e instanceof ProtocolError) this.observer.rejected?.(e.code);
      throw e;
    }
  }

  get(jobId: string): JobDetail | undefined {
    return this.store.get(jobId);
  }

  list(opts: { state?: JobState; limit?: number } = {}): JobSummary[] {
    return this.store.list(opts);
  }

  /** Requests cancellation; returns the job's state after the request (RUNNING until it reaches a step boundary). */
  cancel(jobId: string): JobState {
    const idx = this.queue.findIndex((j) => j.id === jobId);
    if (idx >= 0) {
      const [job] = this.queue.splice(idx, 1);
      this.end(job!, 'STOPPED', { error: { code: 'cancelled', message: 'cancelled while pending' } });
      this.notifyIdle();
      return 'STOPPED';
    }
    if (this.running?.job.id === jobId) {
      this.running.stopReason ??= 'cancelled';
      this.running.controller.abort();
      return 'RUNNING';
    }
    const job = this.store.get(jobId);
    if (!job) throw new ProtocolError('not_found', `no job ${JSON.stringify(jobId)}`, 'jobId');
    throw new ProtocolError('not_cancellable', `job ${jobId} already ended ${job.state}`, 'jobId');
  }

  /** Streams one job's events to `fn` until the returned function is called. */
  subscribe(jobId: string, fn: Listener): () => void {
    let set = this.subscribers.get(jobId);
    if (!set) this.subscribers.set(jobId, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.subscribers.get(jobId) === set) this.subscribers.delete(jobId);
    };
  }

  /** Every job's events. */
  onEvent(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A job's stored log lines after `afterSeq`, oldest first. */
  logs(jobId: string, afterSeq = 0, limit?: number): LogLine[] {
    return this.store.logs(jobId, afterSeq, limit);
  }

  /** The last `n` stored log lines of a job. */
  logsTail(jobId: string, n: number): LogLine[] {
    return this.store.logs(jobId, Math.max(0, this.store.lastLogSeq(jobId) - n), n);
  }

  /** A job's stored per-step metrics, oldest first: the last `limit` steps. */
  stepMetrics(jobId: string, limit = 10_000): StepMetrics[] {
    const all = this.store.metrics(jobId);
    return all.length > limit ? all.slice(all.length - limit) : all;
  }

  /** The last progress of a job that is running (for a late subscriber). */
  currentProgress(jobId: string): { step: number; total: number; metrics: Record<string, number> } | undefined {
    return this.lastProgress.get(jobId);
  }

  pendingCount(): number {
    return this.queue.length;
  }

  runningJob(): ActiveJob | undefined {
    return this.running?.job;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking jobs, STOPs the pending ones, and stops the running one at its next step
   * boundary; after `graceMs` without one, records it STOPPED regardless. Every job is
   * terminal in the store when this resolves.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.shuttingDown = true;
    for (const job of this.queue.splice(0)) {
      this.end(job, 'STOPPED', { error: { code: 'coordinator_shutdown', message: 'the coordinator shut down before the job ran' } });
    }
    const r = this.running;
    if (r) {
      r.stopReason = 'coordinator_shutdown';
      r.controller.abort();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
      const outcome = await Promise.race([r.done.then(() => 'done' as const), late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        this.end(r.job, 'STOPPED', {
          error: { code: 'coordinator_shutdown', message: `the coordinator shut down; the job did not reach a step boundary within ${graceMs / 1000} s` },
        });
      }
    }
    this.notifyIdle();
  }

  // ---- internals ---------------------------------------------------------------------------

  private newId(): string {
    for (;;) {
      const id = `job-${randomBytes(5).toString('hex')}`;
      if (!this.store.get(id)) return id;
    }
  }

  private summary(id: string): JobSummary {
    const d = this.store.get(id)!;
    return {
      jobId: d.jobId,
      name: d.name,
      workload: d.workload,
      state: d.state,
      submittedAt: d.submittedAt,
      startedAt: d.startedAt,
      finishedAt: d.finishedAt,
      step: d.step,
      total: d.total,
      error: d.error,
    };
  }

  private validate(req: SubmitRequest, id: string): ActiveJob {
    const plugin = this.registry.get(req.workload);
    if (!plugin) {
      const known = [...this.registry.keys()].join(', ');
      throw new ProtocolError('unknown_workload', `unknown workload ${JSON.stringify(req.workload)}; known: ${known}`, 'workload');
    }
    const parsed = plugin.configSchema.safeParse(req.config ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issuePath(['config', ...issue.path]);
      throw new ProtocolError('invalid_config', `${plugin.name}: ${field}: ${issue.message}`, field);
    }
    const config = parsed.data as Record<string, unknown>;
    const info = this.executor.info;
    const mesh = req.mesh ?? null;
    const cores = Object.values(mesh ?? plugin.mesh?.(config, info) ?? info.defaultMesh).reduce((p, d) => p * d, 1);
    if (mesh && (Object.keys(mesh).length === 0 || cores > info.numCores)) {
      const shown = Object.entries(mesh).map(([k, v]) => `${k}=${v}`).join(',');
      throw new ProtocolError('invalid_mesh', `mesh {${shown}} needs ${cores} cores; the pod has ${info.numCores}`, 'mesh');
    }
    let need: { cores: number; hbmBytesPerCore: number } | undefined;
    try {
      need = plugin.resources?.(config, info);
    } catch (e) {
      throw new ProtocolError('invalid_config', `${plugin.name}: ${(e as Error).message}`, 'config');
    }
    if (need && need.cores > cores) {
      throw new ProtocolError('insufficient_resources', `${plugin.name} needs ${need.cores} cores; the job's mesh has ${cores}`, mesh ? 'mesh' : 'config');
    }
    if (need && need.hbmBytesPerCore > info.hbmBytesPerCore) {
      throw new ProtocolError(
        'insufficient_resources',
        `${plugin.name} needs ${need.hbmBytesPerCore} bytes of HBM per core; the pod's cores have ${info.hbmBytesPerCore}`,
        'config',
      );
    }
    return { id, name: req.name ?? null, plugin, config, mesh, cores };
  }

  private pump(): void {
    if (this.running || this.shuttingDown) return;
    const job = this.queue.shift();
    if (!job) {
      this.notifyIdle();
      return;
    }
    const controller = new AbortController();
    const slot: { r?: Running } = {};
    const done = this.run(job, controller, () => slot.r!)
      .catch((e: unknown) => this.onInternalError(e instanceof Error ? e : new Error(String(e))))
      .finally(() => {
        this.running = undefined;
        this.pump();
      });
    slot.r = { job, controller, done };
    this.running = slot.r;
  }

  private async run(job: ActiveJob, controller: AbortController, running: () => Running): Promise<void> {
    // Yield once so `running` is set before any hook can fire.
    await Promise.resolve();
    const at = this.now();
    if (!this.store.markRunning(job.id, at)) return;
    this.observer.started?.(job);
    this.emit({ v: PROTOCOL_VERSION, type: 'state', jobId: job.id, state: 'RUNNING', at });
    const hooks: JobHooks = {
      signal: controller.signal,
      jobDir: jobDirOf(this.dataDir, job.id),
      onProgress: (step, total, metrics) => this.progress(job, step, total, metrics),
      onLog: (line) => this.log(job, line),
    };
    try {
      const result = await this.executor.runJob(
        { id: job.id, plugin: job.plugin, config: job.config, ...(job.mesh ? { mesh: job.mesh } : {}) },
        hooks,
      );
      this.end(job, 'SUCCEEDED', { result: result ?? null });
    } catch (e) {
      const stop = running().stopReason;
      if (stop) {
        const message = stop === 'cancelled' ? 'cancelled while running' : 'stopped: the coordinator shut down';
        this.end(job, 'STOPPED', { error: { code: stop, message } });
      } else {
        this.end(job, 'FAILED', { error: { code: failureCode(e), message: e instanceof Error ? e.message : String(e) } });
      }
    }
  }

  private progress(job: ActiveJob, step: number, total: number, raw: Record<string, number>): void {
    const metrics = finiteMetrics(raw ?? {});
    const at = this.now();
    this.store.appendMetrics(job.id, { step, total, metrics, at });
    this.lastProgress.set(job.id, { step, total, metrics });
    this.observer.progressed?.(job, step, total, metrics);
    this.emit({ v: PROTOCOL_VERSION, type: 'progress', jobId: job.id, step, total, metrics });
  }

  private log(job: ActiveJob, raw: string): void {
    const seq = (this.logSeq.get(job.id) ?? 0) + 1;
    if (seq > this.maxLogLines + 1) return;
    this.logSeq.set(job.id, seq);
    const line =
      seq === this.maxLogLines + 1
        ? `[tpusim] log limit of ${this.maxLogLines} lines reached; further lines are dropped`
        : raw.length > this.maxLogChars
          ? `${raw.slice(0, this.maxLogChars)}… [${raw.length - this.maxLogChars} chars cut]`
          : raw;
    const at = this.now();
    this.store.appendLog(job.id, seq, line, at);
    this.emit({ v: PROTOCOL_VERSION, type: 'log', jobId: job.id, seq, line, at });
  }

  /** Records a job's end in the store, then tells the observers and subscribers. */
  private end(job: ActiveJob, state: JobState, outcome: { result?: unknown; error?: ErrorInfo }): void {
    const at = this.now();
    let recorded: boolean;
    let error = outcome.error;
    try {
      recorded = this.store.finish(job.id, { state, at, ...outcome });
    } catch (e) {
      // The result could not be stored (not msgpack-able): the job fails with that reason.
      error = { code: 'internal', message: `the job's result could not be stored: ${(e as Error).message}` };
      state = 'FAILED';
      recorded = this.store.finish(job.id, { state, at, error });
    }
    this.lastProgress.delete(job.id);
    this.logSeq.delete(job.id);
    if (!recorded) return;
    this.observer.ended?.(job, state);
    if (state === 'SUCCEEDED') this.emit({ v: PROTOCOL_VERSION, type: 'result', jobId: job.id, result: outcome.result ?? null });
    if (error) this.emit({ v: PROTOCOL_VERSION, type: 'error', jobId: job.id, ...error });
    this.emit({ v: PROTOCOL_VERSION, type: 'state', jobId: job.id, state, at });
  }

  private emit(e: JobEvent): void {
    for (const fn of [...this.listeners, ...(this.subscribers.get(e.jobId) ?? [])]) {
      try {
        fn(e);
      } catch {
        // One listener's failure must not stop the others or the job.
      }
    }
  }

  private notifyIdle(): void {
    if (this.running || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
