/**
 * One emulated TensorCore: it computes real numbers into its HBM arena with the primitive
 * kernels, and beside them keeps a simulated clock that the cost model advances per op.
 *
 * The clock never reads wall time. Each op costs opTime(cost, chip): the refined roofline
 * max(MXU, VPU, HBM) plus a fixed per-op overhead (src/tpu/cost/). Time spent outside
 * kernels (collectives over ICI, host callbacks) is added with advance().
 * executeSequence can price a run of ops as one XLA fusion (see SequenceOptions.fusion).
 */
import { HbmArena, type DeviceTensor } from './arena.js';
import type { ChipSpec } from './chips.js';
import { type OpCost, type OpTime, type Unit, bytesOf, fuseCosts, opCost, opTime } from './cost/index.js';
import { FAST_KERNELS } from './fast/index.js';
import type { FastKernel, FastKernelTable } from './fast/types.js';
import type { PrimitiveName, PrimitiveParams } from './ops.js';
import { inferShapes, primitiveDef } from './primitives.js';
import { type TensorView, shapeToString } from './tensor.js';

/** Where simulated time goes: a kernel unit, or time outside kernels. */
export type BusyUnit = Unit | 'ici' | 'host';

export const BUSY_UNITS: readonly BusyUnit[] = ['mxu', 'vpu', 'hbm', 'overhead', 'ici', 'host'];

export type KernelChoice = 'fast' | 'reference';

/** Default ceiling on the arena a core backs with host memory (see TensorCoreOptions.hbmBytes). */
export const DEFAULT_MAX_BACKED_HBM_BYTES = 4 * 1024 ** 3;

export interface TensorCoreOptions {
  readonly chip: ChipSpec;
  /**
   * Arena capacity in bytes. Defaults to the chip's HBM per core, capped at
   * DEFAULT_MAX_BACKED_HBM_BYTES because every byte is a real SharedArrayBuffer on the host.
   */
  readonly hbmBytes?: number;
  /** Use this arena (e.g. one whose buffer peers share) instead of making one. */
  readonly arena?: HbmArena;
  /** 'fast' (default) runs a fast kernel where one handles the case, else the reference kernel. */
  readonly kernels?: KernelChoice;
  /** Record an op trace (op, shapes, simulated start/end, binding unit). */
  readonly trace?: boolean;
  /** The core's id in its slice, for labels and traces. */
  readonly coreId?: number;
  /** The fast kernel table; defaults to src/tpu/fast's FAST_KERNELS. */
  readonly fastKernels?: FastKernelTable;
}

export interface TraceEvent {
  /** The primitive, 'fusion' for a fused sequence, or 'advance' for time outside kernels. */
  readonly op: PrimitiveName | 'fusion' | 'advance';
  /** The primitives of a fusion, in order. */
  readonly fusedOps?: readonly PrimitiveName[];
  readonly inputShapes: readonly string[];
  readonly outputShapes: readonly string[];
  /** Simulated seconds. */
  readonly start: number;
  readonly end: number;
  readonly binding: BusyUnit;
  /** Which kernel computed it (absent for advance()). */
  readonly kernel?: KernelChoice;
}

export interface CoreStats {
  readonly coreId: number;
  /** Simulated seconds since construction or the last resetStats(). */
  readonly elapsedSeconds: number;
  /** Useful model FLOPs (dot/conv multiply-adds). */
  readonly usefulFlops: number;
  /** FLOPs the MXU spent, padding included. */
  readonly mxuFlops: number;
  readonly vpuOps: number;
  readonly transcendentalOps: number;
  readonly hbmBytesRead: number;
  readonly hbmBytesWritten: number;
  /** Seconds each unit was busy (units overlap within an op, so these do not sum to elapsed). */
  readonly busySeconds: Readonly<Record<BusyUnit, number>>;
  /** Seconds attributed to the unit that bound each op (these sum to elapsed). */
  readonly boundSeconds: Readonly<Record<BusyUnit, number>>;
  readonly opCounts: Readonly<Partial<Record<PrimitiveName, number>>>;
  /** Ops computed by a fast kernel and by the reference kernel. */
  readonly fastKernelOps: number;
  readonly referenceKernelOps: number;
  /** usefulFlops / (elapsed x peak per core); 0 before any time passes. */
  readonly utilization: number;
  readonly hbmBytesInUse: number;
  readonly hbmPeakBytesInUse: number;
  readonly hbmCapacity: number;
}

/** An input of a call in a sequence: a tensor, or output `output` (default 0) of an earlier call. */
export type ValueRef = TensorView | { readonly call: number; readonly output?: number };

/** One primitive application in a sequence. */
export type PrimitiveCall<N extends PrimitiveName = PrimitiveName> = N extends PrimitiveName
  ? {
      readonly op: N;
      readonly params: PrimitiveParams[N];
      readonly inputs: readonly ValueRef[];
      /** Arena labels for the outputs (named in OOM errors). */
      readonly labels?: readonly string[];
    }
  : never;

export interface SequenceOptions {
  /**
   * The values to keep. When given, every other output is released right after its last
   * use (as XLA's buffer assignment frees a buffer at its last use), and only these are
   * returned, in order. When absent, every output is kept and returned per call.
   */
  readonly keep?: readonly { readonly call: number; readonly output?: number }[];
  /**
   * Price the whole sequence as one XLA fusion: compute adds up, HBM traffic is only the
   * tensors read from outside the sequence plus the outputs it returns (intermediates stay
   * in VMEM), and the per-op overhead is paid once. The numbers computed are the same.
   */
  readonly fusion?: boolean;
}

function zeroUnits(): Record<BusyUnit, number> {
  return { mxu: 0, vpu: 0, hbm: 0, overhead: 0, ici: 0, host: 0 };
}

function isCallRef(v: ValueRef): v is { readonly call: number; readonly output?: number } {
  return typeof (v as { call?: unknown }).call === 'number' && !('data' in v);
}

export class TensorCore {
  readonly chip: ChipSpec;
  readonly arena: HbmArena;
  readonly kernels: KernelChoice;
  readonly coreId: number;
  private readonly fast: FastKernelTable;
  private readonly tracing: boolean;
  private readonly events: TraceEvent[] = [];

  private clock = 0;
  private statsStart = 0;
  private usefulFlops = 0;
  private mxuFlops = 0;
  private vpuOps = 0;
  private transcendentalOps = 0;
  private hbmRead = 0;
  private hbmWritten = 0;
  private busy = zeroUnits();
  private bound = zeroUnits();
  private counts: Partial<Record<PrimitiveName, number>> = {};
  private fastOps = 0;
  private referenceOps = 0;

  constructor(opts: TensorCoreOptions) {
    this.chip = opts.chip;
    this.kernels = opts.kernels ?? 'fast';
    this.coreId = opts.coreId ?? 0;
    this.tracing = opts.trace ?? false;
    this.fast = opts.fastKernels ?? FAST_KERNELS;
    this.arena =
      opts.arena ??
      new HbmArena({ capacityBytes: opts.hbmBytes ?? Math.min(opts.chip.hbmBytesPerCore, DEFAULT_MAX_BACKED_HBM_BYTES) });
  }

  /** The simulated clock, seconds. */
  get now(): number {
    return this.clock;
  }

  /** The recorded trace (empty unless constructed with trace: true). */
  get trace(): readonly TraceEvent[] {
    return this.events;
  }

  clearTrace(): void {
    this.events.length = 0;
  }

  /**
   * Runs one primitive: infers output shapes, allocates the outputs in the arena, computes
   * them (fast kernel if one handles the case, else the reference kernel), and advances the
   * clock by the cost model. The caller owns the outputs (release them with arena.release).
   */
  execute<N extends PrimitiveName>(
    op: N,
    params: PrimitiveParams[N],
    inputs: readonly TensorView[],
    labels?: readonly string[],
  ): DeviceTensor[] {
    const { outputs, cost, kernel } = this.compute(op, params, inputs, labels);
    let written = 0;
    for (const t of outputs) written += bytesOf(t);
    this.account({
      name: op,
      ops: [op],
      kernels: [kernel],
      cost,
      time: opTime(cost, this.chip),
      bytesWritten: written,
      inputShapes: inputs.map(shapeToString),
      outputShapes: outputs.map(shapeToString),
    });
    return outputs;
  }

  /**
   * Runs calls in order; a call's inputs may name earlier calls' outputs. See
   * SequenceOptions for which outputs are kept and for fusion. On error, outputs made so
   * far are released.
   */
  executeSequence(calls: readonly PrimitiveCall[], opts: SequenceOptions = {}): DeviceTensor[][] {
    const results: DeviceTensor[][] = [];
    const { keep, fusion = false } = opts;
    // Last call that reads each call's outputs, to free intermediates at their last use.
    const lastUse = new Array<number>(calls.length).fill(-1);
    calls.forEach((c, i) => {
      for (const ref of c.inputs) {
        if (!isCallRef(ref)) continue;
        if (!(Number.isInteger(ref.call) && ref.call >= 0 && ref.call < i)) {
          throw new RangeError(`executeSequence: call ${i} (${c.op}) reads call ${ref.call}, which is not an earlier call`);
        }
        lastUse[ref.call] = i;
      }
    });
    for (const r of keep ?? []) {
      if (!(Number.isInteger(r.call) && r.call >= 0 && r.call < calls.length)) {
        throw new RangeError(`executeSequence: keep names call ${r.call}, but there are ${calls.length} calls`);
      }
    }
    const kept = new Set((keep ?? []).map((r) => r.call));
    const released = new Set<number>();
    const releaseCall = (i: number): void => {
      if (released.has(i)) return;
      released.add(i);
      for (const t of results[i] ?? []) this.arena.release(t);
    };
    // Fusion bookkeeping: per-op costs, and the tensors read from outside the sequence.
    const costs: OpCost[] = [];
    const kernels: KernelChoice[] = [];
    const external = new Set<TensorView>();
    let out: DeviceTensor[] | undefined;
    try {
      calls.forEach((c, i) => {
        const inputs = c.inputs.map((ref) => {
          if (!isCallRef(ref)) {
            external.add(ref);
            return ref;
          }
          const t = results[ref.call]![ref.output ?? 0];
          if (!t) {
            throw new RangeError(
              `executeSequence: call ${i} (${c.op}) reads output ${ref.output ?? 0} of call ${ref.call}, which has ${results[ref.call]!.length}`,
            );
          }
          return t;
        });
        if (fusion) {
          const r = this.compute(c.op, c.params as never, inputs, c.labels);
          results.push(r.outputs);
          costs.push(r.cost);
          kernels.push(r.kernel);
        } else {
          results.push(this.execute(c.op, c.params as never, inputs, c.labels));
        }
        if (keep) {
          for (const ref of c.inputs) {
            if (isCallRef(ref) && lastUse[ref.call] === i && !kept.has(ref.call)) releaseCall(ref.call);
          }
          // An output nobody reads and nobody keeps is dead on arrival.
          if (lastUse[i] === -1 && !kept.has(i)) releaseCall(i);
        }
      });
      if (keep) {
        out = keep.map((r) => {
          const t = results[r.call]![r.output ?? 0];
          if (!t) throw new RangeError(`executeSequence: keep names output ${r.output ?? 0} of call ${r.call}, which does not exist`);
          return t;
        });
      }
    } catch (e) {
      results.forEach((_, i) => releaseCall(i));
      throw e;
    }
    const materialized = out ?? results.flat();
    if (fusion) this.accountFusion(calls, costs, kernels, external, materialized);
    if (!out) return results;
    // Release kept calls' outputs that are not themselves kept.
    const keptOutputs = new Set(keep!.map((r) => `${r.call}:${r.output ?? 0}`));
    for (const i of kept) {
      results[i]!.forEach((t, j) => {
        if (!keptOutputs.has(`${i}:${j}`)) this.arena.release(t);
      });
    }
    return [out];
  }

  /** Adds time spent outside kernels (a collective over ICI, a host callback) to the clock. */
  advance(seconds: number, unit: BusyUnit = 'ici', label = unit): void {
    if (!(seconds >= 0) || !Number.isFinite(seconds)) {
      throw new RangeError(`advance: seconds must be a finite non-negative number, got ${seconds}`);
    }
    const start = this.clock;
    this.clock += seconds;
    this.busy[unit] += seconds;
    this.bound[unit] += seconds;
    if (this.tracing) {
      this.events.push({ op: 'advance', inputShapes: [label], outputShapes: [], start, end: this.clock, binding: unit });
    }
  }

  /** Useful FLOPs over (elapsed simulated time x peak FLOP/s per core). */
  utilization(): number {
    const elapsed = this.clock - this.statsStart;
    return elapsed > 0 ? this.usefulFlops / (elapsed * this.chip.peakFlopsPerCore) : 0;
  }

  stats(): CoreStats {
    return {
      coreId: this.coreId,
      elapsedSeconds: this.clock - this.statsStart,
      usefulFlops: this.usefulFlops,
      mxuFlops: this.mxuFlops,
      vpuOps: this.vpuOps,
      transcendentalOps: this.transcendentalOps,
      hbmBytesRead: this.hbmRead,
      hbmBytesWritten: this.hbmWritten,
      busySeconds: { ...this.busy },
      boundSeconds: { ...this.bound },
      opCounts: { ...this.counts },
      fastKernelOps: this.fastOps,
      referenceKernelOps: this.referenceOps,
      utilization: this.utilization(),
      hbmBytesInUse: this.arena.bytesInUse,
      hbmPeakBytesInUse: this.arena.peakBytesInUse,
      hbmCapacity: this.arena.capacity,
    };
  }

  /** Zeroes the counters (not the clock, which only moves forward) and the arena's peak. */
  resetStats(): void {
    this.statsStart = this.clock;
    this.usefulFlops = 0;
    this.mxuFlops = 0;
    this.vpuOps = 0;
    this.transcendentalOps = 0;
    this.hbmRead = 0;
    this.hbmWritten = 0;
    this.busy = zeroUnits();
    this.bound = zeroUnits();
    this.counts = {};
    this.fastOps = 0;
    this.referenceOps = 0;
    this.arena.resetPeak();
  }

  /** Allocates, computes and prices one op without advancing the clock. */
  private compute<N extends PrimitiveName>(
    op: N,
    params: PrimitiveParams[N],
    inputs: readonly TensorView[],
    labels?: readonly string[],
  ): { outputs: DeviceTensor[]; cost: OpCost; kernel: KernelChoice } {
    const outAvals = inferShapes(op, inputs, params);
    const outputs: DeviceTensor[] = [];
    try {
      for (let i = 0; i < outAvals.length; i++) {
        const v = outAvals[i]!;
        outputs.push(this.arena.tensor(v.dtype, v.shape, labels?.[i] ?? `${op}.${i} ${shapeToString(v)}`));
      }
      const kernel = this.runKernel(op, params, inputs, outputs);
      return { outputs, cost: opCost(op, inputs, outAvals, params, this.chip), kernel };
    } catch (e) {
      for (const t of outputs) this.arena.release(t);
      throw e;
    }
  }

  private runKernel<N extends PrimitiveName>(
    op: N,
    params: PrimitiveParams[N],
    inputs: readonly TensorView[],
    outputs: readonly TensorView[],
  ): KernelChoice {
    if (this.kernels === 'fast') {
      const fast = this.fast[op] as FastKernel<N> | undefined;
      if (fast && fast(inputs, outputs, params)) return 'fast';
    }
    primitiveDef(op).reference(inputs, outputs, params);
    return 'reference';
  }

  /** Prices a fused sequence as one kernel: summed compute, HBM only across its boundary. */
  private accountFusion(
    calls: readonly PrimitiveCall[],
    costs: readonly OpCost[],
    kernels: readonly KernelChoice[],
    external: ReadonlySet<TensorView>,
    materialized: readonly TensorView[],
  ): void {
    let read = 0;
    for (const t of external) read += bytesOf(t);
    let written = 0;
    for (const t of materialized) written += bytesOf(t);
    const cost = fuseCosts(costs, read + written);
    this.account({
      name: 'fusion',
      ops: calls.map((c) => c.op),
      kernels,
      cost,
      time: opTime(cost, this.chip),
      bytesWritten: written,
      inputShapes: [...external].map(shapeToString),
      outputShapes: materialized.map(shapeToString),
    });
  }

  private account(e: {
    name: PrimitiveName | 'fusion';
    ops: readonly PrimitiveName[];
    kernels: readonly KernelChoice[];
    cost: OpCost;
    time: OpTime;
    bytesWritten: number;
    inputShapes: readonly string[];
    outputShapes: readonly string[];
  }): void {
    const { cost, time } = e;
    const start = this.clock;
    this.clock += time.seconds;
    this.usefulFlops += cost.flops;
    this.mxuFlops += cost.mxuFlops;
    this.vpuOps += cost.vpuOps;
    this.transcendentalOps += cost.transcendentalOps ?? 0;
    this.hbmWritten += e.bytesWritten;
    this.hbmRead += cost.hbmBytes - e.bytesWritten;
    this.busy.mxu += time.mxuSeconds;
    this.busy.vpu += time.vpuSeconds;
    this.busy.hbm += time.hbmSeconds;
    this.busy.overhead += time.overheadSeconds;
    this.bound[time.binding] += time.seconds;
    for (const op of e.ops) this.counts[op] = (this.counts[op] ?? 0) + 1;
    for (const k of e.kernels) {
      if (k === 'fast') this.fastOps++;
      else this.referenceOps++;
    }
    if (this.tracing) {
      this.events.push({
        op: e.name,
        ...(e.name === 'fusion' ? { fusedOps: e.ops } : {}),
        inputShapes: e.inputShapes,
        outputShapes: e.outputShapes,
        start,
        end: this.clock,
        binding: time.binding,
        ...(e.name === 'fusion' ? {} : { kernel: e.kernels[0] }),
      });
    }
  }
}
