/**
 * The control block: one SharedArrayBuffer, shared by every core of a mesh, that carries
 * all synchronisation of the collectives (the data itself moves between arenas).
 *
 * Layout, in 32-bit words:
 *   [0..15]   header: magic, number of cores, number of communicator slots per core
 *   [16..]    one "dead" word per core, set by the supervisor when a worker exits
 *   slots     one slot per (axis mask, core), SLOT_WORDS words each, 8-byte aligned:
 *     +0  progress: (call number << 16) + steps done in that call, compared modulo 2^32
 *     +1  aborted call: call number + 1 of the call this core gave up on (0: none)
 *     +2  culprit core + 1 named by that abort
 *     +3  failure code of that abort
 *     +8  two call descriptors (by call parity), DESC_F64 float64 each
 * A communicator is keyed by its set of mesh axes (a bitmask), so calls over ('data')
 * and over ('data', 'model') count their own call numbers.
 */
import type { CollectiveFailure } from './errors.js';

const MAGIC = 0x54505553; // "TPUS"
const HEADER_WORDS = 16;
export const SLOT_WORDS = 64;
export const DESC_F64 = 12;
export const SLOT_PROGRESS = 0;
export const SLOT_ABORT = 1;
export const SLOT_CULPRIT = 2;
export const SLOT_FAILURE = 3;
const SLOT_DESC = 8;

/** Descriptor fields (float64 index within a descriptor). */
export const D_SIG = 0;
export const D_OP = 1;
export const D_DTYPE = 2;
export const D_IN_COUNT = 3;
export const D_OUT_COUNT = 4;
export const D_IN_OFFSET = 5;
export const D_OUT_OFFSET = 6;
export const D_SCRATCH_OFFSET = 7;
export const D_ARRIVAL = 8;

export const FAILURE_CODES: readonly CollectiveFailure[] = ['timeout', 'peer-dead', 'peer-aborted', 'mismatch'];

export interface ControlLayout {
  readonly numCores: number;
  readonly numMasks: number;
  readonly words: Int32Array;
  readonly f64: Float64Array;
}

function slotsBase(numCores: number): number {
  const w = HEADER_WORDS + numCores;
  return (w + 1) & ~1; // even word: 8-byte aligned
}

/** A control block for a mesh of `numAxes` axes over `numCores` cores (core ids 0..numCores-1). */
export function createControlBlock(numCores: number, numAxes: number): SharedArrayBuffer {
  const numMasks = 1 << numAxes;
  const words = slotsBase(numCores) + numMasks * numCores * SLOT_WORDS;
  const sab = new SharedArrayBuffer(words * 4);
  const w = new Int32Array(sab);
  w[0] = MAGIC;
  w[1] = numCores;
  w[2] = numMasks;
  return sab;
}

export function controlLayout(sab: SharedArrayBuffer): ControlLayout {
  const words = new Int32Array(sab);
  if (words[0] !== MAGIC) throw new Error('control block: not a tpusim collectives control block');
  return { numCores: words[1]!, numMasks: words[2]!, words, f64: new Float64Array(sab) };
}

/** Word index of the dead flag of `core`. */
export function deadIndex(core: number): number {
  return HEADER_WORDS + core;
}

/** Word index of the slot of (mask, core). */
export function slotIndex(l: Pick<ControlLayout, 'numCores'>, mask: number, core: number): number {
  return slotsBase(l.numCores) + (mask * l.numCores + core) * SLOT_WORDS;
}

/** Float64 index of the descriptor of call parity `parity` in a slot. */
export function descIndex(slot: number, parity: number): number {
  return (slot + SLOT_DESC) / 2 + parity * DESC_F64;
}

/** The progress word value for (call, steps done). */
export function progressValue(call: number, steps: number): number {
  return ((call << 16) + steps) | 0;
}

/** Whether progress word `v` is at or past `target` (serial-number comparison, wraps safely). */
export function reached(v: number, target: number): boolean {
  return ((v - target) | 0) >= 0;
}

export function isCoreDead(sab: SharedArrayBuffer, core: number): boolean {
  return Atomics.load(new Int32Array(sab), deadIndex(core)) !== 0;
}

/**
 * Supervisor side: mark `core` dead (its worker exited) and wake every waiter, so each
 * surviving core's collective fails at once instead of at its deadline.
 */
export function markCoreDead(sab: SharedArrayBuffer, core: number): void {
  const l = controlLayout(sab);
  if (core < 0 || core >= l.numCores) throw new Error(`control block: no core ${core}`);
  Atomics.store(l.words, deadIndex(core), 1);
  for (let mask = 0; mask < l.numMasks; mask++) {
    for (let c = 0; c < l.numCores; c++) Atomics.notify(l.words, slotIndex(l, mask, c) + SLOT_PROGRESS);
  }
}
