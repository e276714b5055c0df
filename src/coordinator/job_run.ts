/**
 * One job on the pod's actors: its mesh, its collectives control block, its device arrays,
 * and every call it makes on the cores.
 *
 * Failure model. A job fails once, with its first root cause, and stays failed:
 * - an actor of the mesh is lost (crash or hang): the supervisor calls actorLost(), which
 *   marks the core dead in the control block so the surviving cores' collectives fail at
 *   once (peer-dead) instead of at their deadline; the job's error is ActorLostError;
 * - a task fails on a core (its device function threw): that core is marked dead in this
 *   job's control block too, for the same reason, and the job's error is that core's.
 * The secondary CollectiveErrors of the other cores are never the reported reason.
 */
import { markCoreDead, createControlBlock } from '../collectives/control.js';
import type { Interconnect } from '../collectives/interconnect.js';
import type { DeviceMesh } from '../collectives/mesh.js';
import { itemsize, typedArrayView } from '../tpu/dtype.js';
import { type AbstractValue, type TensorView, hostTensor, sizeOf } from '../tpu/tensor.js';
import type { Program } from '../program/ir.js';
import { Tensor, trace } from '../program/tracer.js';
import { jit as gspmdJit } from '../gspmd/api.js';
import { Mesh } from '../gspmd/mesh.js';
import type { CompiledSpmd } from '../gspmd/partitioner/compile.js';
import { shardMap as gspmdShardMap } from '../gspmd/shard_map.js';
import { NamedSharding, PartitionSpec as GspmdPartitionSpec } from '../gspmd/sharding.js';
import type { AllocReply, ArrayPlacement, ExecReply } from '../worker/protocol.js';
import { type Actor, ActorLostError, CoreTaskError } from './actor.js';
import type {
  CoreResult,
  DeviceArray,
  DeviceFunctionRef,
  JitOptions,
  JittedOnMesh,
  RunOnCoresOptions,
  RunOnCoresResult,
} from './plugin.js';
import {
  type PartitionSpec,
  type SpecLike,
  ShardingError,
  blockOf,
  extractBlock,
  formatSpec,
  globalShape,
  insertBlock,
  localShape,
  specOfHloSharding,
  toPartitionSpec,
} from './sharding.js';

/** Told once per input signature when a sharded jit is partitioned (the job context records its per-core dump). */
export type OnCompiled = (name: string, compiled: CompiledSpmd) => Promise<void>;

interface ArrayRecord {
  readonly array: DeviceArray;
  /** Byte offset of each core's shard in its arena. */
  readonly offsets: ReadonlyMap<number, number>;
  /** The actor generation of each core when the shard was placed. */
  readonly generations: ReadonlyMap<number, number>;
}

function asList(out: Tensor | readonly Tensor[]): readonly Tensor[] {
  return out instanceof Tensor ? [out] : out;
}

function signature(avals: readonly { shape: readonly number[]; dtype: string }[]): string {
  return avals.map((v) => `${v.dtype}[${v.shape.join(',')}]`).join(';');
}

/** Whether two specs split a rank-`rank` array the same way (missing entries are None). */
function sameSpec(a: PartitionSpec, b: PartitionSpec, rank: number): boolean {
  const axes = (e: PartitionSpec[number] | undefined): string => (e === null || e === undefined ? '' : typeof e === 'string' ? e : e.join(','));
  for (let d = 0; d < Math.max(rank, a.length, b.length); d++) if (axes(a[d]) !== axes(b[d])) return false;
  return true;
}

export class JobRun {
  readonly control: SharedArrayBuffer;
  /** Latest simulated clock any core reached in this job (cores start the job at 0). */
  maxClock = 0;
  private failure: Error | undefined;
  private readonly arrays = new Map<string, ArrayRecord>();
  private nextId = 0;

  constructor(
    readonly id: string,
    readonly mesh: DeviceMesh,
    private readonly actors: readonly Actor[],
    private readonly interconnect: Interconnect,
    /** Deadline of one task on one core. */
    private readonly taskTimeoutMs: number,
  ) {
    this.control = createControlBlock(actors.length, mesh.axisNames.length);
  }

  /** The job's failure, if any (the first root cause). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Opens the job on every core of the mesh. */
  async open(): Promise<void> {
    const buffers = this.actors.map((a) => a.arena);
    await this.onAll((a) =>
      a.run(
        {
          type: 'open-job',
          jobId: this.id,
          mesh: this.mesh,
          interconnect: this.interconnect,
          control: this.control,
          buffers,
          collectiveTimeoutMs: this.taskTimeoutMs,
        },
        this.taskTimeoutMs,
      ),
    );
  }

  /** Closes the job on the cores still alive (best effort: the job is over either way). */
  async close(): Promise<void> {
    await Promise.allSettled(
      this.mesh.devices.map((c) => {
        const a = this.actors[c]!;
        return a.isAlive ? a.run({ type: 'close-job', jobId: this.id }, this.taskTimeoutMs) : Promise.resolve(null);
      }),
    );
  }

  /** The supervisor's report that `coreId`'s actor died. */
  actorLost(coreId: number, reason: string): void {
    if (!this.mesh.devices.includes(coreId)) return;
    markCoreDead(this.control, coreId);
    this.fail(new ActorLostError(coreId, `${reason} (during job ${this.id})`));
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  // ---- device arrays ---------------------------------------------------------------------

  async put(value: TensorView, specLike: SpecLike = [], name = 'array'): Promise<DeviceArray> {
    this.throwIfFailed();
    const spec = toPartitionSpec(specLike, this.mesh);
    if (value.data.length !== sizeOf(value.shape)) {
      throw new ShardingError(`put(${name}): data holds ${value.data.length} elements for shape [${value.shape.join(',')}]`);
    }
    const local = localShape(spec, this.mesh, value.shape);
    const id = this.newId(name);
    const replies = (await this.onAll((a) =>
      a.run({ type: 'alloc', jobId: this.id, arrays: [{ id, dtype: value.dtype, shape: local }] }, this.taskTimeoutMs),
    )) as AllocReply[];
    const offsets = new Map<number, number>();
    const generations = new Map<number, number>();
    this.mesh.devices.forEach((c, i) => {
      const actor = this.actors[c]!;
      const offset = replies[i]!.placements[0]!.offset;
      offsets.set(c, offset);
      generations.set(c, actor.generation);
      const dst = typedArrayView(value.dtype, actor.arena, offset, sizeOf(local));
      extractBlock(value, blockOf(spec, this.mesh, value.shape, c), dst);
    });
    const array: DeviceArray = { id, dtype: value.dtype, shape: [...value.shape], localShape: local, spec: [...spec] };
    this.arrays.set(id, { array, offsets, generations });
    return array;
  }

  async get(array: DeviceArray): Promise<TensorView> {
    const rec = this.record(array);
    const out = hostTensor(array.dtype, array.shape);
    const done = new Set<string>();
    for (const c of this.mesh.devices) {
      const block = blockOf(array.spec, this.mesh, array.shape, c);
      const key = block.start.join(',');
      if (done.has(key)) continue; // a replica of a block already copied
      done.add(key);
      insertBlock(out, block, this.shardView(rec, c).data);
    }
    return out;
  }

  async getShard(array: DeviceArray, coreId: number): Promise<TensorView> {
    const rec = this.record(array);
    if (!rec.offsets.has(coreId)) throw new ShardingError(`getShard(${array.id}): core ${coreId} is not in the job's mesh`);
    const view = this.shardView(rec, coreId);
    const out = hostTensor(array.dtype, array.localShape);
    out.data.set(view.data);
    return out;
  }

  async free(array: DeviceArray): Promise<void> {
    this.record(array);
    this.arrays.delete(array.id);
    await this.onAll((a) => a.run({ type: 'free', jobId: this.id, ids: [array.id] }, this.taskTimeoutMs));
  }

  // ---- execution -------------------------------------------------------------------------

  async runOnCores<R>(fn: DeviceFunctionRef, args: unknown, opts: RunOnCoresOptions = {}): Promise<RunOnCoresResult<R>> {
    this.throwIfFailed();
    const specs = opts.outputs ?? {};
    const ids: Record<string, string> = {};
    for (const name of Object.keys(specs)) ids[name] = this.newId(name);
    const replies = (await this.onAll((a) =>
      a.run({ type: 'call', jobId: this.id, fn, args, outputs: ids }, this.taskTimeoutMs),
    )) as ExecReply[];
    const outputs: Record<string, DeviceArray> = {};
    for (const [name, spec] of Object.entries(specs)) outputs[name] = this.adopt(ids[name]!, name, spec, replies);
    return { ...this.timing<R>(replies), outputs };
  }

  jit(fn: (...args: Tensor[]) => Tensor | readonly Tensor[], opts: JitOptions = {}, onCompiled?: OnCompiled): JittedOnMesh {
    const label = opts.name ?? (fn.name || 'jit');
    if (opts.inShardings || opts.outShardings) return this.shardedJit(fn, opts, label, onCompiled);
    const cache = new Map<string, Program>();
    return async (...args: DeviceArray[]): Promise<DeviceArray[]> => {
      this.throwIfFailed();
      args.forEach((a) => this.record(a));
      const avals: AbstractValue[] = args.map((a) => ({ shape: [...a.localShape], dtype: a.dtype }));
      const key = signature(avals);
      let program = cache.get(key);
      if (!program) {
        const traced = trace((...xs: Tensor[]) => asList(fn(...xs)), avals);
        if (traced.captured.length > 0) {
          throw new Error(`jit(${label}): the function closes over ${traced.captured.length} traced tensor(s); pass them as arguments`);
        }
        program = traced.program;
        cache.set(key, program);
      }
      return this.runProgram(program, args, program.outputs.map((_, i) => opts.outSpecs?.[i] ?? []), label);
    };
  }

  /**
   * JAX's jit with in/out shardings: `fn` is traced on the global shapes, shardings are
   * propagated and the program is partitioned over the job's mesh (src/gspmd), once per
   * input signature; every core then runs the partitioned program on its shards, with its
   * collectives moving data between the actors. An argument's sharding is the one it was
   * put with; an inShardings entry, when given, must match it (there is no implicit
   * resharding). Outputs are laid out by the partitioner's output shardings.
   */
  private shardedJit(fn: (...args: Tensor[]) => Tensor | readonly Tensor[], opts: JitOptions, label: string, onCompiled?: OnCompiled): JittedOnMesh {
    const mesh = Mesh.fromDeviceMesh(this.mesh);
    const named = (s: PartitionSpec): NamedSharding => new NamedSharding(mesh, new GspmdPartitionSpec(...s));
    const outShardings = opts.outShardings?.map((s) => (s === null || s === undefined ? null : named(toPartitionSpec(s, this.mesh))));
    const cache = new Map<string, { compiled: CompiledSpmd; outSpecs: PartitionSpec[] }>();
    return async (...args: DeviceArray[]): Promise<DeviceArray[]> => {
      this.throwIfFailed();
      args.forEach((a) => this.record(a));
      if (opts.inShardings && opts.inShardings.length !== args.length) {
        throw new ShardingError(`jit(${label}): ${args.length} arguments for ${opts.inShardings.length} inShardings`);
      }
      args.forEach((a, i) => {
        const want = opts.inShardings?.[i];
        if (want === null || want === undefined) return;
        const spec = toPartitionSpec(want, this.mesh);
        if (!sameSpec(a.spec, spec, a.shape.length)) {
          throw new ShardingError(
            `jit(${label}): argument ${i} is sharded PartitionSpec(${formatSpec(a.spec)}), inShardings[${i}] is PartitionSpec(${formatSpec(spec)}); put it with that spec`,
          );
        }
      });
      const key = `${signature(args)}|${args.map((a) => formatSpec(a.spec)).join(';')}`;
      let entry = cache.get(key);
      if (!entry) {
        const compiled = gspmdJit(fn, {
          mesh,
          inShardings: args.map((a) => named(a.spec)),
          ...(outShardings ? { outShardings } : {}),
          name: label,
        }).compile(...args.map((a) => ({ shape: [...a.shape], dtype: a.dtype })));
        const p = compiled.partitioned;
        const outSpecs = p.outShardings.map((h, i) => {
          const spec = specOfHloSharding(h, this.mesh, p.globalOutAvals[i]!.shape.length);
          if (!spec) throw new ShardingError(`jit(${label}): output ${i} got sharding ${h.toString()}, which no PartitionSpec over the mesh gives; pass outShardings`);
          return spec;
        });
        p.program.inputs.forEach((v, i) => {
          if (v.aval.shape.join(',') !== args[i]!.localShape.join(',')) {
            throw new ShardingError(`jit(${label}): the partitioned program takes [${v.aval.shape.join(',')}] shards for argument ${i}, its arrays hold [${args[i]!.localShape.join(',')}]`);
          }
        });
        entry = { compiled, outSpecs };
        cache.set(key, entry);
        if (onCompiled) await onCompiled(label, compiled);
      }
      const { compiled, outSpecs } = entry;
      return this.runProgram(compiled.partitioned.program, args, outSpecs, label, compiled.partitioned.globalOutAvals.map((v) => v.shape));
    };
  }

  shardMap(
    fn: (...args: Tensor[]) => Tensor | readonly Tensor[],
    inSpecs: readonly PartitionSpec[],
    outSpecs: readonly PartitionSpec[],
    name = fn.name || 'shard_map',
  ): JittedOnMesh {
    const mapped = gspmdShardMap(
      (...xs: Tensor[]) => asList(fn(...xs)),
      this.mesh,
      inSpecs.map((s) => new GspmdPartitionSpec(...s)),
      outSpecs.map((s) => new GspmdPartitionSpec(...s)),
    );
    const cache = new Map<string, Program>();
    return async (...args: DeviceArray[]): Promise<DeviceArray[]> => {
      this.throwIfFailed();
      if (args.length !== inSpecs.length) throw new ShardingError(`shard_map(${name}): ${args.length} arguments for ${inSpecs.length} in_specs`);
      args.forEach((a, i) => {
        this.record(a);
        if (!sameSpec(a.spec, inSpecs[i]!, a.shape.length)) {
          throw new ShardingError(
            `shard_map(${name}): argument ${i} is sharded PartitionSpec(${formatSpec(a.spec)}), in_specs[${i}] is PartitionSpec(${formatSpec(inSpecs[i]!)}); put it with that spec`,
          );
        }
      });
      const key = signature(args);
      let program = cache.get(key);
      if (!program) {
        program = mapped.lower(...args.map((a) => ({ shape: [...a.shape], dtype: a.dtype }))).program;
        cache.set(key, program);
      }
      return this.runProgram(program, args, outSpecs, name);
    };
  }

  /**
   * Runs a per-core program on every core; its outputs become arrays laid out by `outSpecs`,
   * of `outShapes` when known (an uneven output's global shape does not follow from its shards).
   */
  private async runProgram(
    program: Program,
    args: readonly DeviceArray[],
    outSpecs: readonly PartitionSpec[],
    label: string,
    outShapes?: readonly (readonly number[])[],
  ): Promise<DeviceArray[]> {
    const outIds = program.outputs.map((_, i) => this.newId(`${label}.out${i}`));
    const replies = (await this.onAll((a) =>
      a.run({ type: 'program', jobId: this.id, program, inputs: args.map((x) => x.id), outputs: outIds }, this.taskTimeoutMs),
    )) as ExecReply[];
    this.timing(replies);
    return outIds.map((id, i) => this.adopt(id, String(i), outSpecs[i] ?? [], replies, outShapes?.[i]));
  }

  // ---- internals -------------------------------------------------------------------------

  private newId(name: string): string {
    return `${name}#${this.nextId++}`;
  }

  private fail(e: Error): void {
    this.failure ??= e;
  }

  /**
   * Runs `task` on every core of the mesh and waits for all of them. A core whose task
   * fails is marked dead in this job's control block at once, so its peers do not wait for
   * it; then the job's first root cause is thrown.
   */
  private async onAll(task: (a: Actor) => Promise<unknown>): Promise<unknown[]> {
    this.throwIfFailed();
    const settled = await Promise.allSettled(
      this.mesh.devices.map((c) =>
        task(this.actors[c]!).catch((e: unknown) => {
          markCoreDead(this.control, c);
          const err = e instanceof Error ? e : new Error(String(e));
          // A collective failure is a symptom of another core's failure; keep looking for the cause.
          if (!(err instanceof CoreTaskError && err.causeName === 'CollectiveError')) this.fail(err);
          throw err;
        }),
      ),
    );
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (this.failure) throw this.failure;
    if (rejected) {
      this.fail(rejected.reason as Error);
      throw rejected.reason;
    }
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  }

  private timing<R>(replies: readonly ExecReply[]): Omit<RunOnCoresResult<R>, 'outputs'> {
    let start = Infinity;
    let end = 0;
    const cores: CoreResult<R>[] = replies.map((r, i) => {
      start = Math.min(start, r.start);
      end = Math.max(end, r.end);
      return {
        coreId: this.mesh.devices[i]!,
        value: r.value as R,
        startSeconds: r.start,
        endSeconds: r.end,
        usefulFlops: r.usefulFlops,
        mxuFlops: r.mxuFlops,
        collectiveSeconds: r.collectiveSeconds,
      };
    });
    this.maxClock = Math.max(this.maxClock, end);
    return { cores, simulatedSeconds: replies.length > 0 ? end - start : 0 };
  }

  /** Registers the per-core outputs `name` of a call as one array laid out by `spec`. */
  private adopt(id: string, name: string, spec: PartitionSpec, replies: readonly ExecReply[], global?: readonly number[]): DeviceArray {
    const placements: ArrayPlacement[] = replies.map((r, i) => {
      const p = r.outputs.find((o) => o.id === id);
      if (!p) throw new Error(`output '${name}': core ${this.mesh.devices[i]} did not return it`);
      return p;
    });
    const first = placements[0]!;
    placements.forEach((p, i) => {
      if (p.dtype !== first.dtype || p.shape.join(',') !== first.shape.join(',')) {
        throw new ShardingError(
          `output '${name}': core ${this.mesh.devices[i]} made ${p.dtype}[${p.shape.join(',')}] but core ${this.mesh.devices[0]} made ${first.dtype}[${first.shape.join(',')}]`,
        );
      }
    });
    let shape: number[];
    try {
      shape = global ? [...global] : globalShape(spec, this.mesh, first.shape);
      const local = localShape(spec, this.mesh, shape);
      if (local.join(',') !== first.shape.join(',')) throw new ShardingError(`shards of [${local.join(',')}] make [${shape.join(',')}], the cores made [${first.shape.join(',')}]`);
    } catch (e) {
      throw new ShardingError(`output '${name}' with PartitionSpec(${formatSpec(spec)}): ${(e as Error).message}`);
    }
    const offsets = new Map<number, number>();
    const generations = new Map<number, number>();
    this.mesh.devices.forEach((c, i) => {
      offsets.set(c, placements[i]!.offset);
      generations.set(c, this.actors[c]!.generation);
    });
    const array: DeviceArray = { id, dtype: first.dtype, shape, localShape: [...first.shape], spec: [...spec] };
    this.arrays.set(id, { array, offsets, generations });
    return array;
  }

  private record(array: DeviceArray): ArrayRecord {
    const rec = this.arrays.get(array.id);
    if (!rec) throw new ShardingError(`array ${array.id} does not belong to job ${this.id} or was freed`);
    return rec;
  }

  /** A view of `coreId`'s shard in its arena; throws if the core restarted since (its arena is new). */
  private shardView(rec: ArrayRecord, coreId: number): TensorView {
    this.throwIfFailed();
    const actor = this.actors[coreId]!;
    if (actor.generation !== rec.generations.get(coreId)) {
      throw new ActorLostError(coreId, `its arena was replaced by a restart; array ${rec.array.id} is gone`);
    }
    const n = sizeOf(rec.array.localShape);
    const offset = rec.offsets.get(coreId)!;
    if (offset + n * itemsize(rec.array.dtype) > actor.arena.byteLength) throw new Error(`array ${rec.array.id}: shard outside core ${coreId}'s arena`);
    return { dtype: rec.array.dtype, shape: [...rec.array.localShape], data: typedArrayView(rec.array.dtype, actor.arena, offset, n) };
  }
}
