/**
 * The live page's server side: the page routes, the token in the query parameter (the
 * browser's way), and the `watch` push feed and `steps` request of the job API, over a real
 * websocket against a coordinator on the in-test pod (no worker threads).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Coordinator } from '../../../src/coordinator/coordinator.js';
import { PodFeed } from '../../../src/coordinator/dashboard/pod_feed.js';
import type { JobEvent } from '../../../src/coordinator/jobs.js';
import { type ServerMessage, decodeServerMessage } from '../../../src/coordinator/protocol.js';
import { FakePod, fakeRegistry } from '../fake_pod.js';

let coord: Coordinator;
let base: string;
const packr = new Packr({ useRecords: false });

beforeAll(async () => {
  coord = await Coordinator.start({
    registry: fakeRegistry,
    dataDir: mkdtempSync(join(tmpdir(), 'tpusim-feed-')),
    pod: { topology: 'fake' },
    startPod: async () => new FakePod(),
    port: 0,
  });
  base = `http://127.0.0.1:${coord.server.port}`;
});

afterAll(async () => {
  await coord?.stop(2000);
});

interface Conn {
  ws: WebSocket;
  messages: ServerMessage[];
  request(msg: Record<string, unknown>): Promise<ServerMessage>;
  waitFor(pred: (m: ServerMessage) => boolean, timeoutMs?: number): Promise<ServerMessage>;
}

/** A websocket authenticated the way a browser does it: the token in the query string. */
function browserLike(token = coord.token): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${coord.url}?token=${encodeURIComponent(token)}`);
    const messages: ServerMessage[] = [];
    const waiters = new Set<() => void>();
    let nextId = 1;
    ws.on('message', (d) => {
      messages.push(decodeServerMessage(d as Buffer));
      for (const w of [...waiters]) w();
    });
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', (e) => reject(e));
    const waitFor = (pred: (m: ServerMessage) => boolean, timeoutMs = 5000) =>
      new Promise<ServerMessage>((res, rej) => {
        let seen = 0;
        const check = () => {
          for (; seen < messages.length; seen++) {
            if (pred(messages[seen]!)) {
              waiters.delete(check);
              clearTimeout(timer);
              res(messages[seen]!);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          rej(new Error('no such message in time'));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    ws.once('open', () =>
      resolve({
        ws,
        messages,
        waitFor,
        request(msg) {
          const id = nextId++;
          ws.send(packr.pack({ v: 1, id, ...msg }));
          return waitFor((m) => 'id' in m && m.id === id);
        },
      }),
    );
  });
}

describe('page routes', () => {
  it('serves the page, its modules and the vendored libraries with their content types', async () => {
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await index.text();
    for (const src of ['/dashboard/app.js', '/dashboard/style.css', '/vendor/uPlot.min.css', '/vendor/msgpackr.min.js']) expect(html).toContain(src);

    const want: Record<string, string> = {
      '/index.html': 'text/html',
      '/dashboard/app.js': 'text/javascript',
      '/dashboard/torus.js': 'text/javascript',
      '/dashboard/style.css': 'text/css',
      '/dashboard/favicon.svg': 'image/svg+xml',
      '/vendor/uPlot.esm.js': 'text/javascript',
      '/vendor/uPlot.min.css': 'text/css',
      '/vendor/msgpackr.min.js': 'text/javascript',
    };
    for (const [path, type] of Object.entries(want)) {
      const r = await fetch(`${base}${path}`);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type'), path).toContain(type);
      expect((await r.arrayBuffer()).byteLength, path).toBeGreaterThan(100);
    }
    expect(await (await fetch(`${base}/vendor/uPlot.esm.js`)).text()).toContain('export { uPlot as default }');
  });

  it('answers HEAD without a body, refuses other methods, and serves nothing outside the page', async () => {
    const head = await fetch(`${base}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
    for (const path of ['/dashboard/..%2fpackage.json', '/dashboard/../package.json', '/dashboard/missing.js', '/vendor/uPlot.cjs.js', '/package.json']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });
});

describe('the job API for the browser', () => {
  it('takes the token from the query string and refuses a wrong one with 401', async () => {
    const c = await browserLike();
    expect((await c.waitFor((m) => m.type === 'hello')).type).toBe('hello');
    c.ws.close();
    await expect(browserLike('wrong-token')).rejects.toThrow('upgrade refused: 401');
  });

  it('watch: the layout, a pod frame at once and about every 500 ms, and every job event but logs', async () => {
    const watcher = await browserLike();
    const watching = await watcher.request({ type: 'watch' });
    expect(watching).toMatchObject({ type: 'watching', intervalMs: 500, pod: { topology: 'fake-8', numCores: 8 } });
    const first = await watcher.waitFor((m) => m.type === 'pod');
    expect(first.type === 'pod' && first.cores.mxu).toHaveLength(8);

    // Another connection submits; the watcher hears of the job without subscribing.
    const other = await browserLike();
    const accepted = await other.request({ type: 'submit', workload: 'steps', config: { steps: 3, ms: 5 }, subscribe: false });
    expect(accepted.type).toBe('accepted');
    const jobId = accepted.type === 'accepted' ? accepted.jobId : '';
    await watcher.waitFor((m) => m.type === 'state' && m.jobId === jobId && m.state === 'SUCCEEDED');
    const about = watcher.messages.filter((m) => 'jobId' in m && m.jobId === jobId).map((m) => (m.type === 'state' ? m.state : m.type));
    expect(about).toEqual(['PENDING', 'RUNNING', 'progress', 'progress', 'progress', 'result', 'SUCCEEDED']);

    // The next frame carries the job's utilization: 1e9 FLOPs per 1 ms step over 8 cores of 1e12 FLOP/s.
    const frames = () => watcher.messages.filter((m) => m.type === 'pod').length;
    const before = frames();
    const mark = watcher.messages.length;
    const after = await watcher.waitFor((m) => m.type === 'pod' && watcher.messages.indexOf(m) >= mark, 3000);
    expect(after.type === 'pod' && after.cores.mxu.every((u) => Math.abs(u - 0.125) < 1e-9)).toBe(true);
    await new Promise((r) => setTimeout(r, 1600));
    // ~2 Hz: three frames in 1.6 s, give or take scheduling.
    expect(frames() - before).toBeGreaterThanOrEqual(2);
    expect(frames() - before).toBeLessThanOrEqual(6);

    // steps: the job's stored per-step metrics; an unknown job is not_found.
    const steps = await other.request({ type: 'steps', jobId });
    expect(steps.type === 'steps' && steps.steps.map((s) => [s.step, s.metrics.step_seconds])).toEqual([
      [1, 1e-3],
      [2, 1e-3],
      [3, 1e-3],
    ]);
    const last = await other.request({ type: 'steps', jobId, limit: 1 });
    expect(last.type === 'steps' && last.steps.map((s) => s.step)).toEqual([3]);
    expect(await other.request({ type: 'steps', jobId: 'job-none' })).toMatchObject({ type: 'error', code: 'not_found', field: 'jobId' });
    watcher.ws.close();
    other.ws.close();
  });
});

describe('PodFeed', () => {
  function fakeJobs() {
    const listeners = new Set<(e: JobEvent) => void>();
    return {
      listeners,
      running: undefined as { id: string } | undefined,
      onEvent(fn: (e: JobEvent) => void) {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
      runningJob() {
        return this.running;
      },
      emit(e: JobEvent) {
        for (const fn of listeners) fn(e);
      },
    };
  }

  it('shares one timer among watchers, forwards job events (progress droppable), and stops when nobody watches', async () => {
    const pod = new FakePod();
    const jobs = fakeJobs();
    const feed = new PodFeed(pod, jobs, { intervalMs: 20 });
    const a: [string, boolean][] = [];
    const b: [string, boolean][] = [];
    const offA = feed.watch((m, d) => a.push([m.type, d]));
    const offB = feed.watch((m, d) => b.push([m.type, d]));
    expect(a[0]).toEqual(['pod', true]);
    expect(b[0]).toEqual(['pod', true]);
    expect(jobs.listeners.size).toBe(1);
    jobs.emit({ v: 1, type: 'progress', jobId: 'j', step: 1, total: 2, metrics: {} });
    jobs.emit({ v: 1, type: 'log', jobId: 'j', seq: 1, line: 'x', at: 0 });
    jobs.emit({ v: 1, type: 'state', jobId: 'j', state: 'SUCCEEDED', at: 0 });
    expect(a.filter(([t]) => t !== 'pod')).toEqual([
      ['progress', true],
      ['state', false],
    ]);
    await new Promise((r) => setTimeout(r, 120));
    expect(a.filter(([t]) => t === 'pod').length).toBeGreaterThanOrEqual(3);
    offA();
    offA();
    expect(feed.watchers()).toBe(1);
    offB();
    expect(feed.watchers()).toBe(0);
    expect(jobs.listeners.size).toBe(0);
    const count = b.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(b.length).toBe(count);
  });

  it('keeps serving the other watchers when one throws', () => {
    const feed = new PodFeed(new FakePod(), fakeJobs(), { intervalMs: 1000 });
    const got: string[] = [];
    feed.watch(() => {
      throw new Error('broken client');
    });
    feed.watch((m) => got.push(m.type));
    expect(got).toEqual(['pod']);
    feed.close();
    expect(feed.watchers()).toBe(0);
  });
});
