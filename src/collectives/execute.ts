/**
 * Runs one step of a schedule: the transfers of one rank, reading peers' buffers through a
 * table of (array, element offset) per (rank, buffer kind). The same function moves the
 * bytes in a worker thread and in the single-thread interleaving checker of the tests.
 */
import type { DType } from '../tpu/dtype.js';
import { type ElementArray, copySpans, reduceSpans, zeroSpan } from './movement.js';
import type { Transfer } from './schedule.js';
import type { ReduceOp } from './semantics.js';

/** Buffers of every rank of a group: slot `rank * 3 + kind` (kinds IN, OUT, SCRATCH). */
export interface BufferTable {
  readonly arrays: ElementArray[];
  /** Element offset of the buffer within its array. */
  readonly bases: number[];
}

export function makeBufferTable(p: number, empty: ElementArray): BufferTable {
  return { arrays: new Array<ElementArray>(3 * p).fill(empty), bases: new Array<number>(3 * p).fill(0) };
}

export function runTransfers(ts: readonly Transfer[], dtype: DType, op: ReduceOp, table: BufferTable): void {
  const { arrays, bases } = table;
  for (let i = 0; i < ts.length; i++) {
    const t = ts[i]!;
    const d = t.dst.owner * 3 + t.dst.buf;
    if (t.kind === 'copy') {
      const s = t.src.owner * 3 + t.src.buf;
      copySpans(arrays[d]!, bases[d]!, t.dst.span, arrays[s]!, bases[s]!, t.src.span, t.count);
    } else if (t.kind === 'reduce') {
      const a = t.a.owner * 3 + t.a.buf;
      const b = t.b.owner * 3 + t.b.buf;
      reduceSpans(dtype, op, arrays[d]!, bases[d]!, t.dst.span, arrays[a]!, bases[a]!, t.a.span, arrays[b]!, bases[b]!, t.b.span, t.count);
    } else {
      zeroSpan(arrays[d]!, bases[d]!, t.dst.span, t.count);
    }
  }
}
