/**
 * A client of the websocket job API (protocol.ts): requests matched to replies by id, and
 * the job events the server pushes. The CLI, the tests and scripts use it.
 */
import WebSocket from 'ws';
import {
  type ErrorCode,
  type ErrorInfo,
  type JobDetail,
  type JobState,
  type JobSummary,
  PROTOCOL_VERSION,
  type ServerMessage,
  type WorkloadInfo,
  decodeServerMessage,
  encodeMessage,
  isTerminal,
} from './protocol.js';

export type HelloMessage = Extract<ServerMessage, { type: 'hello' }>;
export type JobEventMessage = Extract<ServerMessage, { type: 'state' | 'progress' | 'log' | 'result' | 'error' }> & { jobId: string };

/** The server answered a request with an error. */
export class JobApiError extends Error {
  override name = 'JobApiError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${message} (field: ${field})` : message);
  }
}

export interface JobOutcome {
  readonly jobId: string;
  readonly state: JobState;
  readonly result?: unknown;
  readonly error?: ErrorInfo;
}

export interface ConnectOptions {
  readonly token: string;
  /** Connect and request deadline. Default 30 s. */
  readonly timeoutMs?: number;
  readonly maxPayload?: number;
}

interface Pending {
  resolve(m: ServerMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

type Request = Record<string, unknown> & { type: string };

const BACKLOG_EVENTS = 256;

export class JobClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: JobEventMessage) => void>();
  private closedError: Error | undefined;
  /**
   * Events of jobs this connection submitted that nobody waits for yet. ws may deliver
   * several frames in one tick, so a job's first events can arrive before the code that
   * awaited `submit` runs; waitForEnd replays them. Bounded: past BACKLOG_EVENTS only the
   * ending events are kept.
   */
  private readonly backlog = new Map<string, JobEventMessage[]>();

  private constructor(
    private readonly ws: WebSocket,
    readonly hello: HelloMessage,
    private readonly timeoutMs: number,
  ) {
    ws.on('message', (data) => this.onFrame(data as Buffer));
    ws.on('close', (code, reason) => this.failAll(new Error(`connection closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`)));
    ws.on('error', (e) => this.failAll(e));
  }

  /** Opens a connection and waits for the server's hello. */
  static connect(url: string, opts: ConnectOptions): Promise<JobClient> {
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { authorization: `Bearer ${opts.token}` },
        maxPayload: opts.maxPayload ?? 256 * 1024 * 1024,
        handshakeTimeout: timeoutMs,
      });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no answer from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c.slice(0, 1024)));
        res.on('end', () => fail(new Error(`${url}: ${res.statusCode} ${res.statusMessage}${body ? `: ${body.trim()}` : ''}`)));
        res.on('error', () => fail(new Error(`${url}: ${res.statusCode} ${res.statusMessage}`)));
      });
      ws.once('error', (e) => fail(new Error(`${url}: ${e.message}`)));
      ws.once('message', (data) => {
        clearTimeout(timer);
        let msg: ServerMessage;
        try {
          msg = decodeServerMessage(data as Buffer);
        } catch (e) {
          ws.terminate();
          return reject(new Error(`${url}: not a tpusim server: ${(e as Error).message}`));
        }
        if (msg.type !== 'hello' || msg.v !== PROTOCOL_VERSION) {
          ws.terminate();
          return reject(new Error(`${url}: expected a tpusim v${PROTOCOL_VERSION} hello, got ${JSON.stringify(msg).slice(0, 200)}`));
        }
        ws.removeAllListeners('error');
        resolve(new JobClient(ws, msg, timeoutMs));
      });
    });
  }

  /** Job events (for the jobs this connection submitted or subscribed to). */
  onEvent(fn: (e: JobEventMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Sends one request and resolves with its reply; an error reply rejects with JobApiError. */
  request(msg: Request): Promise<ServerMessage> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`request ${msg.type} got no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(encodeMessage({ ...msg, v: PROTOCOL_VERSION, id }), { binary: true }, (e) => {
        if (e) this.settle(id, undefined, e);
      });
    });
  }

  /** Sends raw bytes (for tests of bad input). */
  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  async submit(req: { workload: string; config?: Record<string, unknown>; mesh?: Record<string, number>; name?: string; subscribe?: boolean }): Promise<{ jobId: string; state: JobState }> {
    const r = await this.request({ type: 'submit', ...req });
    if (r.type !== 'accepted') throw new Error(`submit: unexpected reply ${r.type}`);
    return { jobId: r.jobId, state: r.state };
  }

  async list(opts: { state?: JobState; limit?: number } = {}): Promise<JobSummary[]> {
    const r = await this.request({ type: 'list', ...opts });
    if (r.type !== 'jobs') throw new Error(`list: unexpected reply ${r.type}`);
    return r.jobs;
  }

  async status(jobId: string): Promise<JobDetail> {
    const r = await this.request({ type: 'status', jobId });
    if (r.type !== 'job') throw new Error(`status: unexpected reply ${r.type}`);
    return r.job;
  }

  async cancel(jobId: string): Promise<JobState> {
    const r = await this.request({ type: 'cancel', jobId });
    if (r.type !== 'ok') throw new Error(`cancel: unexpected reply ${r.type}`);
    return r.state;
  }

  async subscribe(jobId: string): Promise<JobState> {
    const r = await this.request({ type: 'subscribe', jobId });
    if (r.type !== 'ok') throw new Error(`subscribe: unexpected reply ${r.type}`);
    return r.state;
  }

  async workloads(): Promise<WorkloadInfo[]> {
    const r = await this.request({ type: 'workloads' });
    if (r.type !== 'workloads') throw new Error(`workloads: unexpected reply ${r.type}`);
    return r.workloads;
  }

  /**
   * Resolves when the job ends, calling `onEvent` for each of its events meanwhile. Call it
   * before the job can end (right after submit, or it subscribes and replays).
   */
  waitForEnd(jobId: string, onEvent?: (e: JobEventMessage) => void, opts: { subscribe?: boolean } = {}): Promise<JobOutcome> {
    return new Promise((resolve, reject) => {
      let result: unknown;
      let error: ErrorInfo | undefined;
      let done = false;
      const handle = (e: JobEventMessage) => {
        if (done || e.jobId !== jobId) return;
        onEvent?.(e);
        if (e.type === 'result') result = e.result;
        if (e.type === 'error') error = { code: e.code, message: e.message, ...(e.field ? { field: e.field } : {}) };
        if (e.type === 'state' && isTerminal(e.state)) {
          done = true;
          off();
          closeWatch();
          resolve({ jobId, state: e.state, ...(result !== undefined ? { result } : {}), ...(error ? { error } : {}) });
        }
      };
      const off = this.onEvent(handle);
      const early = this.backlog.get(jobId);
      this.backlog.delete(jobId);
      for (const e of early ?? []) handle(e);
      if (done) return;
      const onClose = () => {
        off();
        reject(this.closedError ?? new Error('connection closed'));
      };
      this.ws.once('close', onClose);
      const closeWatch = () => this.ws.off('close', onClose);
      if (opts.subscribe) {
        this.subscribe(jobId).catch((e: Error) => {
          off();
          closeWatch();
          reject(e);
        });
      }
    });
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close(1000);
    });
  }

  private onFrame(data: Buffer): void {
    let msg: ServerMessage;
    try {
      msg = decodeServerMessage(data);
    } catch {
      return;
    }
    if (msg.type === 'accepted' && msg.state === 'PENDING') this.backlog.set(msg.jobId, []);
    const id = 'id' in msg ? msg.id : undefined;
    if (typeof id === 'number' && this.pending.has(id)) {
      if (msg.type === 'error') this.settle(id, undefined, new JobApiError(msg.code, msg.message, msg.field));
      else this.settle(id, msg);
      return;
    }
    if ('jobId' in msg && typeof msg.jobId === 'string' && msg.type !== 'accepted' && msg.type !== 'ok') {
      const e = msg as JobEventMessage;
      const early = this.backlog.get(e.jobId);
      // Past the bound, progress and log lines are not kept; the ending events always are.
      if (early && (early.length < BACKLOG_EVENTS || (e.type !== 'progress' && e.type !== 'log'))) early.push(e);
      for (const fn of [...this.listeners]) fn(e);
    } else if (msg.type === 'error') {
      // An error about a frame the server could not read (no id): fail the oldest request.
      const first = this.pending.keys().next();
      if (!first.done) this.settle(first.value, undefined, new JobApiError(msg.code, msg.message, msg.field));
    }
  }

  private settle(id: number, msg: ServerMessage | undefined, err?: Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else p.resolve(msg!);
  }

  private failAll(e: Error): void {
    this.closedError ??= e;
    for (const id of [...this.pending.keys()]) this.settle(id, undefined, e);
  }
}
