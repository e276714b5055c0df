/**
 * Estimate mode: a workload's step compiled by the same tracer, GSPMD propagation and
 * partitioner as execution, then priced on abstract values (./walk.ts) for a pod of any
 * size. The report gives step time by unit and by collective, MFU, tokens/s, HBM per core
 * with an out-of-memory verdict, and the critical path.
 */
import { interconnectOf } from '../../collectives/interconnect.js';
import type { SpmdProgram } from '../../gspmd/spmd_program.js';
import type { ChipSpec } from '../../tpu/chips.js';
import type { Unit } from '../../tpu/cost/index.js';
import type { Topology } from '../../tpu/topology.js';
import type { MemoryRole } from './memory.js';
import { blockMismatch, extrapolateBlocks } from './repeat.js';
import { type WalkResult, walkProgram } from './walk.js';

/** A compiled step: the per-core program and the role of each of its inputs. */
export interface CompiledStep {
  readonly spmd: SpmdProgram;
  readonly inputRoles: readonly MemoryRole[];
}

export interface EstimateRequest {
  readonly workload: string;
  readonly topology: Topology;
  /**
   * Compiles the step. With `blocks` (repeated identical blocks, e.g. layers), the step
   * with that many; the estimate then compiles 0, 1 and 2 blocks and extrapolates.
   */
  compile(blocks?: number): CompiledStep;
  /** Total repeated blocks of the real model; absent: compile the whole step once. */
  readonly blocks?: number;
  /** Model FLOPs of one step (for MFU), e.g. 6·params·tokens for a dense LM. */
  readonly modelFlopsPerStep: number;
  /** Tokens per step, for LMs (tokens/s). */
  readonly tokensPerStep?: number;
  /** Rows of the critical path to report (default 10). */
  readonly criticalPathLength?: number;
}

export interface CriticalOp {
  readonly op: string;
  /** Op, params and local shapes. */
  readonly signature: string;
  readonly count: number;
  readonly seconds: number;
  /** Share of the step. */
  readonly share: number;
  /** The unit that bounds it ('ici' for collectives). */
  readonly binding: Unit | 'ici';
}

export interface EstimateReport {
  readonly workload: string;
  readonly topology: string;
  readonly chip: string;
  readonly cores: number;
  readonly mesh: Readonly<Record<string, number>>;
  readonly stepSeconds: number;
  /** Seconds of the step by what bounds it: each op's binding unit, and each collective op. */
  readonly breakdown: {
    readonly mxu: number;
    readonly vpu: number;
    readonly hbm: number;
    readonly overhead: number;
    readonly collectives: Readonly<Record<string, number>>;
    /** Time a core waits for slower peers (uneven collective groups). */
    readonly waiting: number;
  };
  /** Seconds each unit is busy (units overlap within an op). */
  readonly busySeconds: Readonly<Record<'mxu' | 'vpu' | 'hbm' | 'overhead', number>>;
  readonly collectiveCalls: Readonly<Record<string, { count: number; bytesPerCore: number; seconds: number }>>;
  readonly modelFlopsPerStep: number;
  /** Model FLOPs / (step time × peak per core × cores). */
  readonly mfu: number;
  /** FLOPs the cores compute (useful, unpadded) / (step time × peak × cores). */
  readonly hardwareFlopsUtilization: number;
  readonly tokensPerSecond?: number;
  readonly memory: {
    readonly paramsBytes: number;
    readonly optimizerBytes: number;
    readonly dataBytes: number;
    /** Values computed by the step (activations, gradients, temporaries) live at the peak. */
    readonly activationsBytes: number;
    readonly peakBytes: number;
    readonly hbmBytesPerCore: number;
    readonly fits: boolean;
    readonly verdict: string;
  };
  readonly criticalPath: readonly CriticalOp[];
  readonly program: {
    /** 'full': the whole step compiled; 'blocks': 0, 1 and 2 blocks compiled and extrapolated. */
    readonly method: 'full' | 'blocks';
    readonly blocks?: number;
    readonly equationsPerCore: number;
    readonly distinctSignatures: number;
    /** Cores run one SPMD program; classes of cores whose clocks end equal. */
    readonly coreClasses: number;
    readonly representativeCore: number;
  };
  /** The chip table's calibration constants this estimate used. */
  readonly calibration: {
    readonly mxuEfficiency: number;
    readonly opOverheadSeconds: number;
    readonly iciHopLatencySeconds: number;
    readonly transcendentalVpuOps: number;
  };
  /** Host seconds the estimate took, wall clock and CPU (this process; the wall time also counts other processes on a shared machine). */
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
}

function walkCompiled(c: CompiledStep, topology: Topology): WalkResult {
  return walkProgram(c.spmd.program, {
    chip: topology.chip,
    interconnect: interconnectOf(topology),
    mesh: c.spmd.mesh,
    inputRoles: c.inputRoles,
  });
}

function checkMesh(c: CompiledStep, topology: Topology): void {
  for (const d of c.spmd.mesh.devices) {
    if (d >= topology.numCores) throw new Error(`estimate: mesh device ${d} is not a core of ${topology.name} (${topology.numCores} cores)`);
  }
}

/** Walks the step: whole, or from 0, 1 and 2 blocks when they partition identically. */
export interface WalkedStep {
  readonly walk: WalkResult;
  readonly method: 'full' | 'blocks';
  readonly meshAxes: Readonly<Record<string, number>>;
}

function axesOf(c: CompiledStep): Record<string, number> {
  const mesh = c.spmd.mesh;
  return Object.fromEntries(mesh.axisNames.map((a, i) => [a, mesh.shape[i]!]));
}

export function walkStep(req: EstimateRequest): WalkedStep {
  const full = (): WalkedStep => {
    const c = req.compile(req.blocks);
    checkMesh(c, req.topology);
    return { walk: walkCompiled(c, req.topology), method: 'full', meshAxes: axesOf(c) };
  };
  if (req.blocks === undefined || req.blocks < 3) return full();
  const compiled = [0, 1, 2].map((b) => req.compile(b));
  compiled.forEach((c) => checkMesh(c, req.topology));
  const small = compiled.map((c) => walkCompiled(c, req.topology));
  if (blockMismatch(small[0]!, small[1]!, small[2]!).length > 0) return full();
  return { walk: extrapolateBlocks(small[0]!, small[1]!, small[2]!, req.blocks), method: 'blocks', meshAxes: axesOf(compiled[2]!) };
}

export interface HostTime {
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
}

export function buildReport(req: EstimateRequest, walk: WalkResult, method: 'full' | 'blocks', host: HostTime, meshAxes: Readonly<Record<string, number>>): EstimateReport {
  const chip: ChipSpec = req.topology.chip;
  const cores = Object.values(meshAxes).reduce((a, b) => a * b, 1);
  const t = walk.totals;
  const step = walk.stepSeconds;
  const collectiveSeconds = Object.values(t.collectives).reduce((s, c) => s + c.seconds, 0);
  const peakCompute = step * chip.peakFlopsPerCore * cores;
  const m = walk.memory;
  const fits = m.peakBytes <= chip.hbmBytesPerCore;
  const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(2)} GiB`;
  const critical = Object.entries(t.bySignature)
    .map(([signature, s]) => ({ op: s.op, signature, count: s.count, seconds: s.seconds, share: step > 0 ? s.seconds / step : 0, binding: s.binding }))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, req.criticalPathLength ?? 10);
  return {
    workload: req.workload,
    topology: req.topology.name,
    chip: chip.generation,
    cores,
    mesh: meshAxes,
    stepSeconds: step,
    breakdown: {
      mxu: t.boundSeconds.mxu,
      vpu: t.boundSeconds.vpu,
      hbm: t.boundSeconds.hbm,
      overhead: t.boundSeconds.overhead,
      collectives: Object.fromEntries(Object.entries(t.collectives).map(([op, c]) => [op, c.seconds])),
      waiting: Math.max(0, step - t.computeSeconds - collectiveSeconds),
    },
    busySeconds: t.busySeconds,
    collectiveCalls: Object.fromEntries(Object.entries(t.collectives).map(([op, c]) => [op, { count: c.count, bytesPerCore: c.bytes, seconds: c.seconds }])),
    modelFlopsPerStep: req.modelFlopsPerStep,
    mfu: peakCompute > 0 ? req.modelFlopsPerStep / peakCompute : 0,
    hardwareFlopsUtilization: peakCompute > 0 ? (t.flops * cores) / peakCompute : 0,
    ...(req.tokensPerStep !== undefined && step > 0 ? { tokensPerSecond: req.tokensPerStep / step } : {}),
    memory: {
      paramsBytes: m.inputs.params,
      optimizerBytes: m.inputs.optimizer,
      dataBytes: m.inputs.data,
      activationsBytes: m.atPeak.activations,
      peakBytes: m.peakBytes,
      hbmBytesPerCore: chip.hbmBytesPerCore,
      fits,
      verdict: fits
        ? `fits: peak ${gib(m.peakBytes)} of ${gib(chip.hbmBytesPerCore)} HBM per core`
        : `OUT OF MEMORY: peak ${gib(m.peakBytes)} exceeds ${gib(chip.hbmBytesPerCore)} HBM per core`,
    },
    criticalPath: critical,
    program: {
      method,
      ...(req.blocks !== undefined ? { blocks: req.blocks } : {}),
      equationsPerCore: walk.equations,
      distinctSignatures: walk.distinctSignatures,
      coreClasses: walk.coreClasses,
      representativeCore: walk.representativeCore,
    },
    calibration: {
      mxuEfficiency: chip.mxuEfficiency,
      opOverheadSeconds: chip.opOverheadSeconds,
      iciHopLatencySeconds: chip.iciHopLatencySeconds,
      transcendentalVpuOps: chip.transcendentalVpuOps,
    },
    wallSeconds: host.wallSeconds,
    cpuSeconds: host.cpuSeconds,
  };
}

/** Compiles and prices one step of `req` on its topology. */
export function estimate(req: EstimateRequest): EstimateReport {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { walk, method, meshAxes } = walkStep(req);
  const cpu = process.cpuUsage(cpu0);
  return buildReport(req, walk, method, { wallSeconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 }, meshAxes);
}
