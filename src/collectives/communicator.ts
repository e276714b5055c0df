/**
 * The communicator of one core: runs inside that core's worker thread and performs the
 * collectives of JAX (psum, all_gather, psum_scatter, all_to_all, ppermute) plus broadcast
 * and barrier over one mesh axis or several, moving real bytes between the cores' arenas.
 *
 * One call:
 * 1. plan (cached per signature): output shape, algorithm from topology and axes, schedule;
 * 2. publish a descriptor (signature, buffer offsets, arrival clock) and arrive;
 * 3. rendezvous: wait for every rank of the group to arrive; any signature that differs
 *    from ours is a mismatch, raised before a byte moves;
 * 4. run the schedule's steps, each after the waits syncPlans() derived, publishing
 *    progress after each step (Atomics.store + notify on the control block);
 * 5. wait for the peers that read our buffers, then return.
 * Every wait is Atomics.wait with a bounded slice, checking the dead flags the supervisor
 * sets, the peers' abort words and this call's deadline, so a lost peer is a
 * CollectiveError on every surviving core within the deadline, never a hang.
 *
 * Simulated time: the collective ends for every rank at the latest arrival plus its ICI
 * cost (cost.ts); the caller's clock is advanced by the difference (an optional hook).
 */
import { DTYPES, type DType, itemsize } from '../tpu/dtype.js';
import { type TensorView, sameShape, sizeOf } from '../tpu/tensor.js';
import {
  D_ARRIVAL,
  D_DTYPE,
  D_IN_COUNT,
  D_IN_OFFSET,
  D_OP,
  D_OUT_COUNT,
  D_OUT_OFFSET,
  D_SCRATCH_OFFSET,
  D_SIG,
  FAILURE_CODES,
  SLOT_ABORT,
  SLOT_CULPRIT,
  SLOT_FAILURE,
  SLOT_PROGRESS,
  controlLayout,
  deadIndex,
  descIndex,
  progressValue,
  reached,
  slotIndex,
} from './control.js';
import { CollectiveError, type CollectiveFailure, CollectiveUsageError } from './errors.js';
import { type BufferTable, makeBufferTable, runTransfers } from './execute.js';
import type { AlgorithmChoice, AlgorithmName, Interconnect } from './interconnect.js';
import { type AxisGroup, type AxisSpec, type DeviceMesh, axesOf, axisGroup, axisMask } from './mesh.js';
import { type BufferViews, bufferViews, viewFor } from './movement.js';
import { type CollectivePlan, planCollective } from './plan.js';
import { IN, OUT, SCRATCH } from './schedule.js';
import {
  COLLECTIVE_OPS,
  type AllGatherParams,
  type AllToAllParams,
  type CollectiveOpName,
  type CollectiveParams,
  type ReduceOp,
} from './semantics.js';

/** What a communicator needs to know about the pod; plain data, so it can be posted to a worker. */
export interface CommunicatorConfig {
  readonly coreId: number;
  readonly mesh: DeviceMesh;
  readonly interconnect: Interconnect;
  /** The mesh's control block (control.ts). */
  readonly control: SharedArrayBuffer;
  /** The HBM arena buffer of every core, by core id. */
  readonly buffers: readonly SharedArrayBuffer[];
  /** Deadline of one collective, from this core's arrival. Default 60 s. */
  readonly timeoutMs?: number;
  /** 'auto' picks ring / bidirectional ring / torus from the topology; 'ring' forces a flat ring. */
  readonly algorithm?: AlgorithmChoice;
}

/** The core's simulated clock (a TensorCore, in the worker). */
export interface CollectiveClock {
  now(): number;
  advance(seconds: number, unit: string): void;
}

/** Where reduce-scatter takes its scratch: the core's HBM arena (src/tpu/arena.ts). */
export interface ScratchArena {
  readonly buffer: SharedArrayBuffer;
  alloc(bytes: number, label?: string, alignment?: number): { readonly offset: number; readonly bytes: number; readonly label: string };
  free(a: { readonly offset: number; readonly bytes: number; readonly label: string }): void;
}

export interface CommunicatorOptions {
  readonly arena?: ScratchArena;
  readonly clock?: CollectiveClock;
}

/** The outcome of one collective on this core, in simulated seconds. */
export interface CollectiveTiming {
  readonly op: CollectiveOpName;
  readonly axes: readonly string[];
  readonly algorithm: AlgorithmName;
  /** This core's arrival. */
  readonly arrival: number;
  /** The latest arrival of the group: when the collective starts for everyone. */
  readonly start: number;
  /** start + cost: when it ends for everyone. */
  readonly end: number;
  readonly costSeconds: number;
  readonly bytesSent: number;
}

export interface CollectiveCounters {
  calls: number;
  bytesSent: number;
  /** Simulated seconds this core spent in the op: waiting for the last arrival plus the cost. */
  seconds: number;
}

/** Unit name passed to the clock's advance(). */
export const COLLECTIVE_UNIT = 'ici';

const DEFAULT_TIMEOUT_MS = 60_000;
/** Longest single Atomics.wait; between slices the dead flags, aborts and deadline are checked. */
const WAIT_SLICE_MS = 50;
/** Reads of a word before sleeping on it: covers a peer that is a step behind on another core. */
const SPIN_READS = 200;

interface CachedPlan {
  readonly plan: CollectivePlan;
  readonly sig: number;
}

interface Group extends AxisGroup {
  readonly mask: number;
  readonly key: string;
  /** Word index of each member's slot. */
  readonly slots: readonly number[];
  readonly table: BufferTable;
}

/** FNV-1a of a string, as a non-negative 32-bit integer. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function overlaps(a: TensorView, b: TensorView): boolean {
  const a0 = a.data.byteOffset;
  const b0 = b.data.byteOffset;
  return a0 < b0 + b.data.byteLength && b0 < a0 + a.data.byteLength && a.data.byteLength > 0 && b.data.byteLength > 0;
}

export class Communicator {
  readonly coreId: number;
  readonly mesh: DeviceMesh;
  private readonly ic: Interconnect;
  private readonly words: Int32Array;
  private readonly f64: Float64Array;
  private readonly numCores: number;
  private readonly views: BufferViews[];
  private readonly timeoutMs: number;
  private readonly choice: AlgorithmChoice;
  private readonly arena: ScratchArena | undefined;
  private readonly clock: CollectiveClock | undefined;
  private readonly groups = new Map<string, Group>();
  private readonly plans = new Map<string, CachedPlan>();
  private readonly calls: number[];
  private readonly counterMap = new Map<CollectiveOpName, CollectiveCounters>();
  private failed: CollectiveError | undefined;
  private lastTiming: CollectiveTiming | undefined;

  constructor(config: CommunicatorConfig, options: CommunicatorOptions = {}) {
    this.coreId = config.coreId;
    this.mesh = config.mesh;
    this.ic = config.interconnect;
    const l = controlLayout(config.control);
    this.words = l.words;
    this.f64 = l.f64;
    this.numCores = l.numCores;
    if (l.numMasks !== 1 << config.mesh.axisNames.length) {
      throw new CollectiveUsageError(`communicator: the control block was made for ${Math.log2(l.numMasks)} axes, the mesh has ${config.mesh.axisNames.length}`);
    }
    if (!config.mesh.devices.includes(config.coreId)) {
      throw new CollectiveUsageError(`communicator: core ${config.coreId} is not in the mesh`);
    }
    for (const c of config.mesh.devices) {
      if (c >= l.numCores) throw new CollectiveUsageError(`communicator: mesh core ${c} is outside the control block's ${l.numCores} cores`);
      if (!config.buffers[c]) throw new CollectiveUsageError(`communicator: no arena buffer for core ${c}`);
      if (!this.ic.coords[c]) throw new CollectiveUsageError(`communicator: the interconnect has no core ${c}`);
    }
    this.views = config.buffers.map((b) => bufferViews(b));
    this.timeoutMs = config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.choice = config.algorithm ?? 'auto';
    this.arena = options.arena;
    this.clock = options.clock;
    if (this.arena && this.arena.buffer !== config.buffers[config.coreId]) {
      throw new CollectiveUsageError(`communicator: the scratch arena of core ${config.coreId} is not its arena buffer`);
    }
    // Call numbers start at 1: a progress word of 0 is the block's initial state, "nothing yet".
    this.calls = new Array<number>(l.numMasks).fill(1);
  }

  // ---- the JAX-named API ---------------------------------------------------------------

  /** jax.lax.psum: out = sum of x over the group. */
  psum(x: TensorView, out: TensorView, axes: AxisSpec): CollectiveTiming {
    return this.allReduce(x, out, axes, 'sum');
  }

  pmax(x: TensorView, out: TensorView, axes: AxisSpec): CollectiveTiming {
    return this.allReduce(x, out, axes, 'max');
  }

  pmin(x: TensorView, out: TensorView, axes: AxisSpec): CollectiveTiming {
    return this.allReduce(x, out, axes, 'min');
  }

  allReduce(x: TensorView, out: TensorView, axes: AxisSpec, op: ReduceOp = 'sum'): CollectiveTiming {
    return this.run({ kind: 'all-reduce', params: { op } }, x, out, axes);
  }

  /** jax.lax.all_gather(x, axis_name, axis=0, tiled=False). */
  allGather(x: TensorView, out: TensorView, axes: AxisSpec, params: Partial<AllGatherParams> = {}): CollectiveTiming {
    return this.run({ kind: 'all-gather', params: { axis: params.axis ?? 0, tiled: params.tiled ?? false } }, x, out, axes);
  }

  /** jax.lax.psum_scatter(x, axis_name, scatter_dimension=0, tiled=False); `op` generalises to reduce-scatter max/min. */
  psumScatter(
    x: TensorView,
    out: TensorView,
    axes: AxisSpec,
    params: { scatterDimension?: number; tiled?: boolean; op?: ReduceOp } = {},
  ): CollectiveTiming {
    return this.run(
      { kind: 'reduce-scatter', params: { scatterDimension: params.scatterDimension ?? 0, tiled: params.tiled ?? false, op: params.op ?? 'sum' } },
      x,
      out,
      axes,
    );
  }

  /** jax.lax.all_to_all(x, axis_name, split_axis, concat_axis, tiled=False). */
  allToAll(x: TensorView, out: TensorView, axes: AxisSpec, params: Omit<AllToAllParams, 'tiled'> & { tiled?: boolean }): CollectiveTiming {
    return this.run({ kind: 'all-to-all', params: { splitAxis: params.splitAxis, concatAxis: params.concatAxis, tiled: params.tiled ?? false } }, x, out, axes);
  }

  /** jax.lax.ppermute(x, axis_name, perm): (source, destination) axis indices; unnamed destinations get zeros. */
  ppermute(x: TensorView, out: TensorView, axes: AxisSpec, perm: readonly (readonly [number, number])[]): CollectiveTiming {
    return this.run({ kind: 'collective-permute', params: { perm } }, x, out, axes);
  }

  /** XLA collective-broadcast: every rank's out gets rank `root`'s x. */
  broadcast(x: TensorView, out: TensorView, axes: AxisSpec, root = 0): CollectiveTiming {
    return this.run({ kind: 'broadcast', params: { root } }, x, out, axes);
  }

  /** Returns once every rank of the group has arrived. */
  barrier(axes: AxisSpec): CollectiveTiming {
    return this.run({ kind: 'barrier', params: {} }, null, null, axes);
  }

  /** jax.lax.axis_index. */
  axisIndex(axes: AxisSpec): number {
    return this.group(axesOf(axes)).rank;
  }

  /** jax.lax.psum(1, axes): the group size. */
  axisSize(axes: AxisSpec): number {
    return this.group(axesOf(axes)).members.length;
  }

  /** The output shape the op would produce for an operand of `shape` (before any call). */
  outputShape(c: CollectiveParams, shape: readonly number[], dtype: DType, axes: AxisSpec): readonly number[] {
    return this.planFor(c, shape, dtype, this.group(axesOf(axes))).plan.outShape;
  }

  /** Per-op counters of this core. */
  counters(): ReadonlyMap<CollectiveOpName, Readonly<CollectiveCounters>> {
    return this.counterMap;
  }

  get lastCollective(): CollectiveTiming | undefined {
    return this.lastTiming;
  }

  // ---- one call --------------------------------------------------------------------------

  private group(axes: readonly string[]): Group {
    const key = axes.join('\u0000');
    let g = this.groups.get(key);
    if (!g) {
      const ag = axisGroup(this.mesh, axes, this.coreId);
      const mask = axisMask(this.mesh, axes);
      const slots = ag.members.map((m) => slotIndex({ numCores: this.numCores }, mask, m));
      g = { ...ag, mask, key, slots, table: makeBufferTable(ag.members.length, this.views[this.coreId]!.u8) };
      this.groups.set(key, g);
    }
    return g;
  }

  private planFor(c: CollectiveParams, shape: readonly number[], dtype: DType, g: Group): CachedPlan {
    const key = `${g.key}|${c.kind}|${dtype}|${shape.join(',')}|${JSON.stringify(c.params)}`;
    let cached = this.plans.get(key);
    if (!cached) {
      const plan = planCollective(c, shape, dtype, g.members, this.ic, this.choice);
      cached = { plan, sig: fnv1a(key) };
      this.plans.set(key, cached);
    }
    return cached;
  }

  private checkOperand(what: string, op: string, t: TensorView, dtype: DType): void {
    if (t.data.buffer !== this.views[this.coreId]!.u8.buffer) {
      throw new CollectiveUsageError(`${op}: ${what} must be a view into core ${this.coreId}'s HBM arena, so peers can read it`);
    }
    if (t.dtype !== dtype) throw new CollectiveUsageError(`${op}: ${what} is ${t.dtype}, expected ${dtype}`);
    if (t.data.length !== sizeOf(t.shape)) {
      throw new CollectiveUsageError(`${op}: ${what} holds ${t.data.length} elements for shape [${t.shape.join(',')}]`);
    }
  }

  private run(c: CollectiveParams, x: TensorView | null, out: TensorView | null, axesSpec: AxisSpec): CollectiveTiming {
    if (this.failed) {
      throw new CollectiveUsageError(`communicator of core ${this.coreId} failed earlier and cannot be used: ${this.failed.message}`);
    }
    const axes = axesOf(axesSpec);
    const g = this.group(axes);
    const me = g.rank;
    const p = g.members.length;
    const n = this.calls[g.mask]!;
    this.calls[g.mask] = (n + 1) | 0;
    const slot = g.slots[me]!;
    const started = performance.now();
    const dtype: DType = x?.dtype ?? 'f32';
    const shape = x?.shape ?? [];
    let cached: CachedPlan;
    try {
      cached = this.planFor(c, shape, dtype, g);
      if (x && out) {
        this.checkOperand('operand', c.kind, x, dtype);
        this.checkOperand('output', c.kind, out, dtype);
        if (!sameShape(out.shape, cached.plan.outShape)) {
          throw new CollectiveUsageError(`${c.kind}: output is [${out.shape.join(',')}], the op produces [${cached.plan.outShape.join(',')}]`);
        }
        if (overlaps(x, out)) throw new CollectiveUsageError(`${c.kind}: operand and output overlap; give the output its own buffer`);
      }
    } catch (e) {
      // Tell the peers at once rather than leaving them to their deadline.
      this.abort(g, n, 'mismatch', this.coreId);
      throw e;
    }
    const { plan, sig } = cached;
    const size = itemsize(dtype);
    let scratch: ReturnType<ScratchArena['alloc']> | undefined;
    const arrival = this.clock ? this.clock.now() : 0;
    try {
      if (plan.schedule.scratchElements > 0) {
        if (!this.arena) throw new CollectiveUsageError(`${c.kind}: needs scratch; construct the communicator with the core's arena`);
        scratch = this.arena.alloc(plan.schedule.scratchElements * size, `${c.kind} scratch`);
      }
      // Publish our descriptor, then arrive.
      const d = descIndex(slot, n & 1);
      const f = this.f64;
      f[d + D_SIG] = sig;
      f[d + D_OP] = COLLECTIVE_OPS.indexOf(c.kind);
      f[d + D_DTYPE] = DTYPES.indexOf(dtype);
      f[d + D_IN_COUNT] = x ? x.data.length : 0;
      f[d + D_OUT_COUNT] = out ? out.data.length : 0;
      f[d + D_IN_OFFSET] = x ? x.data.byteOffset : 0;
      f[d + D_OUT_OFFSET] = out ? out.data.byteOffset : 0;
      f[d + D_SCRATCH_OFFSET] = scratch ? scratch.offset : 0;
      f[d + D_ARRIVAL] = arrival;
      this.publish(slot, progressValue(n, 0));

      const deadline = started + this.timeoutMs;
      // Rendezvous: everyone arrived; compare signatures; learn the peers' buffers.
      let start = arrival;
      const mismatched: number[] = [];
      const table = g.table;
      for (let r = 0; r < p; r++) {
        if (r !== me) this.waitFor(g, c.kind, n, [r], 0, deadline, started);
        const pd = descIndex(g.slots[r]!, n & 1);
        if (f[pd + D_SIG] !== sig) mismatched.push(r);
        if (f[pd + D_ARRIVAL]! > start) start = f[pd + D_ARRIVAL]!;
        const arr = viewFor(this.views[g.members[r]!]!, dtype);
        for (let kind = IN; kind <= SCRATCH; kind++) table.arrays[r * 3 + kind] = arr;
        table.bases[r * 3 + IN] = f[pd + D_IN_OFFSET]! / size;
        table.bases[r * 3 + OUT] = f[pd + D_OUT_OFFSET]! / size;
        table.bases[r * 3 + SCRATCH] = f[pd + D_SCRATCH_OFFSET]! / size;
      }
      if (mismatched.length > 0) {
        throw this.error(g, c.kind, 'mismatch', mismatched, started, this.describeMismatch(g, n, mismatched, c.kind, dtype, x));
      }
      // The steps.
      const steps = plan.schedule.steps[me]!;
      const sync = plan.sync[me]!;
      for (let k = 0; k < steps.length; k++) {
        this.waitFor(g, c.kind, n, sync.waitOn[k]!, k, deadline, started);
        runTransfers(steps[k]!, dtype, plan.reduceOp, table);
        this.publish(slot, progressValue(n, k + 1));
      }
      // Our readers are done with our buffers.
      this.waitFor(g, c.kind, n, sync.exitOn, steps.length, deadline, started);

      const end = start + plan.cost.seconds;
      const timing: CollectiveTiming = {
        op: c.kind,
        axes,
        algorithm: plan.algorithm.name,
        arrival,
        start,
        end,
        costSeconds: plan.cost.seconds,
        bytesSent: plan.bytesSent[me]!,
      };
      this.record(timing);
      return timing;
    } catch (e) {
      if (e instanceof CollectiveError) {
        this.failed = e;
        this.abort(g, n, e.failure, e.missingCores[0] ?? this.coreId);
      } else {
        this.abort(g, n, 'mismatch', this.coreId);
      }
      throw e;
    } finally {
      if (scratch) this.arena!.free(scratch);
    }
  }

  private record(t: CollectiveTiming): void {
    this.lastTiming = t;
    let c = this.counterMap.get(t.op);
    if (!c) {
      c = { calls: 0, bytesSent: 0, seconds: 0 };
      this.counterMap.set(t.op, c);
    }
    c.calls += 1;
    c.bytesSent += t.bytesSent;
    c.seconds += t.end - t.arrival;
    if (this.clock) this.clock.advance(t.end - t.arrival, COLLECTIVE_UNIT);
  }

  private publish(slot: number, value: number): void {
    Atomics.store(this.words, slot + SLOT_PROGRESS, value);
    Atomics.notify(this.words, slot + SLOT_PROGRESS);
  }

  /** Gives up call `n`: peers waiting on this core see it at their next check. */
  private abort(g: Group, n: number, failure: CollectiveFailure, culprit: number): void {
    const slot = g.slots[g.rank]!;
    Atomics.store(this.words, slot + SLOT_CULPRIT, culprit + 1);
    Atomics.store(this.words, slot + SLOT_FAILURE, FAILURE_CODES.indexOf(failure));
    Atomics.store(this.words, slot + SLOT_ABORT, (n + 1) | 0);
    for (const s of g.slots) Atomics.notify(this.words, s + SLOT_PROGRESS);
  }

  /** Waits until every rank in `ranks` has done `steps` steps of call `n`, or throws a CollectiveError. */
  private waitFor(g: Group, op: CollectiveOpName, n: number, ranks: readonly number[], steps: number, deadline: number, started: number): void {
    const target = progressValue(n, steps);
    const w = this.words;
    for (let i = 0; i < ranks.length; i++) {
      const idx = g.slots[ranks[i]!]! + SLOT_PROGRESS;
      let v = Atomics.load(w, idx);
      if (reached(v, target)) continue;
      for (let s = 0; s < SPIN_READS && !reached(v, target); s++) v = Atomics.load(w, idx);
      while (!reached(v, target)) {
        this.checkPeers(g, op, n, ranks, target, deadline, started);
        const remaining = deadline - performance.now();
        Atomics.wait(w, idx, v, Math.max(1, Math.min(WAIT_SLICE_MS, remaining)));
        v = Atomics.load(w, idx);
      }
    }
  }

  /** Throws if a group member is dead, gave up this call, or the deadline passed. */
  private checkPeers(g: Group, op: CollectiveOpName, n: number, waitingOn: readonly number[], target: number, deadline: number, started: number): void {
    const w = this.words;
    const dead: number[] = [];
    for (let r = 0; r < g.members.length; r++) if (Atomics.load(w, deadIndex(g.members[r]!)) !== 0) dead.push(r);
    if (dead.length > 0) throw this.error(g, op, 'peer-dead', dead, started, 'its worker exited');
    for (let r = 0; r < g.members.length; r++) {
      if (r === g.rank) continue;
      const slot = g.slots[r]!;
      if (Atomics.load(w, slot + SLOT_ABORT) === ((n + 1) | 0)) {
        const culpritCore = Atomics.load(w, slot + SLOT_CULPRIT) - 1;
        const culprit = g.members.indexOf(culpritCore);
        const failure = FAILURE_CODES[Atomics.load(w, slot + SLOT_FAILURE)] ?? 'peer-aborted';
        const missing = culprit >= 0 ? culprit : r;
        throw this.error(g, op, 'peer-aborted', [missing], started, `rank ${r} gave up (${failure}${culprit >= 0 && culprit !== r ? `, naming rank ${culprit}` : ''})`);
      }
    }
    if (performance.now() >= deadline) {
      const missing = waitingOn.filter((r) => !reached(Atomics.load(w, g.slots[r]! + SLOT_PROGRESS), target));
      // At the rendezvous, name every rank that has not arrived, not only the one we were on.
      const arrivalTarget = progressValue(n, 0);
      const notArrived = g.members.map((_, r) => r).filter((r) => !reached(Atomics.load(w, g.slots[r]! + SLOT_PROGRESS), arrivalTarget));
      const names = notArrived.length > 0 ? notArrived : missing;
      throw this.error(g, op, 'timeout', names, started, notArrived.length > 0 ? 'never arrived' : `stuck before step ${target & 0xffff}`);
    }
  }

  private error(g: Group, op: CollectiveOpName, failure: CollectiveFailure, ranks: readonly number[], started: number, detail?: string): CollectiveError {
    return new CollectiveError({
      op,
      axes: g.axes,
      failure,
      missingRanks: ranks,
      missingCores: ranks.map((r) => g.members[r]!),
      waitedMs: performance.now() - started,
      coreId: this.coreId,
      ...(detail !== undefined ? { detail } : {}),
    });
  }

  private describeMismatch(g: Group, n: number, ranks: readonly number[], op: CollectiveOpName, dtype: DType, x: TensorView | null): string {
    const parts = ranks.slice(0, 4).map((r) => {
      const d = descIndex(g.slots[r]!, n & 1);
      const f = this.f64;
      const peerOp = COLLECTIVE_OPS[f[d + D_OP]!] ?? '?';
      const peerDtype = DTYPES[f[d + D_DTYPE]!] ?? '?';
      return `rank ${r}: ${peerOp} ${peerDtype} with ${f[d + D_IN_COUNT]} -> ${f[d + D_OUT_COUNT]} elements`;
    });
    return `this core: ${op} ${dtype}[${x ? x.shape.join(',') : ''}]; ${parts.join('; ')} (shape, dtype, op, axes or parameters differ)`;
  }
}
