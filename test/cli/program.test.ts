/**
 * `tpusim program <job>`: prints a job's recorded per-core programs from its data dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { jobDirOf, writeProgramDumps } from '../../src/coordinator/programs.js';
import { JobStore } from '../../src/coordinator/store.js';
import { jit as gspmdJit } from '../../src/gspmd/api.js';
import { Mesh } from '../../src/gspmd/mesh.js';
import { P } from '../../src/gspmd/sharding.js';
import * as jnp from '../../src/program/numpy.js';
import type { Tensor } from '../../src/program/tracer.js';

describe('tpusim program', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tpusim-cli-program-'));
  let out: string[] = [];
  let err: string[] = [];

  beforeAll(async () => {
    const store = JobStore.open(dataDir);
    for (const id of ['j1', 'j2']) store.insert({ id, name: null, workload: 'test', config: {}, mesh: { data: 2, model: 2 }, submittedAt: 1 });
    store.close();
    const mesh = Mesh.fromAxes({ data: 2, model: 2 });
    const matmul = gspmdJit((x: Tensor, w: Tensor) => jnp.matmul(x, w), { mesh, inShardings: [P('data', 'model'), P('model', null)], name: 'matmul' });
    const compiled = matmul.compile({ shape: [4, 6], dtype: 'f32' }, { shape: [6, 3], dtype: 'f32' });
    await writeProgramDumps(jobDirOf(dataDir, 'j1'), 'matmul', compiled, mesh.devices);
    await writeProgramDumps(jobDirOf(dataDir, 'j1'), 'matmul-2', compiled, [0, 1]);
  });

  const run = async (...argv: string[]): Promise<number> => {
    out = [];
    err = [];
    vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
    return main(['program', ...argv, '--data-dir', dataDir]);
  };
  afterEach(() => vi.restoreAllMocks());
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints one core of a named program: local shapes, shardings and collectives', async () => {
    expect(await run('j1', '--name', 'matmul', '--core', '3')).toBe(0);
    const text = out.join('\n');
    expect(text).toContain('// core 3: data=1, model=1');
    expect(text).toContain('f32[2,3]'); // x's shard of [4,6]
    expect(text).toContain('global=f32[4,6]');
    expect(text).toMatch(/psum.*model/);
  });

  it('lists the programs, and asks for a name when there are several', async () => {
    expect(await run('j1', '--list')).toBe(0);
    expect(out.join('\n')).toBe('matmul\tcores 0,1,2,3\nmatmul-2\tcores 0,1');
    expect(await run('j1')).toBe(1);
    expect(err.join('\n')).toContain("the job compiled 2 programs ('matmul', 'matmul-2'); pick one by name");
    expect(await run('j1', '--name', 'matmul-2', '--core', '3')).toBe(1);
    expect(err.join('\n')).toContain("program 'matmul-2' has no dump for core 3; its cores are 0, 1");
  });

  it('names what is missing: the job, or any program', async () => {
    expect(await run('nope')).toBe(1);
    expect(err.join('\n')).toContain('no job "nope" in the job store');
    expect(await run('j2')).toBe(1);
    expect(err.join('\n')).toContain('the job has compiled no sharded program');
    expect(await run('j1', '--core', 'x')).toBe(2);
  });

  it('has --help', async () => {
    expect(await run('--help')).toBe(0);
    expect(out.join('\n')).toContain('usage: tpusim program <job id> [--core N] [--name NAME]');
  });
});
