/**
 * Where database rows live: a preallocated arena region of `capacity` slots dealt to the
 * shards cyclically (slot g on shard g mod p, local row ⌊g / p⌋; see search.ts for why),
 * each slot live or free. Inserting writes a row into the lowest free slot and deleting
 * frees one; a free slot's bias is −inf, so it scores −inf and is never returned. Nothing
 * is rebuilt: there is no index, only rows and a bias per row (TPU-KNN's point).
 *
 * Slots are the ids search results report. The initial rows take slots 0..n−1, so a
 * dataset's own ids (and its ground truth) hold until rows are deleted and reused.
 */
import { type DType, f32ToBf16Bits, roundToBf16 } from '../../tpu/dtype.js';
import { type TensorView, hostTensor } from '../../tpu/tensor.js';
import { type Distance, rowBias } from './distance.js';
import type { VectorSet } from './generators.js';

export type StorageDType = Extract<DType, 'f32' | 'bf16'>;

export class SlotTable {
  readonly rowsPerShard: number;
  private readonly live: Uint8Array;
  private count = 0;
  /** No free slot below this one. */
  private freeFrom = 0;

  constructor(
    readonly capacity: number,
    readonly numShards: number,
  ) {
    if (!Number.isInteger(numShards) || numShards < 1) throw new RangeError(`SlotTable: numShards must be a positive integer, got ${numShards}`);
    if (!Number.isInteger(capacity) || capacity < numShards || capacity % numShards !== 0) {
      throw new RangeError(`SlotTable: capacity ${capacity} must be a positive multiple of the ${numShards} shards`);
    }
    this.rowsPerShard = capacity / numShards;
    this.live = new Uint8Array(capacity);
  }

  get liveCount(): number {
    return this.count;
  }

  /** Whether some slot is free (then the search must add the −inf bias). */
  get hasFreeSlots(): boolean {
    return this.count < this.capacity;
  }

  /** A copy of the live flags, by slot. */
  liveMask(): Uint8Array {
    return this.live.slice();
  }

  isLive(slot: number): boolean {
    return this.live[slot] === 1;
  }

  shardOf(slot: number): number {
    return slot % this.numShards;
  }

  localRow(slot: number): number {
    return Math.floor(slot / this.numShards);
  }

  /** The slot's row in the shard-major host array whose contiguous blocks are the shards. */
  storageRow(slot: number): number {
    return this.shardOf(slot) * this.rowsPerShard + this.localRow(slot);
  }

  /** Marks the lowest `n` free slots live and returns them. */
  allocate(n: number): Int32Array {
    if (n > this.capacity - this.count) {
      throw new RangeError(`knn database: ${n} inserts do not fit, ${this.capacity - this.count} of ${this.capacity} slots are free (raise capacity)`);
    }
    const out = new Int32Array(n);
    let slot = this.freeFrom;
    for (let i = 0; i < n; i++) {
      while (this.live[slot] === 1) slot++;
      this.live[slot] = 1;
      out[i] = slot;
    }
    this.count += n;
    this.freeFrom = slot;
    return out;
  }

  free(slots: ArrayLike<number>): void {
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (!(Number.isInteger(s) && s >= 0 && s < this.capacity) || this.live[s] !== 1) {
        throw new RangeError(`knn database: slot ${s} is not a live row`);
      }
      this.live[s] = 0;
      this.count--;
      if (s < this.freeFrom) this.freeFrom = s;
    }
  }
}

/** Rows to write into slots: values in the storage dtype (raw bf16 bits for bf16) and their biases. */
export interface RowUpdate {
  readonly slots: Int32Array;
  readonly rows: Float32Array | Uint16Array;
  readonly bias: Float32Array;
}

/** Encodes `set`'s rows for storage, with each row's bias computed from the stored (rounded) values. */
export function encodeRows(set: VectorSet, slots: Int32Array, dtype: StorageDType, distance: Distance): RowUpdate {
  const { n, d } = set;
  if (slots.length !== n) throw new RangeError(`encodeRows: ${n} rows for ${slots.length} slots`);
  const rows = dtype === 'bf16' ? new Uint16Array(n * d) : new Float32Array(n * d);
  const bias = new Float32Array(n);
  const stored = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let t = 0; t < d; t++) {
      const v = set.data[r * d + t]!;
      if (dtype === 'bf16') {
        rows[r * d + t] = f32ToBf16Bits(v);
        stored[t] = roundToBf16(v);
      } else {
        rows[r * d + t] = v;
        stored[t] = Math.fround(v);
      }
    }
    bias[r] = rowBias(stored, distance);
  }
  return { slots, rows, bias };
}

/** Deleted slots: their bias becomes −inf (the rows stay, unread by any result). */
export function tombstones(slots: Int32Array, dtype: StorageDType): RowUpdate {
  return {
    slots,
    rows: dtype === 'bf16' ? new Uint16Array(0) : new Float32Array(0),
    bias: new Float32Array(slots.length).fill(Number.NEGATIVE_INFINITY),
  };
}

/**
 * Writes the updates that fall on shard `shard` into its rows [rowsPerShard, d] and bias
 * [rowsPerShard]. An update with no row values (a delete) writes the bias only.
 */
export function applyToShard(rows: TensorView, bias: TensorView, update: RowUpdate, numShards: number, shard: number): number {
  const d = rows.shape[1]!;
  const withRows = update.rows.length > 0;
  let written = 0;
  for (let i = 0; i < update.slots.length; i++) {
    const slot = update.slots[i]!;
    if (slot % numShards !== shard) continue;
    const local = Math.floor(slot / numShards);
    if (withRows) {
      rows.data.set(update.rows.subarray(i * d, (i + 1) * d), local * d);
      written += d * (rows.dtype === 'bf16' ? 2 : 4);
    }
    bias.data[local] = update.bias[i]!;
    written += 4;
  }
  return written;
}

/**
 * The whole database as shard-major host arrays (contiguous block s = shard s, so a put
 * split on the first dim lands each slot on its shard): rows [capacity, d] in `dtype` and
 * bias [capacity] f32, with the update's slots filled and every other slot free (−inf).
 */
export function shardMajorArrays(table: SlotTable, d: number, dtype: StorageDType, update: RowUpdate): { rows: TensorView; bias: TensorView } {
  const rows = hostTensor(dtype, [table.capacity, d]);
  const bias = hostTensor('f32', [table.capacity]);
  bias.data.fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < update.slots.length; i++) {
    const at = table.storageRow(update.slots[i]!);
    rows.data.set(update.rows.subarray(i * d, (i + 1) * d), at * d);
    bias.data[at] = update.bias[i]!;
  }
  return { rows, bias };
}
