/**
 * HBM accounting by liveness, without allocating: the buffers the per-core executor
 * (src/gspmd/executor.ts) would hold, in the same order. Inputs are placed in HBM before
 * the first equation if anything reads them and freed after their last use (they are
 * donated, as a training step donates its parameters and optimizer state); constants are
 * placed at their first use; an equation's outputs are allocated while its operands are
 * still live, then whatever has no later use is freed. Program outputs live to the end.
 *
 * One difference from the executor, so that the profile is the TPU's and not the host
 * arena's: a broadcast_in_dim is never materialized. XLA fuses a broadcast into every
 * consumer (it is cheaper to recompute than to store), so its result takes no HBM; its
 * operand stays live instead, until the broadcast's last reader. (The executor allocates
 * broadcasts, so a step that keeps scalar-times-tensor residuals for its backward pass,
 * as GELU's does, holds more memory in this simulator's arena than on a TPU.)
 *
 * Every live byte is attributed to where it comes from: a parameter, optimizer state or
 * data input, or a value computed by the step (activations, gradients, temporaries).
 */
import type { Atom, Const, Program } from '../../program/ir.js';
import { bytesOf } from '../../tpu/cost/index.js';

export type MemoryRole = 'params' | 'optimizer' | 'data' | 'activations';

export const MEMORY_ROLES: readonly MemoryRole[] = ['params', 'optimizer', 'data', 'activations'];

export type RoleBytes = Record<MemoryRole, number>;

export interface MemoryProfile {
  /** Bytes of the step's inputs per core, by role (what lives in HBM between steps). */
  readonly inputs: RoleBytes;
  /** The largest live total during the step. */
  readonly peakBytes: number;
  /** The live bytes at the peak, by role. */
  readonly atPeak: RoleBytes;
  /** Index of the equation at which the peak is reached (-1: before the first). */
  readonly peakEquation: number;
}

type Key = number | Const;

function zero(): RoleBytes {
  return { params: 0, optimizer: 0, data: 0, activations: 0 };
}

/** Walks `program`'s liveness; `inputRoles[i]` says what program input i is (default 'data'). */
export function memoryProfile(program: Program, inputRoles: readonly MemoryRole[] = []): MemoryProfile {
  // A broadcast's result stands for its operand (resolved through chains of broadcasts).
  const alias = new Map<number, Key>();
  const resolve = (a: Atom): Key => (a.kind === 'var' ? (alias.get(a.id) ?? a.id) : a);
  const last = new Map<Key, number>();
  program.equations.forEach((eq, i) => {
    for (const a of eq.inputs) last.set(resolve(a), i);
    if (eq.op === 'broadcast_in_dim') alias.set(eq.outputs[0]!.id, resolve(eq.inputs[0]!));
  });
  const end = program.equations.length;
  for (const a of program.outputs) last.set(resolve(a), end);

  const live = new Map<Key, { bytes: number; role: MemoryRole }>();
  const current = zero();
  let total = 0;
  const inputs = zero();
  const place = (k: Key, bytes: number, role: MemoryRole): void => {
    live.set(k, { bytes, role });
    current[role] += bytes;
    total += bytes;
  };
  const free = (k: Key): void => {
    const b = live.get(k);
    if (!b) return;
    live.delete(k);
    current[b.role] -= b.bytes;
    total -= b.bytes;
  };

  program.inputs.forEach((v, i) => {
    const role = inputRoles[i] ?? 'data';
    inputs[role] += bytesOf(v.aval);
    if (last.has(v.id) && !live.has(v.id)) place(v.id, bytesOf(v.aval), role);
  });
  let peakBytes = total;
  let atPeak = { ...current };
  let peakEquation = -1;

  program.equations.forEach((eq, i) => {
    for (const a of eq.inputs) if (a.kind === 'const' && !live.has(a)) place(a, bytesOf(a.aval), 'activations');
    const fused = eq.op === 'broadcast_in_dim';
    if (!fused) for (const v of eq.outputs) place(v.id, bytesOf(v.aval), 'activations');
    if (total > peakBytes) {
      peakBytes = total;
      atPeak = { ...current };
      peakEquation = i;
    }
    if (!fused) for (const v of eq.outputs) if (!last.has(v.id)) free(v.id);
    for (const a of eq.inputs) if (last.get(resolve(a)) === i) free(resolve(a));
  });
  return { inputs, peakBytes, atPeak, peakEquation };
}
