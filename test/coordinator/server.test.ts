/**
 * The coordinator end to end on a real 8-core pod and the real matmul workload: a msgpack
 * client over a real websocket, bad input of every kind, cancellation, a load of 200 jobs
 * from 20 clients, and the Prometheus exposition (checked by promtool when it is installed).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobApiError, JobClient, type JobEventMessage } from '../../src/coordinator/client.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { type ErrorInfo, type ServerMessage, decodeServerMessage } from '../../src/coordinator/protocol.js';
import { builtinWorkloads } from '../../src/workloads/registry.js';
import { ensureBuilt } from './helpers.js';

const MIB = 1024 * 1024;
const TINY = { m: 8, k: 64, n: 8, steps: 1 };
let coord: Coordinator;
let dataDir: string;
let httpBase: string;

beforeAll(async () => {
  ensureBuilt();
  dataDir = mkdtempSync(join(tmpdir(), 'tpusim-server-'));
  coord = await Coordinator.start({
    registry: builtinWorkloads,
    dataDir,
    pod: { topology: 'v4-8', hbmBytesPerCore: 16 * MIB },
    port: 0,
    maxMessageBytes: 64 * 1024,
  });
  httpBase = `http://127.0.0.1:${coord.server.port}`;
}, 60_000);

afterAll(async () => {
  await coord?.stop(5000);
});

const connect = () => JobClient.connect(coord.url, { token: coord.token });

/** A raw websocket, for frames the client would never send. */
function rawSocket(headers: Record<string, string> = { authorization: `Bearer ${coord.token}` }): Promise<{ ws: WebSocket; next(): Promise<ServerMessage> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(coord.url, { headers });
    const queue: ServerMessage[] = [];
    const waiters: ((m: ServerMessage) => void)[] = [];
    ws.on('message', (d) => {
      const m = decodeServerMessage(d as Buffer);
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    });
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r))),
      }),
    );
  });
}

function upgradeStatus(headers: Record<string, string>, url = coord.url): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('error', (e) => (e.message.includes('Unexpected server response') ? undefined : reject(e)));
  });
}

async function metricsText(): Promise<string> {
  const r = await fetch(`${httpBase}/metrics`);
  expect(r.status).toBe(200);
  return r.text();
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no series ${series} in the exposition`);
  return Number(line.slice(series.length + 1));
}

describe('coordinator end to end', () => {
  it('runs a matmul job submitted over the websocket: progress, logs, result, metrics', async () => {
    const client = await connect();
    expect(client.hello).toMatchObject({ type: 'hello', v: 1, topology: 'v4-8', cores: 8 });
    const events: JobEventMessage[] = [];
    const { jobId, state } = await client.submit({ workload: 'matmul', config: { m: 64, k: 256, n: 64, steps: 3 }, name: 'e2e' });
    expect(state).toBe('PENDING');
    const outcome = await client.waitForEnd(jobId, (e) => events.push(e));
    expect(outcome.state).toBe('SUCCEEDED');
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.map((p) => (p.type === 'progress' ? [p.step, p.total] : []))).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    const first = progress[0]!;
    expect(first.type === 'progress' && first.metrics.step_seconds).toBeGreaterThan(0);
    expect(events.some((e) => e.type === 'log')).toBe(true);
    const result = outcome.result as { checksum: number; shards: number; mfu: number };
    expect(result.shards).toBe(8);
    expect(result.mfu).toBeGreaterThan(0);

    const detail = await client.status(jobId);
    expect(detail).toMatchObject({ state: 'SUCCEEDED', name: 'e2e', workload: 'matmul', step: 3, total: 3 });
    expect(detail.config).toMatchObject({ m: 64, k: 256, n: 64, steps: 3, dtype: 'f32' });
    expect((await client.list()).map((j) => j.jobId)).toContain(jobId);
    expect(coord.store.metrics(jobId)).toHaveLength(3);
    await client.close();

    const text = await metricsText();
    expect(metricValue(text, 'tpusim_job_steps_total{workload="matmul"}')).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, 'tpusim_jobs_finished_total{workload="matmul",state="SUCCEEDED"}')).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'tpusim_job_step_simulated_seconds_count{workload="matmul"}')).toBeGreaterThanOrEqual(3);
    expect(metricValue(text, 'tpusim_job_mfu_ratio{workload="matmul"}')).toBeGreaterThan(0);
    for (let c = 0; c < 8; c++) {
      expect(metricValue(text, `tpusim_core_flops_total{core="${c}"}`)).toBeGreaterThan(0);
      expect(metricValue(text, `tpusim_core_busy_seconds_total{core="${c}"}`)).toBeGreaterThan(0);
      expect(metricValue(text, `tpusim_core_up{core="${c}"}`)).toBe(1);
    }
    expect(metricValue(text, 'tpusim_collective_bytes_total{op="all-reduce"}')).toBeGreaterThan(0);
    expect(metricValue(text, 'tpusim_emulation_flops_per_second')).toBeGreaterThan(0);
    expect(text).toContain('tpusim_process_cpu_seconds_total');

    const health = (await (await fetch(`${httpBase}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', protocol: 1, topology: 'v4-8', cores: 8, coresUp: 8 });
    expect((await fetch(`${httpBase}/nope`)).status).toBe(404);
  }, 60_000);

  it('answers each kind of bad input clearly and serves the next valid job', async () => {
    const { ws, next } = await rawSocket();
    expect((await next()).type).toBe('hello');
    const expectError = async (frame: Uint8Array | string, want: Partial<ErrorInfo> & { id?: number }) => {
      ws.send(frame);
      const m = await next();
      expect(m).toMatchObject({ type: 'error', ...want });
      return m;
    };
    const p = new Packr({ useRecords: false });
    await expectError(Buffer.from([0x92, 0x01]), { code: 'malformed' });
    await expectError('{"v":1}', { code: 'bad_frame' });
    await expectError(p.pack({ v: 1, id: 1, type: 'explode' }), { code: 'unknown_type', field: 'type', id: 1 });
    await expectError(p.pack({ v: 9, id: 2, type: 'list' }), { code: 'unsupported_version', id: 2 });
    await expectError(p.pack({ v: 1, id: 3, type: 'submit', workload: 'nope' }), { code: 'unknown_workload', field: 'workload', id: 3 });
    await expectError(p.pack({ v: 1, id: 4, type: 'submit', workload: 'matmul', config: { m: 'big' } }), { code: 'invalid_config', field: 'config.m', id: 4 });
    await expectError(p.pack({ v: 1, id: 5, type: 'submit', workload: 'matmul', config: { steps: 10_000_000 } }), {
      code: 'invalid_config',
      field: 'config.steps',
    });
    await expectError(p.pack({ v: 1, id: 6, type: 'submit', workload: 'matmul', mesh: { data: 16 } }), { code: 'invalid_mesh', field: 'mesh' });
    await expectError(p.pack({ v: 1, id: 7, type: 'status', jobId: 'job-none' }), { code: 'not_found', field: 'jobId' });
    // Still the same connection, still serving.
    ws.send(p.pack({ v: 1, id: 8, type: 'workloads' }));
    const w = await next();
    expect(w).toMatchObject({ type: 'workloads', id: 8 });
    expect(w.type === 'workloads' && w.workloads.find((x) => x.name === 'matmul')?.defaults).toMatchObject({ m: 256, steps: 5 });

    // An oversize frame closes that connection with 1009 (message too big).
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(p.pack({ v: 1, id: 9, type: 'submit', workload: 'matmul', name: 'x'.repeat(100 * 1024) }));
    expect(await closed).toBe(1009);

    // Missing, wrong or malformed tokens: 401 on the upgrade. A wrong path: 404.
    expect(await upgradeStatus({})).toBe(401);
    expect(await upgradeStatus({ authorization: 'Bearer wrong' })).toBe(401);
    expect(await upgradeStatus({ authorization: `Bearer ${coord.token}x` })).toBe(401);
    expect(await upgradeStatus({ authorization: `Basic ${coord.token}` })).toBe(401);
    expect(await upgradeStatus({ authorization: `Bearer ${coord.token}` }, coord.url.replace('/v1/jobs', '/v2/jobs'))).toBe(404);
    await expect(JobClient.connect(coord.url, { token: 'nope' })).rejects.toThrow(/401/);

    const client = await connect();
    await expect(client.submit({ workload: 'matmul', config: { k: -1 } })).rejects.toMatchObject({ code: 'invalid_config', field: 'config.k' });
    const { jobId } = await client.submit({ workload: 'matmul', config: TINY });
    expect((await client.waitForEnd(jobId)).state).toBe('SUCCEEDED');
    await client.close();
  }, 60_000);

  it('cancels a running job at a step boundary; a late subscriber gets the replay', async () => {
    const client = await connect();
    const { jobId } = await client.submit({ workload: 'matmul', config: { m: 32, k: 256, n: 32, steps: 10_000 } });
    const steps: number[] = [];
    let cancelled: Promise<string> | undefined;
    const outcome = await client.waitForEnd(jobId, (e) => {
      if (e.type !== 'progress') return;
      steps.push(e.step);
      if (e.step === 2) cancelled = client.cancel(jobId);
    });
    expect(await cancelled).toBe('RUNNING');
    expect(outcome).toMatchObject({ state: 'STOPPED', error: { code: 'cancelled' } });
    expect(steps.length).toBeLessThan(10_000);
    await expect(client.cancel(jobId)).rejects.toMatchObject({ code: 'not_cancellable' });

    const late = await connect();
    const replay: JobEventMessage[] = [];
    const again = await late.waitForEnd(jobId, (e) => replay.push(e), { subscribe: true });
    expect(again.state).toBe('STOPPED');
    expect(replay.some((e) => e.type === 'log')).toBe(true);
    await Promise.all([client.close(), late.close()]);
  }, 60_000);

  it('accounts for all of 200 jobs from 20 concurrent clients', async () => {
    const CLIENTS = 20;
    const PER = 10;
    const outcomes = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        const client = await connect();
        const mine: { i: number; jobId?: string; state?: string; rejected?: string }[] = [];
        const waits: Promise<void>[] = [];
        for (let i = 0; i < PER; i++) {
          // Every 7th job is invalid on purpose: it must come back rejected with a reason.
          const bad = (c * PER + i) % 7 === 3;
          const entry: (typeof mine)[number] = { i };
          mine.push(entry);
          try {
            const { jobId } = await client.submit({ workload: 'matmul', config: bad ? { ...TINY, n: 0 } : TINY, name: `load-${c}-${i}` });
            entry.jobId = jobId;
            waits.push(client.waitForEnd(jobId).then((o) => void (entry.state = o.state)));
          } catch (e) {
            expect(e).toBeInstanceOf(JobApiError);
            entry.rejected = `${(e as JobApiError).code}: ${(e as JobApiError).message}`;
          }
        }
        await Promise.all(waits);
        await client.close();
        return mine;
      }),
    );
    const all = outcomes.flat();
    expect(all).toHaveLength(200);
    const rejected = all.filter((x) => x.rejected);
    const accepted = all.filter((x) => x.jobId);
    expect(rejected.length + accepted.length).toBe(200);
    expect(rejected.length).toBe(all.filter((_, k) => k % 7 === 3).length);
    for (const r of rejected) expect(r.rejected).toMatch(/^invalid_config: matmul: config\.n: /);
    for (const a of accepted) expect(a.state).toBe('SUCCEEDED');
    // The store agrees: every accepted job is there, SUCCEEDED.
    for (const a of accepted) expect(coord.store.get(a.jobId!)!.state).toBe('SUCCEEDED');
    expect(new Set(accepted.map((a) => a.jobId)).size).toBe(accepted.length);
  }, 110_000);

  it('serves an exposition promtool accepts (skipped when promtool is absent)', async (ctx) => {
    const promtool = spawnSync('promtool', ['--version'], { stdio: 'ignore' });
    if (promtool.error) {
      console.warn('SKIPPED: promtool is not installed (Debian package "prometheus"); the exposition was not linted');
      ctx.skip();
    }
    const text = await metricsText();
    const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(out.trim()).toBe('');
  });

  it('keeps the token in a file only its owner can read', () => {
    expect(statSync(coord.tokenFile).mode & 0o777).toBe(0o600);
  });
});
