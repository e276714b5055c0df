/**
 * The dashboard against a real Prometheus (Debian's `prometheus`): the shipped scrape config
 * (dashboards/prometheus.yml, pointed at a live pod and scraping every second) collects the
 * pod's /metrics while two jobs run, and every PromQL expression of dashboards/tpusim.json,
 * evaluated through Prometheus's HTTP API, returns data with a finite value. Skips, saying
 * so, where the prometheus binary is absent.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../../src/coordinator/client.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { builtinWorkloads } from '../../src/workloads/registry.js';
import { ensureBuilt } from '../coordinator/helpers.js';

const DASHBOARDS = resolve(import.meta.dirname, '..', '..', 'dashboards');
const havePrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).error === undefined;
if (!havePrometheus) console.warn('SKIPPED: the Prometheus dashboard test needs the prometheus binary on PATH (apt-get install -y prometheus)');

/** Grafana's variables, as the test evaluates them: every pod, every workload, a one-minute window. */
const GRAFANA_VARIABLES: Record<string, string> = {
  $__rate_interval: '1m',
  $instance: '.*',
  $workload: '.*',
};

function substitute(expr: string): string {
  let out = expr;
  for (const [k, v] of Object.entries(GRAFANA_VARIABLES)) out = out.split(k).join(v);
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

let coord: Coordinator;
let prometheus: ChildProcess | undefined;
let promBase: string;
let promLog = '';

async function query(expr: string): Promise<Sample[]> {
  const r = await fetch(`${promBase}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data!.result;
}

/** Polls `expr` until `ok` holds for its samples; bounded by `timeoutMs`. */
async function until(expr: string, ok: (s: Sample[]) => boolean, timeoutMs = 30_000): Promise<Sample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await query(expr).catch(() => [] as Sample[]);
    if (ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting on ${expr}; last result ${JSON.stringify(s)}\nprometheus log:\n${promLog.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const value = (s: Sample[]) => (s.length ? Number(s[0]!.value[1]) : Number.NaN);

describe.skipIf(!havePrometheus)('dashboards/tpusim.json against a real Prometheus', () => {
  beforeAll(async () => {
    ensureBuilt();
    coord = await Coordinator.start({
      registry: builtinWorkloads,
      dataDir: mkdtempSync(join(tmpdir(), 'tpusim-prom-pod-')),
      pod: { topology: 'v4-8', hbmBytesPerCore: 16 * 1024 * 1024 },
      port: 0,
    });
    const dir = mkdtempSync(join(tmpdir(), 'tpusim-prom-'));
    const shipped = readFileSync(join(DASHBOARDS, 'prometheus.yml'), 'utf8');
    expect(shipped).toContain("targets: ['127.0.0.1:8470']");
    expect(shipped).toContain('scrape_interval: 5s');
    const config = shipped.replace("targets: ['127.0.0.1:8470']", `targets: ['127.0.0.1:${coord.server.port}']`).replace('scrape_interval: 5s', 'scrape_interval: 1s');
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(configFile, config);
    const port = await freePort();
    promBase = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.on('data', (d: Buffer) => {
      promLog = (promLog + d.toString()).slice(-20_000);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = await fetch(`${promBase}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (prometheus.exitCode !== null || Date.now() > deadline) throw new Error(`prometheus did not become ready:\n${promLog}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }, 90_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await coord?.stop(5000);
  });

  it('the shipped scrape config is valid (promtool check config)', () => {
    const r = spawnSync('promtool', ['check', 'config', join(DASHBOARDS, 'prometheus.yml')], { encoding: 'utf8' });
    if (r.error) return console.warn('SKIPPED: promtool is not on PATH');
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('every PromQL expression of the dashboard returns data after jobs ran on a live pod', async () => {
    await until('up{job="tpusim"}', (s) => value(s) === 1);
    const client = await JobClient.connect(coord.url, { token: coord.token });
    // Two jobs with scrapes between them, so that every counter and histogram bucket moves within the window.
    for (let i = 1; i <= 2; i++) {
      const { jobId } = await client.submit({ workload: 'matmul', config: { m: 128, k: 1024, n: 128, steps: 3 } });
      expect((await client.waitForEnd(jobId)).state).toBe('SUCCEEDED');
      await until('sum(tpusim_job_steps_total)', (s) => value(s) >= 3 * i);
      await until('count_over_time(tpusim_pod_cores[1m])', (s) => value(s) >= 2 * i + 1);
    }
    await client.close();
    // Two more scrapes after the last job.
    const scrapes = value(await query('count_over_time(tpusim_pod_cores[1m])'));
    await until('count_over_time(tpusim_pod_cores[1m])', (s) => value(s) >= scrapes + 2);

    const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, 'tpusim.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { name: string; definition?: string }[] };
    };
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: substitute(t.expr) })));
    expect(exprs.length).toBeGreaterThan(15);
    const empty: string[] = [];
    for (const { panel, expr } of exprs) {
      expect(expr, panel).not.toContain('$');
      const samples = await query(expr);
      if (!samples.some((s) => Number.isFinite(Number(s.value[1])))) empty.push(`${panel}: ${expr} -> ${JSON.stringify(samples)}`);
    }
    expect(empty).toEqual([]);

    // The variables' queries find the pod and the workload.
    const series = async (match: string) => {
      const r = await fetch(`${promBase}/api/v1/series?match[]=${encodeURIComponent(match)}`);
      return ((await r.json()) as { data: Record<string, string>[] }).data;
    };
    expect((await series('tpusim_pod_cores')).map((s) => s.instance)).toEqual([`127.0.0.1:${coord.server.port}`]);
    expect((await series('tpusim_jobs_submitted_total')).map((s) => s.workload)).toContain('matmul');
  }, 120_000);
});
