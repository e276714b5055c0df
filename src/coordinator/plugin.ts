/**
 * The workload plugin interface. The coordinator knows workloads only through it (DESIGN.md),
 * and a workload sees the pod only through the JobContext it is handed.
 *
 * A plugin's `run(ctx, config)` runs on the coordinator's thread. Per-core work runs on the
 * actors in one of two forms, both plain data so they can cross to a worker thread:
 * - a device function: an exported function of a compiled module, `(dev, args) => result`,
 *   run on every core of the mesh at once with its TensorCore, its shards and a communicator
 *   for collectives between cores (manual SPMD, as the body of a JAX shard_map);
 * - a traced program: ctx.jit (a function of Tensors traced on per-core shapes, the same
 *   Program run on every core; with in/out shardings, traced on global shapes and
 *   partitioned by GSPMD) or ctx.shardMap (JAX's shard_map: collectives inside).
 * Device arrays are put and fetched through the cores' shared arenas, never posted.
 */
import type { z } from 'zod';
import type { DeviceMesh } from '../collectives/mesh.js';
import type { DType } from '../tpu/dtype.js';
import type { TensorView } from '../tpu/tensor.js';
import type { Tensor } from '../program/tracer.js';
import type { DeviceFunctionRef } from '../worker/protocol.js';
import type { PartitionSpec, SpecLike } from './sharding.js';

export type { PartitionSpec, SpecLike } from './sharding.js';
export type { DeviceFunctionRef } from '../worker/protocol.js';
export type { DeviceContext, DeviceFunction } from '../worker/device_context.js';

/** One core of the pod: where it sits in the torus. */
export interface PodCoreInfo {
  readonly id: number;
  readonly chipIndex: number;
  readonly chipCoords: readonly number[];
  readonly coreOnChip: number;
}

export interface PodInfo {
  /** The topology name, normalised (`v4-8`). */
  readonly topology: string;
  /** The chip generation (`v4`). */
  readonly chip: string;
  /** Chip grid of the torus. */
  readonly dims: readonly number[];
  readonly numCores: number;
  readonly cores: readonly PodCoreInfo[];
  /** The mesh jobs get when they name none, e.g. { data: 8 }. */
  readonly defaultMesh: Readonly<Record<string, number>>;
  /** Bytes of each core's HBM arena (a real SharedArrayBuffer). */
  readonly hbmBytesPerCore: number;
  /** Peak dense FLOP/s of one TensorCore (the chip table's bf16 peak per core). */
  readonly peakFlopsPerCore: number;
}


/** A sharded array living in the cores' arenas (the handle is coordinator-side). */
export interface DeviceArray {
  readonly id: string;
  readonly dtype: DType;
  /** Global (logical) shape. */
  readonly shape: readonly number[];
  /** Per-core (local shard) shape. */
  readonly localShape: readonly number[];
  readonly spec: PartitionSpec;
}

/** One core's answer to a device function call. */
export interface CoreResult<R = unknown> {
  readonly coreId: number;
  readonly value: R;
  /** The core's simulated clock before and after the call, seconds. */
  readonly startSeconds: number;
  readonly endSeconds: number;
  /** What the call added to the core's counters. */
  readonly usefulFlops: number;
  readonly mxuFlops: number;
  readonly collectiveSeconds: number;
}

export interface RunOnCoresOptions {
  /** Outputs the function keeps (dev.output(name, t)), with how the cores' pieces form the array. */
  readonly outputs?: Readonly<Record<string, PartitionSpec>>;
}

export interface RunOnCoresResult<R = unknown> {
  /** One entry per mesh device, in mesh order. */
  readonly cores: readonly CoreResult<R>[];
  readonly outputs: Readonly<Record<string, DeviceArray>>;
  /** Simulated seconds the call took on the pod: latest end minus earliest start. */
  readonly simulatedSeconds: number;
}

export interface JitOptions {
  /** Without in/out shardings: how each output's per-core values form a global array (default: replicated). */
  readonly outSpecs?: readonly PartitionSpec[];
  /**
   * JAX's in_shardings. Given (or outShardings given), the function is traced on global
   * shapes and partitioned by GSPMD over the job's mesh. An entry must match how its
   * argument was put; null or a missing list takes the argument's own sharding.
   */
  readonly inShardings?: readonly (SpecLike | null | undefined)[];
  /** JAX's out_shardings; null entries (or none) are left to sharding propagation. */
  readonly outShardings?: readonly (SpecLike | null | undefined)[];
  /** The program's name in logs and dumps (default: the function's name). */
  readonly name?: string;
}

/** A per-core program, traced once per input signature, run on every core of the mesh. */
export type JittedOnMesh = (...args: DeviceArray[]) => Promise<DeviceArray[]>;

export interface JobContext {
  readonly jobId: string;
  readonly mesh: DeviceMesh;
  readonly pod: PodInfo;
  /** Aborted when the job is cancelled; stop at the next step boundary. */
  readonly signal: AbortSignal;
  /** Throws JobCancelledError once the job is cancelled. */
  throwIfCancelled(): void;
  progress(step: number, total: number, metrics?: Record<string, number>): void;
  log(line: string): void;
  /** Saves `state` (msgpack, typed arrays kept typed) in the job's data dir, atomically. */
  checkpoint(state: unknown): Promise<void>;
  /** The last checkpoint of this job, or undefined. */
  restore(): Promise<unknown | undefined>;

  /**
   * Splits a host tensor over the mesh by `spec` (JAX PartitionSpec: one entry per dim) into
   * the cores' arenas, laid out as the SPMD partitioner lays shards out (an uneven dim's
   * last shards are padded with zeros).
   */
  put(value: TensorView, spec?: SpecLike, name?: string): Promise<DeviceArray>;
  /** Gathers a device array back into one host tensor. */
  get(array: DeviceArray): Promise<TensorView>;
  /** One core's shard of an array, read from its arena. */
  getShard(array: DeviceArray, coreId: number): Promise<TensorView>;
  /** Frees an array on every core. */
  free(array: DeviceArray): Promise<void>;
  /** Runs a device function on every core of the mesh at once; rejects if any core fails. */
  runOnCores<R = unknown>(fn: DeviceFunctionRef, args?: unknown, opts?: RunOnCoresOptions): Promise<RunOnCoresResult<R>>;
  /**
   * Without shardings: traces `fn` on per-core (local) shapes and runs the program on every
   * core. With inShardings/outShardings: JAX's sharded jit, traced on global shapes,
   * partitioned by GSPMD, and run on every core with its collectives; each partitioned
   * program's per-core dump is recorded in the job's data dir (`tpusim program <job>`).
   */
  jit(fn: (...args: Tensor[]) => Tensor | readonly Tensor[], opts?: JitOptions): JittedOnMesh;
  /**
   * JAX's shard_map over the job's mesh: `fn` is traced on per-shard shapes with the mesh
   * axes bound, so the collectives of src/gspmd/lax_parallel.ts (psum, allGather,
   * psumScatter, allToAll, ppermute, axisIndex) work inside; every core runs the program
   * on its shards, its collectives moving data between the actors. Arguments must already
   * be sharded by `inSpecs`; outputs are laid out by `outSpecs`.
   */
  shardMap(fn: (...args: Tensor[]) => Tensor | readonly Tensor[], inSpecs: readonly PartitionSpec[], outSpecs: readonly PartitionSpec[]): JittedOnMesh;
}

export interface WorkloadPlugin<C = any, R = any> {
  readonly name: string;
  readonly description: string;
  /** zod 4; every field has a default, so {} is a valid config. */
  readonly configSchema: z.ZodType<C>;
  /** What the job needs, for admission. */
  resources?(config: C, pod: PodInfo): { cores: number; hbmBytesPerCore: number };
  /** The mesh the job runs on when the submitter names none (default: the pod's default mesh). */
  mesh?(config: C, pod: PodInfo): Readonly<Record<string, number>>;
  /** R: a plain msgpack-able result object. */
  run(ctx: JobContext, config: C): Promise<R>;
}

export type WorkloadRegistry = ReadonlyMap<string, WorkloadPlugin>;

/** The job was cancelled (ctx.throwIfCancelled). */
export class JobCancelledError extends Error {
  override name = 'JobCancelledError';
  constructor(readonly jobId: string) {
    super(`job ${jobId} was cancelled`);
  }
}

/** A config that does not match the plugin's schema; the message names every bad field. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The job asks for more than the pod has. */
export class AdmissionError extends Error {
  override name = 'AdmissionError';
}

/** A registry from a list of plugins; throws on a repeated name. */
export function makeRegistry(plugins: readonly WorkloadPlugin[]): WorkloadRegistry {
  const m = new Map<string, WorkloadPlugin>();
  for (const p of plugins) {
    if (m.has(p.name)) throw new Error(`workload registry: two plugins are named '${p.name}'`);
    m.set(p.name, p);
  }
  return m;
}

/** Parses `config` with the plugin's schema; a ConfigError names each bad field (`config.m: ...`). */
export function parseConfig<C>(plugin: WorkloadPlugin<C>, config: unknown): C {
  const r = plugin.configSchema.safeParse(config ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `config${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`);
  throw new ConfigError(`${plugin.name}: invalid config: ${issues.join('; ')}`);
}
