/**
 * The partitioned programs of a job, kept in its data dir: when a job compiles a sharded
 * jit, each core's view of the SPMD program (local shapes, shardings, collectives; see
 * src/gspmd/partitioner/dump.ts) is written to `<jobDir>/programs/<name>.core<N>.txt`, so
 * `tpusim program <job>` can print what a core of a running or finished job runs.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CompiledSpmd } from '../gspmd/partitioner/compile.js';

export const PROGRAMS_DIR = 'programs';

const FILE = /^(.+)\.core(\d+)\.txt$/;

export class ProgramNotFoundError extends Error {
  override name = 'ProgramNotFoundError';
}

/** A name safe as a file name (letters, digits, `_`, `-`, `.`), as given when it already is. */
export function programFileStem(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\.+/, '_');
  return s.length > 0 ? s : 'program';
}

/** A job's data dir under the coordinator's: `<dataDir>/jobs/<id>` (as the job manager lays them out). */
export function jobDirOf(dataDir: string, jobId: string): string {
  return join(dataDir, 'jobs', jobId);
}

export function programPath(jobDir: string, name: string, core: number): string {
  return join(jobDir, PROGRAMS_DIR, `${name}.core${core}.txt`);
}

/** Writes one dump per core of `cores`; returns the directory they are in. */
export async function writeProgramDumps(jobDir: string, name: string, compiled: CompiledSpmd, cores: readonly number[]): Promise<string> {
  const dir = join(jobDir, PROGRAMS_DIR);
  await mkdir(dir, { recursive: true });
  await Promise.all(cores.map((c) => writeFile(programPath(jobDir, name, c), `${compiled.dump(c)}\n`)));
  return dir;
}

export interface ProgramListing {
  readonly name: string;
  /** Cores with a dump, ascending. */
  readonly cores: readonly number[];
}

/** The programs recorded for a job, by name (empty when it compiled none). */
export async function listPrograms(jobDir: string): Promise<ProgramListing[]> {
  let files: string[];
  try {
    files = await readdir(join(jobDir, PROGRAMS_DIR));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const byName = new Map<string, number[]>();
  for (const f of files) {
    const m = FILE.exec(f);
    if (!m) continue;
    const cores = byName.get(m[1]!) ?? [];
    cores.push(Number(m[2]));
    byName.set(m[1]!, cores);
  }
  return [...byName.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, cores]) => ({ name, cores: cores.sort((a, b) => a - b) }));
}

export interface ProgramDump {
  readonly name: string;
  readonly core: number;
  readonly text: string;
}

/**
 * One core's dump of one program of a job. `name` may be left out when the job compiled
 * one program; `core` defaults to the lowest core with a dump.
 */
export async function readProgram(jobDir: string, opts: { name?: string; core?: number } = {}): Promise<ProgramDump> {
  const programs = await listPrograms(jobDir);
  if (programs.length === 0) throw new ProgramNotFoundError('the job has compiled no sharded program (only ctx.jit with inShardings/outShardings records one)');
  let program: ProgramListing | undefined;
  if (opts.name !== undefined) {
    program = programs.find((p) => p.name === opts.name);
    if (!program) throw new ProgramNotFoundError(`the job has no program '${opts.name}'; it has ${programs.map((p) => `'${p.name}'`).join(', ')}`);
  } else {
    if (programs.length > 1) {
      throw new ProgramNotFoundError(`the job compiled ${programs.length} programs (${programs.map((p) => `'${p.name}'`).join(', ')}); pick one by name`);
    }
    program = programs[0]!;
  }
  const core = opts.core ?? program.cores[0]!;
  if (!program.cores.includes(core)) {
    throw new ProgramNotFoundError(`program '${program.name}' has no dump for core ${core}; its cores are ${program.cores.join(', ')}`);
  }
  const text = await readFile(programPath(jobDir, program.name, core), 'utf8');
  return { name: program.name, core, text };
}
