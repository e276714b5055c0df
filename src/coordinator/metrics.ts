/**
 * The coordinator's Prometheus registry (prom-client). prom-client does not aggregate
 * across worker threads, so the actors do not register metrics: they count into their
 * stats blocks, and the pod's counters are read from pod.stats() at scrape time. Job
 * metrics are fed by the job manager's observer hooks.
 *
 * Names follow prometheus.io/docs/practices/naming: prefix tpusim_, base units, counters
 * end in _total, ratios in _ratio. Labels are bounded: core ids, collective op names,
 * workload names, job states and error codes; never a job id.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PodStats } from './pod.js';
import type { PodInfo } from './plugin.js';
import type { ActiveJob, JobObserver } from './jobs.js';
import { type ErrorCode, JOB_STATES, type JobState } from './protocol.js';

export const METRIC_PREFIX = 'tpusim_';

/** What the metrics read from the pod. */
export interface StatsSource {
  readonly info: PodInfo;
  stats(): PodStats;
}

/** Step time buckets, simulated seconds: 1 µs to ~4.5 min by factors of 4. */
const STEP_BUCKETS = Array.from({ length: 15 }, (_, i) => 1e-6 * 4 ** i);

interface JobTrack {
  lastStep: number;
  lastSimSeconds: number;
  startSimSeconds: number;
  startFlops: number;
}

export class CoordinatorMetrics implements JobObserver {
  readonly registry = new Registry();
  private snapshot: { at: number; stats: PodStats } | undefined;
  private readonly tracks = new Map<string, JobTrack>();
  private readonly jobSteps: Counter<'workload'>;
  private readonly stepSeconds: Histogram<'workload'>;
  private readonly mfu: Gauge<'workload'>;
  private readonly submittedTotal: Counter<'workload'>;
  private readonly rejectedTotal: Counter<'code'>;
  private readonly finishedTotal: Counter<'workload' | 'state'>;
  /** Progress and log events not sent to a websocket client that was behind (server.ts). */
  readonly eventsDropped: Counter;

  constructor(
    private readonly pod: StatsSource,
    /** Jobs by state, read at scrape time (the job store's counts). */
    private readonly jobCounts: () => Record<JobState, number>,
    opts: { defaultMetrics?: boolean } = {},
  ) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
      // prom-client's gauges named *_total break the naming rule promtool checks; the same
      // counts stay available by type in tpusim_nodejs_active_{handles,requests,resources}.
      for (const n of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
        this.registry.removeSingleMetric(`${METRIC_PREFIX}${n}`);
      }
    }
    const self = this;
    const name = (n: string) => `${METRIC_PREFIX}${n}`;

    // ---- per core, from pod.stats() --------------------------------------------------------
    const perCore = (n: string, help: string, read: (c: PodStats['cores'][number]) => number) =>
      new Counter({
        name: name(n),
        help,
        labelNames: ['core'] as const,
        registers,
        collect() {
          this.reset();
          for (const c of self.stats().cores) this.inc({ core: String(c.coreId) }, Math.max(0, read(c)));
        },
      });
    const perCoreGauge = (n: string, help: string, read: (c: PodStats['cores'][number]) => number) =>
      new Gauge({
        name: name(n),
        help,
        labelNames: ['core'] as const,
        registers,
        collect() {
          for (const c of self.stats().cores) this.set({ core: String(c.coreId) }, read(c));
        },
      });
    perCore('core_busy_seconds_total', 'Simulated seconds the core was busy (collectives included).', (c) => c.busySeconds);
    perCore('core_idle_seconds_total', "Simulated seconds of the pod's clock the core was idle.", (c) => c.idleSeconds);
    perCore('core_flops_total', 'Useful FLOPs the core computed.', (c) => c.usefulFlops);
    perCore('core_mxu_flops_total', "FLOPs the core's MXUs spent, padding to the MXU tile included.", (c) => c.mxuFlops);
    perCore('core_hbm_read_bytes_total', "Bytes the core read from its HBM.", (c) => c.hbmBytesRead);
    perCore('core_hbm_written_bytes_total', "Bytes the core wrote to its HBM.", (c) => c.hbmBytesWritten);
    perCore('core_restarts_total', "Restarts of the core's actor.", (c) => c.restarts);
    perCore('core_wall_busy_seconds_total', "Wall-clock seconds the core's actor spent running tasks.", (c) => c.wallBusySeconds);
    perCoreGauge('core_mxu_utilization_ratio', "Useful FLOPs over the pod's simulated seconds times the core's peak.", (c) => c.mxuUtilization);
    perCoreGauge('core_hbm_used_bytes', 'Bytes allocated in the core HBM arena.', (c) => c.hbmBytesInUse);
    perCoreGauge('core_hbm_capacity_bytes', 'Bytes of the core HBM arena.', (c) => c.hbmCapacityBytes);
    perCoreGauge('core_up', "1 if the core's actor is alive, else 0.", (c) => (c.alive ? 1 : 0));

    // ---- per collective op -----------------------------------------------------------------
    const perOp = (n: string, help: string, read: (x: { calls: number; bytesSent: number; seconds: number }) => number) =>
      new Counter({
        name: name(n),
        help,
        labelNames: ['op'] as const,
        registers,
        collect() {
          this.reset();
          for (const [op, x] of Object.entries(self.stats().collectives)) this.inc({ op }, Math.max(0, read(x)));
        },
      });
    perOp('collective_bytes_total', 'Bytes the cores sent in the collective op.', (x) => x.bytesSent);
    perOp('collective_seconds_total', 'Simulated seconds the cores spent in the collective op.', (x) => x.seconds);
    perOp('collective_calls_total', 'Calls of the collective op, summed over cores.', (x) => x.calls);

    // ---- the pod ---------------------------------------------------------------------------
    const podCounter = (n: string, help: string, read: (s: PodStats) => number) =>
      new Counter({
        name: name(n),
        help,
        registers,
        collect() {
          this.reset();
          this.inc(Math.max(0, read(self.stats())));
        },
      });
    podCounter('simulated_seconds_total', "The pod's simulated clock: the sum of the jobs' simulated durations.", (s) => s.simulatedSeconds);
    podCounter('emulated_flops_total', 'Useful FLOPs the emulated cores computed.', (s) => s.emulatedFlops);
    podCounter('emulation_wall_seconds_total', 'Wall-clock seconds spent running jobs.', (s) => s.wallSeconds);
    podCounter('crash_loops_total', 'Crash loops detected among the actors.', (s) => s.crashLoops);
    new Gauge({
      name: name('emulation_flops_per_second'),
      help: 'Emulation speed: emulated useful FLOPs per wall-clock second of running jobs.',
      registers,
      collect() {
        this.set(self.stats().emulatedFlopsPerWallSecond);
      },
    });
    new Gauge({
      name: name('pod_cores'),
      help: 'Cores (TensorCores, one actor each) of the pod.',
      registers,
      collect() {
        this.set(self.pod.info.numCores);
      },
    });

    // ---- jobs ------------------------------------------------------------------------------
    new Gauge({
      name: name('jobs'),
      help: 'Jobs in the job store by state.',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const counts = self.jobCounts();
        for (const s of JOB_STATES) this.set({ state: s }, counts[s]);
      },
    });
    this.submittedTotal = new Counter({ name: name('jobs_submitted_total'), help: 'Jobs accepted into the queue.', labelNames: ['workload'] as const, registers });
    this.rejectedTotal = new Counter({ name: name('jobs_rejected_total'), help: 'Submits rejected, by error code.', labelNames: ['code'] as const, registers });
    this.finishedTotal = new Counter({
      name: name('jobs_finished_total'),
      help: 'Jobs that ended, by workload and final state.',
      labelNames: ['workload', 'state'] as const,
      registers,
    });
    this.eventsDropped = new Counter({
      name: name('ws_events_dropped_total'),
      help: 'Progress and log events not sent to a websocket client because it had too much unread.',
      registers,
    });
    this.jobSteps = new Counter({ name: name('job_steps_total'), help: 'Steps the jobs completed.', labelNames: ['workload'] as const, registers });
    this.stepSeconds = new Histogram({
      name: name('job_step_simulated_seconds'),
      help: 'Simulated seconds of one job step.',
      labelNames: ['workload'] as const,
      buckets: STEP_BUCKETS,
      registers,
    });
    this.mfu = new Gauge({
      name: name('job_mfu_ratio'),
      help: "Model FLOPs utilization of the workload's latest job so far: useful FLOPs over simulated seconds times peak times cores.",
      labelNames: ['workload'] as const,
      registers,
    });
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async expose(): Promise<string> {
    this.snapshot = undefined;
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** One pod.stats() per scrape: the collectors share a snapshot taken within the last 100 ms. */
  private stats(): PodStats {
    const now = performance.now();
    if (!this.snapshot || now - this.snapshot.at > 100) this.snapshot = { at: now, stats: this.pod.stats() };
    return this.snapshot.stats;
  }

  // ---- JobObserver ---------------------------------------------------------------------------

  submitted(job: ActiveJob): void {
    this.submittedTotal.inc({ workload: job.plugin.name });
  }

  rejected(code: ErrorCode): void {
    this.rejectedTotal.inc({ code });
  }

  started(job: ActiveJob): void {
    const s = this.pod.stats();
    this.tracks.set(job.id, { lastStep: 0, lastSimSeconds: s.simulatedSeconds, startSimSeconds: s.simulatedSeconds, startFlops: s.emulatedFlops });
  }

  /**
   * A step's simulated seconds and the job's MFU: the workload's own `step_seconds` and
   * `mfu` when it reports them, else measured from the pod's clock and FLOP counters.
   */
  progressed(job: ActiveJob, step: number, _total: number, metrics: Record<string, number>): void {
    const t = this.tracks.get(job.id);
    if (!t) return;
    const workload = job.plugin.name;
    const s = this.pod.stats();
    const steps = step - t.lastStep;
    if (steps > 0) {
      this.jobSteps.inc({ workload }, steps);
      const seconds = metrics.step_seconds ?? (s.simulatedSeconds - t.lastSimSeconds) / steps;
      if (Number.isFinite(seconds) && seconds >= 0) this.stepSeconds.observe({ workload }, seconds);
      t.lastStep = step;
    }
    t.lastSimSeconds = s.simulatedSeconds;
    const sim = s.simulatedSeconds - t.startSimSeconds;
    const peak = this.pod.info.peakFlopsPerCore * job.cores;
    const mfu = metrics.mfu ?? (sim > 0 && peak > 0 ? (s.emulatedFlops - t.startFlops) / (sim * peak) : 0);
    if (Number.isFinite(mfu)) this.mfu.set({ workload }, Math.max(0, mfu));
  }

  ended(job: ActiveJob, state: JobState): void {
    this.tracks.delete(job.id);
    this.finishedTotal.inc({ workload: job.plugin.name, state });
  }
}
