/**
 * The actor's mailbox protocol: what the coordinator posts to a core's worker thread (as a
 * piscina task) and what comes back. Control only: tensor bytes never ride on a message,
 * they are copied through the arenas (SharedArrayBuffers) the coordinator created.
 */
import type { Interconnect } from '../collectives/interconnect.js';
import type { DeviceMesh } from '../collectives/mesh.js';
import type { DType } from '../tpu/dtype.js';
import type { KernelChoice } from '../tpu/core.js';
import type { Program } from '../program/ir.js';

/** What a core's thread is started with (piscina workerData). */
export interface ActorInit {
  readonly coreId: number;
  /** Topology name; the actor parses it for its chip and torus coordinates. */
  readonly topology: string;
  /** The core's HBM arena, created by the coordinator so it and the peers can read it. */
  readonly arena: SharedArrayBuffer;
  readonly hbmBytes: number;
  /** The core's counters (stats_block.ts). */
  readonly stats: SharedArrayBuffer;
  readonly kernels?: KernelChoice;
}

/** A module export run on every core: `module` is a file URL of compiled JavaScript. */
export interface DeviceFunctionRef {
  readonly module: string;
  readonly name: string;
}

/** Where a kept array lies in the core's arena. */
export interface ArrayPlacement {
  readonly id: string;
  readonly dtype: DType;
  /** Local (this core's shard) shape. */
  readonly shape: readonly number[];
  readonly offset: number;
}

export type ActorRequest =
  | { readonly type: 'hello' }
  | {
      readonly type: 'open-job';
      readonly jobId: string;
      readonly mesh: DeviceMesh;
      readonly interconnect: Interconnect;
      /** The job's collectives control block (src/collectives/control.ts). */
      readonly control: SharedArrayBuffer;
      /** Every core's arena, by core id. */
      readonly buffers: readonly SharedArrayBuffer[];
      readonly collectiveTimeoutMs: number;
    }
  | { readonly type: 'alloc'; readonly jobId: string; readonly arrays: readonly { id: string; dtype: DType; shape: readonly number[] }[] }
  | { readonly type: 'free'; readonly jobId: string; readonly ids: readonly string[] }
  | {
      readonly type: 'call';
      readonly jobId: string;
      readonly fn: DeviceFunctionRef;
      readonly args: unknown;
      /** Output name -> the array id to keep it under. */
      readonly outputs: Readonly<Record<string, string>>;
    }
  | { readonly type: 'program'; readonly jobId: string; readonly program: Program; readonly inputs: readonly string[]; readonly outputs: readonly string[] }
  | { readonly type: 'close-job'; readonly jobId: string };

export interface HelloReply {
  readonly coreId: number;
  readonly chipCoords: readonly number[];
  readonly coreOnChip: number;
  readonly threadId: number;
}

/** The outcome of a call or program on one core. */
export interface ExecReply {
  readonly value: unknown;
  readonly outputs: readonly (ArrayPlacement & { readonly name: string })[];
  /** Simulated clock before and after, seconds. */
  readonly start: number;
  readonly end: number;
  readonly usefulFlops: number;
  readonly mxuFlops: number;
  readonly collectiveSeconds: number;
}

export interface AllocReply {
  readonly placements: readonly ArrayPlacement[];
}
