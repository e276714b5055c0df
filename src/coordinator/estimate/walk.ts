/**
 * Estimate mode's core: one step of a per-core SPMD program (the partitioner's output, or a
 * shard_map body) priced on abstract values.
 *
 * Every core runs the same program on the same local shapes (uneven shards are padded), so
 * one representative core's equations give every core's compute time; collectives are
 * priced per group on the full interconnect, and each core's clock is tracked as the
 * lockstep interpreter tracks it (a group starts when its last member arrives). The cores
 * whose clocks end equal form one class; the step ends when the slowest class does.
 */
import type { Interconnect } from '../../collectives/interconnect.js';
import type { DeviceMesh } from '../../collectives/mesh.js';
import type { Program } from '../../program/ir.js';
import type { ChipSpec } from '../../tpu/chips.js';
import type { Unit } from '../../tpu/cost/index.js';
import { type MemoryProfile, type MemoryRole, memoryProfile } from './memory.js';
import { PriceBook, equationSignature } from './pricing.js';

/** Additive totals of one step on the representative core: what scales with repeated blocks. */
export interface StepTotals {
  /** Seconds of primitive ops (each max(MXU, VPU, HBM) + overhead). */
  readonly computeSeconds: number;
  /** Seconds each unit was busy within ops (units overlap within an op). */
  readonly busySeconds: Record<'mxu' | 'vpu' | 'hbm' | 'overhead', number>;
  /** Seconds attributed to the unit that bound each op (these sum to computeSeconds). */
  readonly boundSeconds: Record<Unit, number>;
  /** Per collective op: count, bytes per core, seconds (the slowest group of each call). */
  readonly collectives: Record<string, { count: number; bytes: number; seconds: number }>;
  /** Useful FLOPs and MXU FLOPs (padding included) per core. */
  readonly flops: number;
  readonly mxuFlops: number;
  readonly hbmBytes: number;
  readonly primitiveOps: number;
  /** Per signature: calls and seconds, for the critical path. */
  readonly bySignature: Record<string, { op: string; count: number; seconds: number; binding: Unit | 'ici' }>;
}

export interface WalkResult {
  readonly totals: StepTotals;
  /** Simulated step seconds: the latest core clock. */
  readonly stepSeconds: number;
  /** Mesh position and core id of the core that finishes last. */
  readonly representativeCore: number;
  /** Classes of cores with equal clocks at the end (1 on a uniform torus). */
  readonly coreClasses: number;
  readonly memory: MemoryProfile;
  readonly equations: number;
  readonly distinctSignatures: number;
}

export interface WalkOptions {
  readonly chip: ChipSpec;
  readonly interconnect: Interconnect;
  readonly mesh: DeviceMesh;
  /** Role of each program input, for the memory breakdown. */
  readonly inputRoles?: readonly MemoryRole[];
}

function emptyTotals(): StepTotals {
  return {
    computeSeconds: 0,
    busySeconds: { mxu: 0, vpu: 0, hbm: 0, overhead: 0 },
    boundSeconds: { mxu: 0, vpu: 0, hbm: 0, overhead: 0 },
    collectives: {},
    flops: 0,
    mxuFlops: 0,
    hbmBytes: 0,
    primitiveOps: 0,
    bySignature: {},
  };
}

/** Prices one step of `program` on every core of `mesh`. */
export function walkProgram(program: Program, opts: WalkOptions): WalkResult {
  const book = new PriceBook(opts.chip, opts.interconnect, opts.mesh);
  const n = opts.mesh.devices.length;
  // Each core's clock is base[i] + shared: compute advances every core alike.
  const base = new Float64Array(n);
  let shared = 0;
  const t = emptyTotals();
  const busy = t.busySeconds;
  const bound = t.boundSeconds;
  let flops = 0;
  let mxuFlops = 0;
  let hbmBytes = 0;
  let compute = 0;
  let primitiveOps = 0;

  for (const eq of program.equations) {
    const sig = equationSignature(eq);
    const priced = book.price(eq, sig);
    let seconds: number;
    let binding: Unit | 'ici';
    if (priced.kind === 'primitive') {
      const { time, cost } = priced;
      seconds = time.seconds;
      binding = time.binding;
      shared += seconds;
      compute += seconds;
      busy.mxu += time.mxuSeconds;
      busy.vpu += time.vpuSeconds;
      busy.hbm += time.hbmSeconds;
      busy.overhead += time.overheadSeconds;
      bound[time.binding] += seconds;
      flops += cost.flops;
      mxuFlops += cost.mxuFlops;
      hbmBytes += cost.hbmBytes;
      primitiveOps++;
    } else {
      // axis_index is answered locally (the executor reads the core's mesh position): no time.
      if (eq.op === 'axis_index') continue;
      seconds = priced.maxSeconds;
      binding = 'ici';
      priced.groups.forEach((g, gi) => {
        let start = -Infinity;
        for (const p of g) start = Math.max(start, base[p]!);
        const done = start + priced.groupSeconds[gi]!;
        for (const p of g) base[p] = done;
      });
      const c = (t.collectives[eq.op] ??= { count: 0, bytes: 0, seconds: 0 });
      c.count++;
      c.bytes += priced.bytes;
      c.seconds += priced.maxSeconds;
    }
    const s = (t.bySignature[sig] ??= { op: eq.op, count: 0, seconds: 0, binding });
    s.count++;
    s.seconds += seconds;
  }

  let last = 0;
  for (let i = 1; i < n; i++) if (base[i]! > base[last]!) last = i;
  const classes = new Set(Array.from(base, (b) => b.toPrecision(12))).size;
  return {
    totals: { ...t, computeSeconds: compute, flops, mxuFlops, hbmBytes, primitiveOps },
    stepSeconds: shared + base[last]!,
    representativeCore: opts.mesh.devices[last]!,
    coreClasses: classes,
    memory: memoryProfile(program, opts.inputRoles),
    equations: program.equations.length,
    distinctSignatures: book.distinctSignatures,
  };
}
