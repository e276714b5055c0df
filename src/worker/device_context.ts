/**
 * What a device function sees on its core: the TensorCore (kernels + simulated clock), the
 * job's arrays in this core's arena, and the collectives over the job's mesh (JAX names:
 * psum, all_gather, psum_scatter, all_to_all, ppermute, axis_index).
 *
 * Memory discipline, as a runtime frees a program's temporaries: everything allocated
 * through this context during one call (execute outputs, collective outputs, alloc) is
 * released when the call ends, unless it was kept with output(). Job arrays (array(id))
 * live until the coordinator frees them or the job closes.
 */
import type { Communicator } from '../collectives/communicator.js';
import type { AxisSpec, DeviceMesh } from '../collectives/mesh.js';
import { meshCoords } from '../collectives/mesh.js';
import type { DeviceTensor } from '../tpu/arena.js';
import type { TensorCore } from '../tpu/core.js';
import type { DType } from '../tpu/dtype.js';
import type { PrimitiveName, PrimitiveParams } from '../tpu/ops.js';
import type { TensorView } from '../tpu/tensor.js';
import type { CoreLocation } from '../tpu/topology.js';

/** A function run on every core: `(dev, args) => result` (result: structured-cloneable). */
export type DeviceFunction<A = unknown, R = unknown> = (dev: DeviceContext, args: A) => R | Promise<R>;

export class DeviceContext {
  readonly coreId: number;
  readonly location: CoreLocation;
  readonly mesh: DeviceMesh;
  /** This core's coordinates in the mesh, one per axis. */
  readonly meshCoords: readonly number[];
  readonly jobId: string;
  private readonly temporaries = new Set<DeviceTensor>();
  private readonly kept = new Map<string, DeviceTensor>();

  constructor(
    readonly core: TensorCore,
    readonly comm: Communicator,
    private readonly arrays: ReadonlyMap<string, DeviceTensor>,
    location: CoreLocation,
    jobId: string,
    /** Told when the core enters (true) and leaves (false) a collective. */
    private readonly onCollective: (inside: boolean) => void = () => undefined,
  ) {
    this.coreId = location.coreId;
    this.location = location;
    this.mesh = comm.mesh;
    this.meshCoords = meshCoords(comm.mesh, location.coreId);
    this.jobId = jobId;
  }

  /** This core's shard of a job array. */
  array(id: string): DeviceTensor {
    const t = this.arrays.get(id);
    if (!t) throw new Error(`core ${this.coreId}: no array '${id}' in job ${this.jobId}`);
    return t;
  }

  /** A temporary tensor in this core's arena (freed when the call ends). */
  alloc(dtype: DType, shape: readonly number[], label?: string): DeviceTensor {
    return this.track(this.core.arena.tensor(dtype, shape, label));
  }

  /** Runs one primitive on the core (priced); outputs are temporaries. */
  execute<N extends PrimitiveName>(op: N, params: PrimitiveParams[N], inputs: readonly TensorView[]): DeviceTensor[] {
    return this.core.execute(op, params, inputs).map((t) => this.track(t));
  }

  /** Releases a temporary before the call ends (to keep peak memory down in a loop). */
  release(t: DeviceTensor): void {
    if (!this.temporaries.delete(t)) throw new Error(`core ${this.coreId}: release of a tensor that is not a temporary of this call`);
    this.core.arena.release(t);
  }

  /** Keeps `t` as the call's output `name` (it becomes a job array). */
  output(name: string, t: DeviceTensor): void {
    if (!this.temporaries.delete(t)) throw new Error(`core ${this.coreId}: output '${name}' must be a temporary of this call`);
    if (this.kept.has(name)) throw new Error(`core ${this.coreId}: output '${name}' given twice`);
    this.kept.set(name, t);
  }

  axisIndex(axes: AxisSpec): number {
    return this.comm.axisIndex(axes);
  }

  axisSize(axes: AxisSpec): number {
    return this.comm.axisSize(axes);
  }

  /** jax.lax.psum over `axes`. */
  psum(x: TensorView, axes: AxisSpec): DeviceTensor {
    const out = this.alloc(x.dtype, x.shape, `psum ${x.dtype}[${x.shape.join(',')}]`);
    this.collective(() => this.comm.psum(x, out, axes));
    return out;
  }

  pmax(x: TensorView, axes: AxisSpec): DeviceTensor {
    const out = this.alloc(x.dtype, x.shape, 'pmax');
    this.collective(() => this.comm.pmax(x, out, axes));
    return out;
  }

  /** jax.lax.all_gather(x, axes, axis, tiled). */
  allGather(x: TensorView, axes: AxisSpec, params: { axis?: number; tiled?: boolean } = {}): DeviceTensor {
    const shape = this.comm.outputShape({ kind: 'all-gather', params: { axis: params.axis ?? 0, tiled: params.tiled ?? false } }, x.shape, x.dtype, axes);
    const out = this.alloc(x.dtype, shape, 'all_gather');
    this.collective(() => this.comm.allGather(x, out, axes, params));
    return out;
  }

  /** jax.lax.psum_scatter(x, axes, scatter_dimension, tiled). */
  psumScatter(x: TensorView, axes: AxisSpec, params: { scatterDimension?: number; tiled?: boolean } = {}): DeviceTensor {
    const q = { scatterDimension: params.scatterDimension ?? 0, tiled: params.tiled ?? false, op: 'sum' as const };
    const shape = this.comm.outputShape({ kind: 'reduce-scatter', params: q }, x.shape, x.dtype, axes);
    const out = this.alloc(x.dtype, shape, 'psum_scatter');
    this.collective(() => this.comm.psumScatter(x, out, axes, q));
    return out;
  }

  /** jax.lax.all_to_all(x, axes, split_axis, concat_axis, tiled). */
  allToAll(x: TensorView, axes: AxisSpec, params: { splitAxis: number; concatAxis: number; tiled?: boolean }): DeviceTensor {
    const q = { splitAxis: params.splitAxis, concatAxis: params.concatAxis, tiled: params.tiled ?? false };
    const shape = this.comm.outputShape({ kind: 'all-to-all', params: q }, x.shape, x.dtype, axes);
    const out = this.alloc(x.dtype, shape, 'all_to_all');
    this.collective(() => this.comm.allToAll(x, out, axes, q));
    return out;
  }

  /** jax.lax.ppermute(x, axes, perm). */
  ppermute(x: TensorView, axes: AxisSpec, perm: readonly (readonly [number, number])[]): DeviceTensor {
    const out = this.alloc(x.dtype, x.shape, 'ppermute');
    this.collective(() => this.comm.ppermute(x, out, axes, perm));
    return out;
  }

  barrier(axes: AxisSpec): void {
    this.collective(() => this.comm.barrier(axes));
  }

  /** Ends the call: frees the temporaries, returns the kept outputs. */
  finish(): Map<string, DeviceTensor> {
    for (const t of this.temporaries) this.core.arena.release(t);
    this.temporaries.clear();
    return this.kept;
  }

  /** Ends a failed call: frees everything it allocated, outputs included. */
  abandon(): void {
    this.finish();
    for (const t of this.kept.values()) this.core.arena.release(t);
    this.kept.clear();
  }

  private collective(f: () => unknown): void {
    this.onCollective(true);
    try {
      f();
    } finally {
      this.onCollective(false);
    }
  }

  private track(t: DeviceTensor): DeviceTensor {
    this.temporaries.add(t);
    return t;
  }
}
