import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type JobEvent, JobManager } from '../../src/coordinator/jobs.js';
import { CoordinatorMetrics } from '../../src/coordinator/metrics.js';
import { ProtocolError } from '../../src/coordinator/protocol.js';
import { JobStore } from '../../src/coordinator/store.js';
import { FakePod, fakeRegistry } from './fake_pod.js';

const open: JobStore[] = [];
const managers: JobManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.shutdown(2000);
  for (const s of open.splice(0)) s.close();
});

function setup(dataDir = mkdtempSync(join(tmpdir(), 'tpusim-jobs-')), opts: { maxPending?: number } = {}) {
  const store = JobStore.open(dataDir);
  open.push(store);
  const pod = new FakePod();
  const metrics = new CoordinatorMetrics(pod, () => store.countsByState(), { defaultMetrics: false });
  const manager = new JobManager({ executor: pod, registry: fakeRegistry, store, dataDir, observer: metrics, ...opts });
  managers.push(manager);
  const events: JobEvent[] = [];
  manager.onEvent((e) => events.push(e));
  return { dataDir, store, pod, manager, metrics, events };
}

function rejects(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    return e as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('JobManager', () => {
  it('runs a job PENDING -> RUNNING -> SUCCEEDED, storing progress, logs and the result', async () => {
    const { manager, store, events } = setup();
    const job = manager.submit({ workload: 'steps', config: { steps: 4 }, name: 'four' });
    expect(job.state).toBe('PENDING');
    await manager.idle();
    const d = store.get(job.jobId)!;
    expect(d.state).toBe('SUCCEEDED');
    expect(d.name).toBe('four');
    expect(d.result).toEqual({ steps: 4, sum: 10 });
    expect(d.config).toEqual({ steps: 4, ms: 1, failAt: 0, hbm: 0, cores: 1 });
    expect(d.startedAt).not.toBeNull();
    expect(d.finishedAt!).toBeGreaterThanOrEqual(d.startedAt!);
    expect(store.metrics(job.jobId).map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(store.logs(job.jobId).map((l) => l.line)).toEqual(['step 1', 'step 2', 'step 3', 'step 4']);
    const states = events.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? e.state : ''));
    expect(states).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
    const kinds = events.map((e) => e.type);
    expect(kinds.indexOf('result')).toBeLessThan(kinds.lastIndexOf('state'));
  });

  it('runs jobs one at a time in submission order', async () => {
    const { manager, store, events } = setup();
    const ids = [1, 2, 3, 4, 5].map((i) => manager.submit({ workload: 'steps', config: { steps: 2, ms: 2 }, name: `j${i}` }).jobId);
    await manager.idle();
    const starts = events.filter((e) => e.type === 'state' && e.state === 'RUNNING').map((e) => e.jobId);
    expect(starts).toEqual(ids);
    // No job started before the previous one ended.
    let running = 0;
    for (const e of events) {
      if (e.type !== 'state') continue;
      if (e.state === 'RUNNING') running++;
      if (e.state === 'SUCCEEDED') running--;
      expect(running).toBeLessThanOrEqual(1);
    }
    expect(store.countsByState().SUCCEEDED).toBe(5);
  });

  it('rejects bad submits with a code and the field, and keeps serving', async () => {
    const { manager, store } = setup();
    expect(rejects(() => manager.submit({ workload: 'nope' })).toInfo()).toMatchObject({ code: 'unknown_workload', field: 'workload' });
    expect(rejects(() => manager.submit({ workload: 'steps', config: { steps: 'many' } })).toInfo()).toMatchObject({
      code: 'invalid_config',
      field: 'config.steps',
    });
    expect(rejects(() => manager.submit({ workload: 'steps', config: { steps: 0 } })).toInfo()).toMatchObject({ code: 'invalid_config', field: 'config.steps' });
    expect(rejects(() => manager.submit({ workload: 'steps', config: { extra: 1 } })).toInfo()).toMatchObject({ code: 'invalid_config' });
    expect(rejects(() => manager.submit({ workload: 'steps', mesh: { data: 16 } })).toInfo()).toMatchObject({ code: 'invalid_mesh', field: 'mesh' });
    expect(rejects(() => manager.submit({ workload: 'steps', config: { cores: 9 } })).toInfo()).toMatchObject({ code: 'insufficient_resources' });
    expect(rejects(() => manager.submit({ workload: 'steps', config: { hbm: 2 << 20 } })).toInfo()).toMatchObject({ code: 'insufficient_resources', field: 'config' });
    expect(store.list()).toHaveLength(0);
    const ok = manager.submit({ workload: 'steps' });
    await manager.idle();
    expect(store.get(ok.jobId)!.state).toBe('SUCCEEDED');
  });

  it('records a failing job FAILED with its message, and runs the next', async () => {
    const { manager, store } = setup();
    const bad = manager.submit({ workload: 'steps', config: { steps: 3, failAt: 2 } });
    const good = manager.submit({ workload: 'steps' });
    await manager.idle();
    const b = store.get(bad.jobId)!;
    expect(b.state).toBe('FAILED');
    expect(b.error).toEqual({ code: 'job_failed', message: 'steps: failing at step 2 as configured' });
    expect(store.metrics(bad.jobId)).toHaveLength(1);
    expect(store.get(good.jobId)!.state).toBe('SUCCEEDED');
  });

  it('cancels a running job at its next step boundary and a pending one at once', async () => {
    const { manager, store } = setup();
    const long = manager.submit({ workload: 'steps', config: { steps: 1000, ms: 5 } });
    const queued = manager.submit({ workload: 'steps' });
    const after = manager.submit({ workload: 'steps' });
    expect(manager.cancel(queued.jobId)).toBe('STOPPED');
    await new Promise((r) => setTimeout(r, 40));
    expect(manager.cancel(long.jobId)).toBe('RUNNING');
    await manager.idle();
    const l = store.get(long.jobId)!;
    expect(l.state).toBe('STOPPED');
    expect(l.error?.code).toBe('cancelled');
    expect(l.step!).toBeGreaterThan(0);
    expect(l.step!).toBeLessThan(1000);
    expect(store.get(queued.jobId)!).toMatchObject({ state: 'STOPPED', startedAt: null });
    expect(store.get(after.jobId)!.state).toBe('SUCCEEDED');
    expect(rejects(() => manager.cancel(after.jobId)).code).toBe('not_cancellable');
    expect(rejects(() => manager.cancel('job-nope')).toInfo()).toMatchObject({ code: 'not_found', field: 'jobId' });
  });

  it('bounds the queue', () => {
    const { manager } = setup(undefined, { maxPending: 2 });
    manager.submit({ workload: 'steps' });
    manager.submit({ workload: 'steps' });
    expect(rejects(() => manager.submit({ workload: 'steps' })).code).toBe('queue_full');
  });

  it('shutdown stops the running job and every pending one, recording them', async () => {
    const { manager, store } = setup();
    const a = manager.submit({ workload: 'steps', config: { steps: 1000, ms: 5 } });
    const b = manager.submit({ workload: 'steps' });
    await new Promise((r) => setTimeout(r, 30));
    await manager.shutdown(5000);
    expect(store.get(a.jobId)!).toMatchObject({ state: 'STOPPED', error: { code: 'coordinator_shutdown' } });
    expect(store.get(b.jobId)!).toMatchObject({ state: 'STOPPED', error: { code: 'coordinator_shutdown' } });
    expect(rejects(() => manager.submit({ workload: 'steps' })).code).toBe('shutting_down');
  });

  it('after a restart, fails the jobs that were RUNNING and requeues the PENDING ones', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tpusim-jobs-'));
    const first = JobStore.open(dataDir);
    first.insert({ id: 'job-a', name: null, workload: 'steps', config: {}, mesh: null, submittedAt: 1 });
    first.insert({ id: 'job-b', name: null, workload: 'steps', config: { steps: 2 }, mesh: null, submittedAt: 2 });
    first.insert({ id: 'job-c', name: null, workload: 'gone', config: {}, mesh: null, submittedAt: 3 });
    first.markRunning('job-a', 5);
    first.appendMetrics('job-a', { step: 1, total: 3, metrics: { loss: 1 }, at: 6 });
    first.close();

    const { manager, store } = setup(dataDir);
    const r = manager.recover();
    expect(r).toEqual({ failed: ['job-a'], requeued: ['job-b'], dropped: ['job-c'] });
    await manager.idle();
    const a = store.get('job-a')!;
    expect(a.state).toBe('FAILED');
    expect(a.error).toMatchObject({ code: 'coordinator_restarted' });
    expect(a.error!.message).toMatch(/coordinator restarted/);
    expect(store.metrics('job-a')).toHaveLength(1);
    expect(store.get('job-b')!.state).toBe('SUCCEEDED');
    expect(store.get('job-c')!).toMatchObject({ state: 'FAILED', error: { code: 'unknown_workload' } });
  });

  it('bounds stored log lines per job', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tpusim-jobs-'));
    const store = JobStore.open(dataDir);
    open.push(store);
    const manager = new JobManager({ executor: new FakePod(), registry: fakeRegistry, store, dataDir, maxLogLinesPerJob: 3 });
    managers.push(manager);
    const j = manager.submit({ workload: 'steps', config: { steps: 6, ms: 0 } });
    await manager.idle();
    const lines = store.logs(j.jobId).map((l) => l.line);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatch(/log limit of 3 lines/);
  });

  it('feeds the job metrics: steps, step seconds, MFU, jobs by state', async () => {
    const { manager, metrics } = setup();
    manager.submit({ workload: 'steps', config: { steps: 3 } });
    manager.submit({ workload: 'steps', config: { steps: 2, failAt: 2 } });
    try {
      manager.submit({ workload: 'nope' });
    } catch {
      // counted as rejected
    }
    await manager.idle();
    const text = await metrics.expose();
    expect(text).toContain('tpusim_job_steps_total{workload="steps"} 4');
    expect(text).toContain('tpusim_job_step_simulated_seconds_count{workload="steps"} 4');
    expect(text).toContain('tpusim_jobs_finished_total{workload="steps",state="SUCCEEDED"} 1');
    expect(text).toContain('tpusim_jobs_finished_total{workload="steps",state="FAILED"} 1');
    expect(text).toContain('tpusim_jobs_rejected_total{code="unknown_workload"} 1');
    expect(text).toContain('tpusim_jobs{state="SUCCEEDED"} 1');
    // 1e9 FLOPs per 1 ms simulated step on 8 cores of 1e12: MFU 1e12 / 8e12.
    expect(text).toMatch(/tpusim_job_mfu_ratio\{workload="steps"\} 0\.125/);
    expect(text).toContain('tpusim_core_flops_total{core="7"}');
  });
});
