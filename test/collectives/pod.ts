/** Test harness: a pod of real worker threads, one per core, running pod-worker.mjs. */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { CommunicatorConfig } from '../../src/collectives/communicator.js';
import { createControlBlock, markCoreDead } from '../../src/collectives/control.js';
import type { AlgorithmChoice, Interconnect } from '../../src/collectives/interconnect.js';
import type { DeviceMesh } from '../../src/collectives/mesh.js';
import type { CollectiveParams } from '../../src/collectives/semantics.js';
import type { DType, DeviceArray } from '../../src/tpu/dtype.js';

const WORKER = fileURLToPath(new URL('./pod-worker.mjs', import.meta.url));

export interface Task {
  readonly comm?: number;
  /** 'sleep': block the thread for `ms`; 'advance': move the core's simulated clock by `seconds`. */
  readonly kind?: 'sleep' | 'advance';
  readonly ms?: number;
  readonly seconds?: number;
  readonly c?: CollectiveParams;
  readonly axes?: readonly string[];
  readonly dtype?: DType;
  readonly shape?: readonly number[];
  readonly outShape?: readonly number[];
  readonly input?: DeviceArray;
  readonly repeat?: number;
  readonly returnOutput?: boolean;
}

export interface TaskResult {
  readonly out: DeviceArray | null;
  readonly timing: { end: number; start: number; arrival: number; costSeconds: number; bytesSent: number; algorithm: string } | null;
}

export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
  readonly failure?: string;
  readonly missingRanks?: number[];
  readonly missingCores?: number[];
  readonly waitedMs?: number;
}

export type CoreOutcome =
  | { readonly type: 'done'; readonly results: TaskResult[]; readonly counters: Record<string, { calls: number; bytesSent: number; seconds: number }>; readonly clock: number; readonly bytesInUse: number }
  | { readonly type: 'error'; readonly results: TaskResult[]; readonly error: ErrorInfo }
  | { readonly type: 'exited' };

export class TestPod {
  readonly workers: Worker[] = [];
  readonly controls: SharedArrayBuffer[];
  readonly buffers: SharedArrayBuffer[];
  private readonly exited = new Set<number>();

  constructor(
    readonly mesh: DeviceMesh,
    readonly interconnect: Interconnect,
    readonly numCores: number,
    opts: { arenaBytes: number; timeoutMs: number; choices: readonly AlgorithmChoice[] },
  ) {
    this.controls = opts.choices.map(() => createControlBlock(numCores, mesh.axisNames.length));
    this.buffers = Array.from({ length: numCores }, () => new SharedArrayBuffer(opts.arenaBytes));
    for (let core = 0; core < numCores; core++) {
      const configs: CommunicatorConfig[] = opts.choices.map((algorithm, i) => ({
        coreId: core,
        mesh,
        interconnect,
        control: this.controls[i]!,
        buffers: this.buffers,
        timeoutMs: opts.timeoutMs,
        algorithm,
      }));
      const w = new Worker(WORKER, { workerData: { configs } });
      // The supervisor's job: a worker that exits is dead to every collective.
      w.on('exit', () => {
        this.exited.add(core);
        for (const c of this.controls) markCoreDead(c, core);
      });
      this.workers.push(w);
    }
  }

  async ready(): Promise<void> {
    await Promise.all(this.workers.map((w) => new Promise<void>((res) => w.once('message', () => res()))));
  }

  /** Runs `tasks[core]` on each core; resolves with every core's outcome. */
  run(tasks: readonly (readonly Task[] | null)[]): Promise<CoreOutcome[]> {
    return Promise.all(
      this.workers.map((w, core) => {
        const mine = tasks[core];
        if (!mine) return Promise.resolve<CoreOutcome>({ type: 'done', results: [], counters: {}, clock: 0, bytesInUse: 0 });
        return new Promise<CoreOutcome>((res) => {
          const onExit = (): void => res({ type: 'exited' });
          w.once('exit', onExit);
          w.once('message', (m: CoreOutcome) => {
            w.off('exit', onExit);
            res(m);
          });
          w.postMessage({ type: 'run', tasks: mine });
        });
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w, core) => (this.exited.has(core) ? undefined : w.terminate())));
  }
}
