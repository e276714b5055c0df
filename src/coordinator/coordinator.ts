/**
 * The coordinator process's parts, wired: the pod, the job store (with restart recovery),
 * the job manager, the metrics registry, the token and the server. `tpusim up` runs one.
 *
 * It writes `<dataDir>/coordinator.json` (where it listens, its pid) so the CLI on the same
 * machine finds it, beside the token (0600) and the job store.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateToken, writeTokenFile } from './auth.js';
import { type JobExecutor, JobManager } from './jobs.js';
import { CoordinatorMetrics, type StatsSource } from './metrics.js';
import { Pod, type PodOptions } from './pod.js';
import type { WorkloadRegistry } from './plugin.js';
import { type RunningServer, startServer } from './server.js';
import { JobStore } from './store.js';

export const COORDINATOR_FILE = 'coordinator.json';

/** What the coordinator needs of a pod. */
export type PodLike = JobExecutor &
  StatsSource & {
    close(): Promise<void>;
    on?(event: 'actor-exit' | 'actor-restart' | 'crash-loop', fn: (e: { coreId: number; reason: string }) => void): void;
  };

export interface CoordinatorOptions {
  readonly registry: WorkloadRegistry;
  readonly dataDir: string;
  readonly pod: PodOptions;
  /** Given token; default: a fresh one. Either way it is written to `<dataDir>/token` (0600). */
  readonly token?: string;
  readonly host?: string;
  /** 0 picks a free port. Default 8470. */
  readonly port?: number;
  readonly maxMessageBytes?: number;
  readonly maxPending?: number;
  /** Starts the pod; default Pod.start (tests may hand a smaller executor). */
  readonly startPod?: (opts: PodOptions) => Promise<PodLike>;
}

export interface CoordinatorInfo {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly topology: string;
  readonly cores: number;
  readonly startedAt: number;
}

/** The package's version, from the package.json above this module (src/ or dist/src/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tpusim' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export function readCoordinatorInfo(dataDir: string): CoordinatorInfo | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, COORDINATOR_FILE), 'utf8')) as CoordinatorInfo;
  } catch {
    return undefined;
  }
}

export class Coordinator {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly pod: PodLike,
    readonly store: JobStore,
    readonly manager: JobManager,
    readonly metrics: CoordinatorMetrics,
    readonly server: RunningServer,
    readonly token: string,
    readonly tokenFile: string,
    readonly dataDir: string,
    readonly recovered: { failed: string[]; requeued: string[]; dropped: string[] },
  ) {}

  get url(): string {
    return this.server.url;
  }

  static async start(opts: CoordinatorOptions): Promise<Coordinator> {
    const store = JobStore.open(opts.dataDir);
    let pod: PodLike | undefined;
    try {
      pod = await (opts.startPod ?? ((o: PodOptions) => Pod.start(o)))({ ...opts.pod, dataDir: opts.dataDir });
      const podRef = pod;
      const metrics = new CoordinatorMetrics(podRef, () => store.countsByState());
      const manager = new JobManager({
        executor: podRef,
        registry: opts.registry,
        store,
        dataDir: opts.dataDir,
        observer: metrics,
        ...(opts.maxPending !== undefined ? { maxPending: opts.maxPending } : {}),
      });
      const token = opts.token ?? generateToken();
      const tokenFile = writeTokenFile(opts.dataDir, token);
      const server = await startServer({
        manager,
        metrics,
        pod: podRef,
        token,
        version: packageVersion(),
        host: opts.host ?? '127.0.0.1',
        port: opts.port ?? 8470,
        ...(opts.maxMessageBytes !== undefined ? { maxMessageBytes: opts.maxMessageBytes } : {}),
      });
      // Recover only once serving is certain, so a failed start leaves the store as it was.
      const recovered = manager.recover();
      const info: CoordinatorInfo = {
        url: server.url,
        host: server.host,
        port: server.port,
        pid: process.pid,
        topology: podRef.info.topology,
        cores: podRef.info.numCores,
        startedAt: Date.now(),
      };
      writeFileSync(join(opts.dataDir, COORDINATOR_FILE), `${JSON.stringify(info, null, 2)}\n`);
      return new Coordinator(podRef, store, manager, metrics, server, token, tokenFile, opts.dataDir, recovered);
    } catch (e) {
      await pod?.close();
      store.close();
      throw e;
    }
  }

  /**
   * Stops serving: no new jobs, pending jobs STOPPED, the running job stopped at its next
   * step boundary (or recorded STOPPED after `graceMs`), then the server, the pod and the
   * store close. Safe to call more than once.
   */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      await this.manager.shutdown(graceMs);
      await this.server.close();
      await this.pod.close();
      this.store.close();
      const file = join(this.dataDir, COORDINATOR_FILE);
      const info = readCoordinatorInfo(this.dataDir);
      if (info?.pid === process.pid) rmSync(file, { force: true });
    })();
    return this.stopping;
  }
}
