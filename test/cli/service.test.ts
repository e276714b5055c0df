/**
 * The service through real processes: `tpusim up`, the client commands and their exit
 * codes, SIGTERM (running jobs STOPPED and recorded), and a coordinator killed mid-job and
 * restarted on the same data dir (the job FAILED with its reason, the history intact).
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../../src/coordinator/client.js';
import { JobStore } from '../../src/coordinator/store.js';
import { main } from '../../src/cli/main.js';
import { type UpProcess, ensureCliBuilt, startUp, tpusimAsync } from './cli_process.js';

const LONG = ['--set', 'm=32', '--set', 'n=32', '--set', 'k=256', '--set', 'steps=10000'];
const live: UpProcess[] = [];

beforeAll(() => ensureCliBuilt(), 120_000);
afterAll(() => {
  for (const u of live) if (u.child.exitCode === null) u.child.kill('SIGKILL');
});

/**
 * Runs a CLI command in this process (the same code as the binary, without a process
 * start per call), capturing what it prints.
 */
async function cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { log: console.log, error: console.error, write: process.stderr.write };
  console.log = (...a: unknown[]) => void out.push(`${a.join(' ')}\n`);
  console.error = (...a: unknown[]) => void err.push(`${a.join(' ')}\n`);
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    console.log = saved.log;
    console.error = saved.error;
    process.stderr.write = saved.write;
  }
}

async function up(dataDir: string): Promise<UpProcess> {
  const u = await startUp(dataDir);
  live.push(u);
  return u;
}

/** Submits a long job and resolves once it has made progress. */
async function longJobRunning(u: UpProcess): Promise<string> {
  const client = await JobClient.connect(u.summary.url, { token: u.summary.token });
  const { jobId } = await client.submit({ workload: 'matmul', config: { m: 32, n: 32, k: 256, steps: 10_000 }, name: 'long' });
  await new Promise<void>((resolve) => {
    const off = client.onEvent((e) => {
      if (e.jobId === jobId && e.type === 'progress' && e.step >= 2) {
        off();
        resolve();
      }
    });
  });
  await client.close();
  return jobId;
}

describe('tpusim CLI against a running coordinator', () => {
  it('submits, lists, shows status, logs and results, with exit codes 0, 1 and 2', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tpusim-cli-'));
    const u = await up(dataDir);
    expect(statSync(join(dataDir, 'token')).mode & 0o777).toBe(0o600);
    const dd = ['--data-dir', dataDir];

    const ok = await tpusimAsync(['submit', 'matmul', '--set', 'steps=2', '--set', 'm=64', '--name', 'cli', '--wait', '--json', ...dd]);
    expect(ok.code, ok.stderr).toBe(0);
    const done = JSON.parse(ok.stdout) as { jobId: string; state: string; result: { checksum: number; m: number } };
    expect(done).toMatchObject({ state: 'SUCCEEDED', result: { m: 64 } });

    const rejected = await cli(['submit', 'matmul', '--set', 'm=-3', ...dd]);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/invalid_config: matmul: config\.m: /);
    const unknown = await cli(['submit', 'nope', ...dd]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown_workload/);

    expect((await cli(['submit', ...dd])).code).toBe(2);
    expect((await cli(['submit', 'matmul', '--bogus'])).code).toBe(2);
    expect((await cli(['jobs', '--state', 'DONE', ...dd])).code).toBe(2);
    expect((await cli(['up', '--mesh', 'data=x'])).code).toBe(2);
    for (const cmd of ['up', 'submit', 'jobs', 'status', 'logs', 'result', 'cancel', 'workloads']) {
      const h = await cli([cmd, '--help']);
      expect(h.code, cmd).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`usage: tpusim ${cmd}`));
    }

    const jobs = await cli(['jobs', '--json', ...dd]);
    expect(jobs.code).toBe(0);
    expect((JSON.parse(jobs.stdout) as { jobId: string }[]).map((j) => j.jobId)).toEqual([done.jobId]);
    expect((await cli(['jobs', ...dd])).stdout).toMatch(new RegExp(`${done.jobId}\\s+cli\\s+matmul\\s+SUCCEEDED\\s+2/2`));
    expect((await cli(['status', done.jobId, ...dd])).stdout).toMatch(/state\s+SUCCEEDED/);
    const result = await cli(['result', done.jobId, '--json', ...dd]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(done.result);
    expect((await cli(['logs', done.jobId, ...dd])).stdout).toMatch(/matmul: A f32\[64,1024\]/);
    expect((await cli(['result', 'job-none', ...dd])).code).toBe(1);

    const workloads = await cli(['workloads', '--json']);
    expect((JSON.parse(workloads.stdout) as { name: string; defaults: Record<string, unknown> }[]).find((w) => w.name === 'matmul')?.defaults).toMatchObject({
      m: 256,
      steps: 5,
    });

    // cancel through the CLI; the running job STOPS at a step boundary and `result` says so.
    const long = JSON.parse((await cli(['submit', 'matmul', ...LONG, '--json', ...dd])).stdout) as { jobId: string };
    // `logs --follow` (its own process) streams until the job ends.
    const following = tpusimAsync(['logs', long.jobId, '--follow', ...dd]);
    await new Promise((r) => setTimeout(r, 1500));
    const cancel = await cli(['cancel', long.jobId, '--wait', '--json', ...dd]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(JSON.parse(cancel.stdout)).toEqual({ jobId: long.jobId, state: 'STOPPED' });
    const followed = await following;
    expect(followed.code).toBe(1);
    expect(followed.stdout).toMatch(/matmul: A f32\[32,256\]/);
    expect(followed.stderr).toMatch(/STOPPED: cancelled while running/);
    const stoppedResult = await cli(['result', long.jobId, ...dd]);
    expect(stoppedResult.code).toBe(1);
    expect(stoppedResult.stderr).toMatch(/STOPPED: cancelled/);

    // `submit --wait` exits 1 when the job fails (k not divisible by the 8 shards).
    const failed = await cli(['submit', 'matmul', '--set', 'k=100', '--set', 'steps=1', '--wait', ...dd]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/FAILED/);

    u.child.kill('SIGTERM');
    expect(await u.exited()).toBe(0);
  }, 120_000);

  it('on SIGTERM stops the running job and records it STOPPED', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tpusim-cli-'));
    const u = await up(dataDir);
    const jobId = await longJobRunning(u);
    u.child.kill('SIGTERM');
    expect(await u.exited()).toBe(0);
    expect(u.stderr()).toMatch(/SIGTERM: stopping/);
    const store = JobStore.open(dataDir, { readonly: true });
    try {
      const job = store.get(jobId)!;
      expect(job).toMatchObject({ state: 'STOPPED', error: { code: 'coordinator_shutdown' } });
      expect(job.finishedAt).not.toBeNull();
      expect(job.step!).toBeGreaterThanOrEqual(2);
    } finally {
      store.close();
    }
  }, 120_000);

  it('after a kill mid-job and a restart, shows the job FAILED with its reason and the history intact', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tpusim-cli-'));
    const first = await up(dataDir);
    const client = await JobClient.connect(first.summary.url, { token: first.summary.token });
    const { jobId: doneId } = await client.submit({ workload: 'matmul', config: { m: 16, k: 64, n: 16, steps: 2 } });
    const done = await client.waitForEnd(doneId);
    expect(done.state).toBe('SUCCEEDED');
    await client.close();
    const killedId = await longJobRunning(first);

    first.child.kill('SIGKILL');
    await first.exited();

    const second = await up(dataDir);
    expect(second.summary.recovered.failed).toEqual([killedId]);
    const status = await cli(['status', killedId, '--json', '--data-dir', dataDir]);
    expect(status.code).toBe(1);
    const killed = JSON.parse(status.stdout) as { state: string; error: { code: string; message: string }; step: number };
    expect(killed.state).toBe('FAILED');
    expect(killed.error.code).toBe('coordinator_restarted');
    expect(killed.error.message).toMatch(/coordinator restarted/);
    expect(killed.step).toBeGreaterThanOrEqual(2);
    const history = JSON.parse((await cli(['result', doneId, '--json', '--data-dir', dataDir])).stdout) as unknown;
    expect(history).toEqual(done.result);

    // The restarted pod serves the next job.
    const again = await JobClient.connect(second.summary.url, { token: second.summary.token });
    const { jobId } = await again.submit({ workload: 'matmul', config: { m: 16, k: 64, n: 16, steps: 1 } });
    expect((await again.waitForEnd(jobId)).state).toBe('SUCCEEDED');
    await again.close();
    second.child.kill('SIGTERM');
    expect(await second.exited()).toBe(0);
  }, 120_000);
});
