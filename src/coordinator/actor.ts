/**
 * The coordinator's handle on one core's actor: a piscina pool of exactly one long-lived
 * thread (minThreads = maxThreads = 1, idleTimeout = Infinity), so the thread's identity is
 * pinned to the core; its tasks are the core's mailbox, one at a time.
 *
 * The handle owns the core's arena and stats buffers. When the thread dies (it exits,
 * throws outside a task, is killed from outside, or is terminated for overrunning its
 * deadline; piscina's idle threads wait on Atomics and run no code between tasks, so a death
 * between tasks comes from outside) the handle reports
 * it once through `onLost`; the supervisor (pod.ts) then calls restart(), which throws the
 * pool away and starts a new one with a fresh arena, rather than letting piscina quietly
 * respawn a thread over the old buffers.
 */
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { KernelChoice } from '../tpu/core.js';
import type { ActorInit, ActorRequest, HelloReply } from '../worker/protocol.js';
import { Activity, createStatsBlock, readActivity } from '../worker/stats_block.js';

/** A core's actor died or hung; the message names the core and the reason. */
export class ActorLostError extends Error {
  override name = 'ActorLostError';
  constructor(
    readonly coreId: number,
    readonly reason: string,
  ) {
    super(`core ${coreId} lost: ${reason}`);
  }
}

/** A task failed inside a core (its device function threw, a collective failed). */
export class CoreTaskError extends Error {
  override name = 'CoreTaskError';
  constructor(
    readonly coreId: number,
    readonly causeName: string,
    message: string,
  ) {
    super(`core ${coreId}: ${message}`);
  }
}

export interface ActorOptions {
  readonly coreId: number;
  readonly topology: string;
  readonly hbmBytes: number;
  /** File path of the compiled actor entry (src/worker/actor.ts). */
  readonly filename: string;
  readonly kernels?: KernelChoice;
  /** Called once per thread that dies unexpectedly. */
  readonly onLost: (actor: Actor, reason: string) => void;
}

export class Actor {
  readonly coreId: number;
  /** Increases with every restart; an array placed on an older generation is gone. */
  generation = 0;
  arena!: SharedArrayBuffer;
  stats!: SharedArrayBuffer;
  /** The thread's id once it has answered hello. */
  threadId = -1;
  private pool: Piscina | undefined;
  private alive = false;
  private closing = false;
  /** Why the current thread is being killed, when the handle kills it (a hang). */
  private killReason: string | undefined;
  private readonly workers = new Set<Worker>();

  constructor(private readonly opts: ActorOptions) {
    this.coreId = opts.coreId;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** Threads ever started by this handle that have not exited (for close checks). */
  liveThreads(): number {
    let n = 0;
    for (const w of this.workers) if (w.threadId >= 0) n++;
    return n;
  }

  /** Starts a thread with a fresh arena and waits for it to answer. */
  async start(): Promise<HelloReply> {
    this.arena = new SharedArrayBuffer(this.opts.hbmBytes);
    this.stats = createStatsBlock();
    const workerData: ActorInit = {
      coreId: this.coreId,
      topology: this.opts.topology,
      arena: this.arena,
      hbmBytes: this.opts.hbmBytes,
      stats: this.stats,
      ...(this.opts.kernels ? { kernels: this.opts.kernels } : {}),
    };
    const pool = new Piscina({
      filename: this.opts.filename,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      workerData,
    });
    this.pool = pool;
    this.killReason = undefined;
    const generation = ++this.generation;
    // piscina starts the thread in its constructor; watch it directly, since piscina
    // replaces a thread that dies between tasks without telling anyone.
    for (const w of pool.threads) this.watch(w, generation);
    // An error outside any task (piscina's 'error' event) also means the thread is gone.
    pool.on('error', (e: unknown) => this.lost(generation, `uncaught error in the actor thread: ${e instanceof Error ? e.message : String(e)}`));
    this.alive = true;
    const hello = (await this.run({ type: 'hello' }, 30_000)) as HelloReply;
    this.threadId = hello.threadId;
    return hello;
  }

  /**
   * Posts one message and waits for the answer. `timeoutMs`: the deadline of this task; a
   * thread that overruns it is terminated and reported lost (a hang).
   */
  async run(req: ActorRequest, timeoutMs?: number): Promise<unknown> {
    const pool = this.pool;
    const generation = this.generation;
    if (!pool || !this.alive) throw new ActorLostError(this.coreId, 'the actor is not running');
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      const stats = this.stats;
      let idleGraces = 0;
      const check = (): void => {
        const activity = readActivity(stats);
        // Waiting in a collective is waiting for a peer: the collective's own deadline
        // bounds it. Idle: the answer is in flight (or the thread is still booting), so
        // once more. Only a core past its deadline in its own code is hung.
        if (activity === Activity.collective || (activity === Activity.idle && idleGraces++ === 0)) {
          timer = setTimeout(check, timeoutMs);
          return;
        }
        this.killReason =
          activity === Activity.idle
            ? `hung: no answer to ${req.type} within ${2 * timeoutMs} ms`
            : `hung: ${req.type} did not finish within the ${timeoutMs} ms deadline`;
        ac.abort(new Error(this.killReason));
      };
      timer = setTimeout(check, timeoutMs);
    }
    try {
      return await pool.run(req, { signal: ac.signal });
    } catch (e) {
      if (generation !== this.generation || !this.alive || ac.signal.aborted || isExitError(e)) {
        const reason = this.killReason ?? (e instanceof Error ? e.message : String(e));
        this.lost(generation, reason);
        throw new ActorLostError(this.coreId, reason);
      }
      // The actor sends "<ErrorClass>: <message>" (src/worker/actor.ts).
      const text = e instanceof Error ? e.message : String(e);
      const m = /^(\w+): ([\s\S]*)$/.exec(text);
      throw new CoreTaskError(this.coreId, m ? m[1]! : 'Error', text);
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Throws the current thread away and starts a fresh one (fresh arena, fresh counters). */
  async restart(): Promise<HelloReply> {
    await this.stop();
    this.closing = false;
    return this.start();
  }

  /** Terminates the thread for good. */
  async close(): Promise<void> {
    this.closing = true;
    await this.stop();
  }

  private async stop(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.alive = false;
    if (pool) {
      this.closing = true;
      await pool.destroy();
    }
  }

  private watch(w: Worker, generation: number): void {
    this.workers.add(w);
    w.once('exit', (code) => {
      this.workers.delete(w);
      this.lost(generation, this.killReason ?? `thread exited with code ${code}`);
    });
  }

  /** Reports the loss of generation `generation`'s thread once. */
  private lost(generation: number, reason: string): void {
    if (this.closing || generation !== this.generation || !this.alive) return;
    this.alive = false;
    this.opts.onLost(this, reason);
  }
}

function isExitError(e: unknown): boolean {
  return e instanceof Error && /worker exited with code|Terminating worker thread/i.test(e.message);
}
