/**
 * Programs of N identical blocks (a Transformer's layers) priced from three small ones.
 *
 * Tracing, propagating and partitioning all 64 layers of a 128B model costs a minute of
 * host time, though the partitioned layers are the same. So the step is compiled with 0, 1
 * and 2 blocks, and the per-block program is taken as the difference. That is exact only
 * if every block partitions to the same equations: the multiset of equation signatures
 * (op, params, local shapes) added by block 2 must equal the one added by block 1; if it
 * does not, the caller compiles the full program instead.
 *
 * Step time, unit times, FLOPs, collective times and input bytes are sums over equations
 * (every core's clock moves alike on a uniform mesh), so they extrapolate exactly:
 * x(N) = x(0) + N·(x(1) − x(0)). Peak memory is not a sum: it is reached where the forward
 * pass has saved every block's activations, so it grows by a constant per block from one
 * block on: peak(N) = peak(1) + (N − 1)·(peak(2) − peak(1)).
 */
import type { MemoryProfile, RoleBytes } from './memory.js';
import { MEMORY_ROLES } from './memory.js';
import type { StepTotals, WalkResult } from './walk.js';

/** Signatures whose counts differ between what block 1 and block 2 add (empty: identical blocks). */
export function blockMismatch(w0: WalkResult, w1: WalkResult, w2: WalkResult): string[] {
  const sigs = new Set([...Object.keys(w0.totals.bySignature), ...Object.keys(w1.totals.bySignature), ...Object.keys(w2.totals.bySignature)]);
  const count = (w: WalkResult, s: string): number => w.totals.bySignature[s]?.count ?? 0;
  return [...sigs].filter((s) => count(w1, s) - count(w0, s) !== count(w2, s) - count(w1, s));
}

const line = (a: number, b: number, n: number): number => a + n * (b - a);

function roles(a: RoleBytes, b: RoleBytes, n: number): RoleBytes {
  const out = { ...a };
  for (const r of MEMORY_ROLES) out[r] = line(a[r], b[r], n);
  return out;
}

function totals(t0: StepTotals, t1: StepTotals, n: number): StepTotals {
  const rec = <K extends string>(a: Record<K, number>, b: Record<K, number>): Record<K, number> => {
    const out = { ...a };
    for (const k of Object.keys(b) as K[]) out[k] = line(a[k] ?? 0, b[k], n);
    return out;
  };
  const collectives: StepTotals['collectives'] = {};
  for (const op of new Set([...Object.keys(t0.collectives), ...Object.keys(t1.collectives)])) {
    const a = t0.collectives[op] ?? { count: 0, bytes: 0, seconds: 0 };
    const b = t1.collectives[op] ?? { count: 0, bytes: 0, seconds: 0 };
    collectives[op] = { count: line(a.count, b.count, n), bytes: line(a.bytes, b.bytes, n), seconds: line(a.seconds, b.seconds, n) };
  }
  const bySignature: StepTotals['bySignature'] = {};
  for (const s of new Set([...Object.keys(t0.bySignature), ...Object.keys(t1.bySignature)])) {
    const a = t0.bySignature[s];
    const b = t1.bySignature[s];
    const meta = (b ?? a)!;
    bySignature[s] = { op: meta.op, binding: meta.binding, count: line(a?.count ?? 0, b?.count ?? 0, n), seconds: line(a?.seconds ?? 0, b?.seconds ?? 0, n) };
  }
  return {
    computeSeconds: line(t0.computeSeconds, t1.computeSeconds, n),
    busySeconds: rec(t0.busySeconds, t1.busySeconds),
    boundSeconds: rec(t0.boundSeconds, t1.boundSeconds),
    collectives,
    flops: line(t0.flops, t1.flops, n),
    mxuFlops: line(t0.mxuFlops, t1.mxuFlops, n),
    hbmBytes: line(t0.hbmBytes, t1.hbmBytes, n),
    primitiveOps: line(t0.primitiveOps, t1.primitiveOps, n),
    bySignature,
  };
}

function memory(m0: MemoryProfile, m1: MemoryProfile, m2: MemoryProfile, n: number): MemoryProfile {
  const peak = n === 0 ? m0 : undefined;
  return {
    inputs: roles(m0.inputs, m1.inputs, n),
    peakBytes: peak ? peak.peakBytes : line(m1.peakBytes, m2.peakBytes, n - 1),
    atPeak: peak ? peak.atPeak : roles(m1.atPeak, m2.atPeak, n - 1),
    peakEquation: -1,
  };
}

/** The walk of an N-block program from walks of 0, 1 and 2 blocks (check blockMismatch first). */
export function extrapolateBlocks(w0: WalkResult, w1: WalkResult, w2: WalkResult, n: number): WalkResult {
  return {
    totals: totals(w0.totals, w1.totals, n),
    stepSeconds: line(w0.stepSeconds, w1.stepSeconds, n),
    representativeCore: w2.representativeCore,
    coreClasses: Math.max(w0.coreClasses, w1.coreClasses, w2.coreClasses),
    memory: memory(w0.memory, w1.memory, w2.memory, n),
    equations: line(w0.equations, w1.equations, n),
    distinctSignatures: w2.distinctSignatures,
  };
}
