/**
 * The coordinator's network face: one node:http server on loopback (by default) with
 * - `GET /healthz`: liveness and a one-line summary, JSON;
 * - `GET /metrics`: the Prometheus exposition;
 * - `GET /`: the live page (dashboard/page_server.ts), fed by the job API's `watch` stream;
 * - `ws://host:port/v1/jobs`: the job API (protocol.ts), authenticated on the HTTP upgrade
 *   (ws `noServer` + `handleUpgrade`): no valid token, a 401 and no websocket.
 *
 * Bounds: inbound frames are capped by `maxPayload` (ws closes an oversize one with 1009);
 * connections by `maxConnections` (503); each connection's outbound buffer is watched
 * (`bufferedAmount`): past the soft limit progress and log events are dropped for that
 * client (they are in the job store, and the next progress supersedes), past the hard limit
 * the connection is closed with 1013.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { tokenFromRequest, tokensEqual } from './auth.js';
import type { JobEvent, JobManager } from './jobs.js';
import type { CoordinatorMetrics } from './metrics.js';
import { createPageHandler, type PageHandler } from './dashboard/page_server.js';
import { type FeedPod, PodFeed } from './dashboard/pod_feed.js';
import type { PodInfo } from './plugin.js';
import {
  type ClientMessage,
  DEFAULT_MAX_MESSAGE_BYTES,
  JOBS_PATH,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerMessage,
  decodeClientMessage,
  encodeMessage,
  isTerminal,
} from './protocol.js';

export interface ServerOptions {
  readonly manager: JobManager;
  readonly metrics: CoordinatorMetrics;
  readonly pod: FeedPod;
  readonly token: string;
  readonly version: string;
  readonly host?: string;
  readonly port?: number;
  readonly maxMessageBytes?: number;
  readonly maxConnections?: number;
  readonly maxSubscriptionsPerConnection?: number;
  /** Outbound bytes buffered past which progress and log events are dropped for a client. */
  readonly softBufferBytes?: number;
  /** Outbound bytes buffered past which a client is disconnected (1013). */
  readonly hardBufferBytes?: number;
  readonly heartbeatMs?: number;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly http: Server;
  connections(): number;
  close(): Promise<void>;
}

/** The replay a late subscriber gets of a job's past log lines, at most. */
const REPLAY_LOG_LINES = 1000;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxConnections = opts.maxConnections ?? 256;
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes, clientTracking: true });
  const alive = new WeakSet<WebSocket>();
  const feed = new PodFeed(opts.pod, opts.manager);
  const page = createPageHandler();

  const http = createServer((req, res) => {
    void handleHttp(req, res, opts, page).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${(e as Error).message}\n`);
    });
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path !== JOBS_PATH) return rejectUpgrade(socket, 404, 'Not Found', `no websocket at ${path}; the job API is at ${JOBS_PATH}\n`);
    const token = tokenFromRequest(req);
    if (token === undefined || !tokensEqual(token, opts.token)) {
      return rejectUpgrade(socket, 401, 'Unauthorized', 'a valid token is required (Authorization: Bearer <token>)\n', {
        'WWW-Authenticate': 'Bearer realm="tpusim"',
      });
    }
    if (wss.clients.size >= maxConnections) return rejectUpgrade(socket, 503, 'Service Unavailable', `too many connections (limit ${maxConnections})\n`);
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.add(ws);
      ws.on('pong', () => alive.add(ws));
      new Session(ws, opts, maxMessageBytes, feed);
    });
  });

  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, opts.heartbeatMs ?? 30_000);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 8470, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    host,
    port,
    url: `ws://${shownHost}:${port}${JOBS_PATH}`,
    http,
    connections: () => wss.clients.size,
    async close() {
      clearInterval(heartbeat);
      feed.close();
      for (const ws of wss.clients) ws.close(1001, 'coordinator shutting down');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 1000);
        force.unref();
        wss.close(() => {
          clearTimeout(force);
          resolve();
        });
      });
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function rejectUpgrade(socket: Duplex, status: number, reason: string, body: string, headers: Record<string, string> = {}): void {
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

async function handleHttp(req: IncomingMessage, res: ServerResponse, opts: ServerOptions, page: PageHandler): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (page(req, res, path)) return;
  if (path !== '/healthz' && path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}; try /healthz, /metrics or the websocket at ${JOBS_PATH}\n`);
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const body = await opts.metrics.expose();
    res.writeHead(200, { 'content-type': opts.metrics.contentType }).end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const cores = opts.pod.stats().cores;
  const up = cores.filter((c) => c.alive).length;
  const running = opts.manager.runningJob();
  const body = JSON.stringify({
    status: up === cores.length ? 'ok' : 'degraded',
    version: opts.version,
    protocol: PROTOCOL_VERSION,
    topology: opts.pod.info.topology,
    cores: cores.length,
    coresUp: up,
    running: running?.id ?? null,
    pending: opts.manager.pendingCount(),
  });
  res.writeHead(200, { 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : `${body}\n`);
}

/** One websocket client: decodes its requests, answers them, streams its jobs' events. */
class Session {
  private readonly subscriptions = new Map<string, () => void>();
  private readonly manager: JobManager;
  private readonly soft: number;
  private readonly hard: number;
  private readonly maxSubs: number;
  private readonly metrics: CoordinatorMetrics;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly ws: WebSocket,
    opts: ServerOptions,
    private readonly maxMessageBytes: number,
    private readonly feed: PodFeed,
  ) {
    this.manager = opts.manager;
    this.metrics = opts.metrics;
    this.soft = opts.softBufferBytes ?? 4 * 1024 * 1024;
    this.hard = opts.hardBufferBytes ?? 64 * 1024 * 1024;
    this.maxSubs = opts.maxSubscriptionsPerConnection ?? 1000;
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer | Buffer[] | ArrayBuffer, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', () => this.dispose());
    const info = opts.pod.info;
    this.send({ v: PROTOCOL_VERSION, type: 'hello', server: 'tpusim', version: opts.version, topology: info.topology, cores: info.numCores, maxMessageBytes });
  }

  private dispose(): void {
    for (const off of this.subscriptions.values()) off();
    this.subscriptions.clear();
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Sends a message; a droppable one is skipped while the client is behind. */
  private send(msg: ServerMessage, droppable = false): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.hard) {
      this.ws.close(1013, `client too slow: ${buffered} bytes unread`);
      return;
    }
    if (droppable && buffered > this.soft) {
      this.metrics.eventsDropped.inc();
      return;
    }
    this.ws.send(encodeMessage(msg), { binary: true });
  }

  private onFrame(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): void {
    if (!isBinary) {
      this.send({ v: PROTOCOL_VERSION, type: 'error', code: 'bad_frame', message: 'frames must be binary msgpack, not text' });
      return;
    }
    const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    const decoded = decodeClientMessage(frame, this.maxMessageBytes);
    if (!decoded.ok) {
      const id = decoded.id === undefined ? {} : { id: decoded.id };
      this.send({ v: PROTOCOL_VERSION, type: 'error', ...id, ...decoded.error.toInfo() });
      return;
    }
    try {
      this.handle(decoded.msg);
    } catch (e) {
      const info = e instanceof ProtocolError ? e.toInfo() : { code: 'internal' as const, message: (e as Error).message ?? String(e) };
      this.send({ v: PROTOCOL_VERSION, type: 'error', id: decoded.msg.id, ...info });
    }
  }

  private handle(msg: ClientMessage): void {
    const v = PROTOCOL_VERSION;
    switch (msg.type) {
      case 'submit': {
        if ((msg.subscribe ?? true) && this.subscriptions.size >= this.maxSubs) {
          throw new ProtocolError('invalid_message', `a connection may follow at most ${this.maxSubs} jobs at once; submit with subscribe: false`, 'subscribe');
        }
        const job = this.manager.submit({ workload: msg.workload, config: msg.config, mesh: msg.mesh, name: msg.name });
        this.send({ v, type: 'accepted', id: msg.id, jobId: job.jobId, state: job.state });
        if (msg.subscribe ?? true) this.follow(job.jobId);
        return;
      }
      case 'list':
        this.send({ v, type: 'jobs', id: msg.id, jobs: this.manager.list({ ...(msg.state ? { state: msg.state } : {}), limit: msg.limit ?? 100 }) });
        return;
      case 'status': {
        const job = this.manager.get(msg.jobId);
        if (!job) throw new ProtocolError('not_found', `no job ${JSON.stringify(msg.jobId)}`, 'jobId');
        this.send({ v, type: 'job', id: msg.id, job });
        return;
      }
      case 'cancel': {
        const state = this.manager.cancel(msg.jobId);
        this.send({ v, type: 'ok', id: msg.id, jobId: msg.jobId, state });
        return;
      }
      case 'subscribe': {
        const job = this.manager.get(msg.jobId);
        if (!job) throw new ProtocolError('not_found', `no job ${JSON.stringify(msg.jobId)}`, 'jobId');
        this.send({ v, type: 'ok', id: msg.id, jobId: job.jobId, state: job.state });
        this.replay(job.jobId);
        if (!isTerminal(job.state)) this.follow(job.jobId);
        return;
      }
      case 'unsubscribe': {
        this.subscriptions.get(msg.jobId)?.();
        this.subscriptions.delete(msg.jobId);
        const job = this.manager.get(msg.jobId);
        if (!job) throw new ProtocolError('not_found', `no job ${JSON.stringify(msg.jobId)}`, 'jobId');
        this.send({ v, type: 'ok', id: msg.id, jobId: msg.jobId, state: job.state });
        return;
      }
      case 'workloads':
        this.send({ v, type: 'workloads', id: msg.id, workloads: this.manager.workloads() });
        return;
      case 'watch':
        this.send({ v, type: 'watching', id: msg.id, intervalMs: this.feed.intervalMs, pod: this.feed.layout });
        this.unwatch ??= this.feed.watch((m, droppable) => this.send(m, droppable));
        return;
      case 'steps': {
        if (!this.manager.get(msg.jobId)) throw new ProtocolError('not_found', `no job ${JSON.stringify(msg.jobId)}`, 'jobId');
        this.send({ v, type: 'steps', id: msg.id, jobId: msg.jobId, steps: this.manager.stepMetrics(msg.jobId, msg.limit) });
        return;
      }
    }
  }

  /** Sends what a job has done so far: its stored log lines, last progress, and its end if it ended. */
  private replay(jobId: string): void {
    const v = PROTOCOL_VERSION;
    const store = this.manager;
    for (const l of store.logsTail(jobId, REPLAY_LOG_LINES)) this.send({ v, type: 'log', jobId, seq: l.seq, line: l.line, at: l.at }, true);
    const job = store.get(jobId)!;
    const p = store.currentProgress(jobId) ?? (job.step !== null && job.total !== null ? { step: job.step, total: job.total, metrics: job.metrics ?? {} } : undefined);
    if (p) this.send({ v, type: 'progress', jobId, ...p }, true);
    if (isTerminal(job.state)) {
      if (job.state === 'SUCCEEDED') this.send({ v, type: 'result', jobId, result: job.result });
      if (job.error) this.send({ v, type: 'error', jobId, ...job.error });
      this.send({ v, type: 'state', jobId, state: job.state, at: job.finishedAt ?? Date.now() });
    }
  }

  private follow(jobId: string): void {
    if (this.subscriptions.has(jobId)) return;
    if (this.subscriptions.size >= this.maxSubs) {
      throw new ProtocolError('invalid_message', `a connection may follow at most ${this.maxSubs} jobs at once`, 'jobId');
    }
    const off = this.manager.subscribe(jobId, (e: JobEvent) => {
      this.send(e, e.type === 'progress' || e.type === 'log');
      if (e.type === 'state' && isTerminal(e.state)) {
        off();
        this.subscriptions.delete(jobId);
      }
    });
    this.subscriptions.set(jobId, off);
  }
}
