/**
 * The JobContext a workload's run() is handed: the job's identity, mesh and pod, its
 * cancellation, progress and log streams, checkpoints in its data dir, and the device side
 * (arrays and execution) of its JobRun.
 *
 * A sharded jit's partitioned program is recorded per core in the data dir when it is
 * compiled (programs.ts), and a log line names where.
 *
 * Checkpoints are msgpack (msgpackr with moreTypes, so typed arrays come back typed),
 * written to a temporary file and renamed, so a crash mid-write leaves the last good one.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { DeviceMesh } from '../collectives/mesh.js';
import type { TensorView } from '../tpu/tensor.js';
import type { Tensor } from '../program/tracer.js';
import type { CompiledSpmd } from '../gspmd/partitioner/compile.js';
import { isCollectiveEquation } from '../program/ir.js';
import type { JobRun } from './job_run.js';
import { PROGRAMS_DIR, programFileStem, writeProgramDumps } from './programs.js';
import {
  type DeviceArray,
  type DeviceFunctionRef,
  type JitOptions,
  type JittedOnMesh,
  type JobContext,
  JobCancelledError,
  type PodInfo,
  type RunOnCoresOptions,
  type RunOnCoresResult,
} from './plugin.js';
import type { PartitionSpec, SpecLike } from './sharding.js';

export const CHECKPOINT_FILE = 'checkpoint.msgpack';

const packr = new Packr({ moreTypes: true });

export interface JobHooks {
  readonly signal: AbortSignal;
  onProgress(step: number, total: number, metrics: Record<string, number>): void;
  onLog(line: string): void;
  readonly jobDir: string;
}

export class PodJobContext implements JobContext {
  readonly jobId: string;
  readonly mesh: DeviceMesh;
  readonly signal: AbortSignal;
  /** File names of the programs recorded so far (a name compiled twice, e.g. for new shapes, gets a suffix). */
  private readonly programNames = new Set<string>();

  constructor(
    private readonly run: JobRun,
    readonly pod: PodInfo,
    private readonly hooks: JobHooks,
  ) {
    this.jobId = run.id;
    this.mesh = run.mesh;
    this.signal = hooks.signal;
  }

  throwIfCancelled(): void {
    this.run.throwIfFailed();
    if (this.signal.aborted) throw new JobCancelledError(this.jobId);
  }

  progress(step: number, total: number, metrics: Record<string, number> = {}): void {
    this.hooks.onProgress(step, total, metrics);
  }

  log(line: string): void {
    this.hooks.onLog(line);
  }

  async checkpoint(state: unknown): Promise<void> {
    await mkdir(this.hooks.jobDir, { recursive: true });
    const path = join(this.hooks.jobDir, CHECKPOINT_FILE);
    const tmp = `${path}.tmp`;
    await writeFile(tmp, packr.pack(state));
    await rename(tmp, path);
  }

  async restore(): Promise<unknown | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.hooks.jobDir, CHECKPOINT_FILE));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return packr.unpack(bytes);
  }

  put(value: TensorView, spec?: SpecLike, name?: string): Promise<DeviceArray> {
    return this.run.put(value, spec, name);
  }

  get(array: DeviceArray): Promise<TensorView> {
    return this.run.get(array);
  }

  getShard(array: DeviceArray, coreId: number): Promise<TensorView> {
    return this.run.getShard(array, coreId);
  }

  free(array: DeviceArray): Promise<void> {
    return this.run.free(array);
  }

  runOnCores<R = unknown>(fn: DeviceFunctionRef, args?: unknown, opts?: RunOnCoresOptions): Promise<RunOnCoresResult<R>> {
    return this.run.runOnCores<R>(fn, args ?? null, opts);
  }

  jit(fn: (...args: Tensor[]) => Tensor | readonly Tensor[], opts?: JitOptions): JittedOnMesh {
    return this.run.jit(fn, opts, (name, compiled) => this.recordProgram(name, compiled));
  }

  shardMap(fn: (...args: Tensor[]) => Tensor | readonly Tensor[], inSpecs: readonly PartitionSpec[], outSpecs: readonly PartitionSpec[]): JittedOnMesh {
    return this.run.shardMap(fn, inSpecs, outSpecs);
  }

  /** Writes each core's dump of a freshly partitioned program to the data dir and logs where. */
  private async recordProgram(label: string, compiled: CompiledSpmd): Promise<void> {
    const stem = programFileStem(label);
    let name = stem;
    for (let i = 2; this.programNames.has(name); i++) name = `${stem}-${i}`;
    this.programNames.add(name);
    await writeProgramDumps(this.hooks.jobDir, name, compiled, this.mesh.devices);
    const p = compiled.partitioned;
    const collectives = p.program.equations.filter((eq) => isCollectiveEquation(eq) && eq.op !== 'axis_index').length;
    const meshText = this.mesh.axisNames.map((a, i) => `${a}=${this.mesh.shape[i]}`).join(', ');
    this.log(
      `compiled ${name} over mesh (${meshText}): ${p.program.equations.length} ops per core, ${collectives} collectives; ` +
        `per-core programs in ${PROGRAMS_DIR}/${name}.core<N>.txt (tpusim program ${this.jobId} --name ${name} --core N)`,
    );
  }
}
