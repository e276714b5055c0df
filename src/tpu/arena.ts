/**
 * A TensorCore's HBM: one SharedArrayBuffer (peers may read it, like ICI DMA) plus an
 * allocator whose metadata lives only on the owning thread.
 *
 * The allocator is best-fit with coalescing over an address-ordered free list, the policy
 * of TensorFlow/XLA's BFC allocator ("best-fit with coalescing"). Best fit, because a
 * training loop allocates and frees the same sizes every step: the exact-size hole a freed
 * tensor leaves is the best fit for the next step's tensor of that size, so repeated
 * same-size alloc/free reuses the same blocks and fragmentation does not grow. Ties go to
 * the lowest address, which keeps live data packed toward the start.
 *
 * Free blocks are indexed as BFC does:
 * - by address, through boundary tags: two maps from a free block's start and end offsets
 *   to the block, so freeing finds and merges both neighbours in O(1);
 * - by size, in power-of-two size-class bins (bin i holds sizes in [2^i, 2^(i+1)) granules),
 *   each kept sorted by (size, address). Best fit is a bisection in the request's bin, or
 *   the first block of the next non-empty bin: O(log n) plus a tight O(bin length) shift to
 *   insert or remove, and the bins keep that length small.
 *
 * Every block starts at a multiple of GRANULE_BYTES and is sized in multiples of it (the
 * last block of the arena may be shorter), so any alignment up to GRANULE_BYTES costs
 * nothing; larger power-of-two alignments split off a leading free fragment.
 */
import { type DType, itemsize, typedArrayView } from './dtype.js';
import { type TensorView, sizeOf } from './tensor.js';

export interface Allocation {
  readonly offset: number;
  readonly bytes: number;
  readonly label: string;
}

/** A tensor living in an arena: its view plus the allocation that owns its bytes. */
export type DeviceTensor = TensorView & { readonly allocation: Allocation };

/** Block granularity and default alignment, in bytes (a cache line; XLA's minimum TPU alignment is larger, 512 B, but 64 keeps small test arenas dense). */
export const GRANULE_BYTES = 64;

/** Bytes the way TensorFlow's HumanReadableNumBytes prints them: "512B", "1.50GiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes}B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(2)}${units[unit]}`;
}

export class OutOfMemoryError extends Error {
  override name = 'OutOfMemoryError';
  constructor(
    readonly requestedBytes: number,
    readonly label: string,
    readonly bytesInUse: number,
    readonly capacity: number,
    readonly largestFreeBlock: number = capacity - bytesInUse,
  ) {
    const fragmented =
      capacity - bytesInUse >= requestedBytes ? ` (fragmented: largest free block is ${formatBytes(largestFreeBlock)})` : '';
    super(
      `RESOURCE_EXHAUSTED: Out of memory while trying to allocate ${formatBytes(requestedBytes)} for ${label}; ` +
        `${formatBytes(bytesInUse)} of ${formatBytes(capacity)} in use${fragmented}`,
    );
  }
}

/** Misuse of the arena: double free, foreign allocation, bad size or alignment, view too large. */
export class ArenaError extends Error {
  override name = 'ArenaError';
}

interface Block {
  offset: number;
  size: number;
}

interface LiveRecord {
  /** Bytes the block holds: the request rounded up to the granule. */
  readonly reserved: number;
}

function bySizeThenAddress(a: Block, b: Block): number {
  return a.size - b.size || a.offset - b.offset;
}

/** Size-class bins: enough for any safe-integer size in granules (2^53 / 64 = 2^47). */
const BIN_COUNT = 48;

/** The bin of a block of `size` bytes: floor(log2(size in granules)), 0 for sub-granule tails. */
function binOf(size: number): number {
  const granules = size / GRANULE_BYTES;
  return granules < 2 ? 0 : Math.min(BIN_COUNT - 1, Math.floor(Math.log2(granules)));
}

/** Index of the first element of sorted `xs` not less than `key`. */
function lowerBound(xs: readonly Block[], key: Block, cmp: (a: Block, b: Block) => number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(xs[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts `x` at `at`, shifting the tail by hand (V8's splice is a slow generic builtin). */
function insertAt(xs: Block[], at: number, x: Block): void {
  xs.push(x);
  for (let i = xs.length - 1; i > at; i--) xs[i] = xs[i - 1]!;
  xs[at] = x;
}

function removeAt(xs: Block[], at: number): void {
  const n = xs.length - 1;
  for (let i = at; i < n; i++) xs[i] = xs[i + 1]!;
  xs.pop();
}

function isPowerOfTwo(x: number): boolean {
  return Number.isInteger(x) && x > 0 && (x & (x - 1)) === 0 && x <= 2 ** 30;
}

export class HbmArena {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;

  /** Size-class bins, each sorted by (size, offset). */
  private readonly bins: Block[][] = Array.from({ length: BIN_COUNT }, () => []);
  /** Boundary tags: free blocks by start offset and by end offset. */
  private readonly freeByStart = new Map<number, Block>();
  private readonly freeByEnd = new Map<number, Block>();
  private readonly live = new Map<Allocation, LiveRecord>();
  /** Allocations freed already, so a second free says "double free" rather than "foreign". */
  private readonly freed = new WeakSet<Allocation>();
  private inUse = 0;
  private reservedInUse = 0;
  private peak = 0;

  constructor(opts: { capacityBytes: number; buffer?: SharedArrayBuffer }) {
    const { capacityBytes, buffer } = opts;
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
      throw new ArenaError(`HbmArena: capacityBytes must be a non-negative integer, got ${capacityBytes}`);
    }
    if (buffer && buffer.byteLength < capacityBytes) {
      throw new ArenaError(
        `HbmArena: buffer of ${buffer.byteLength} bytes is smaller than capacityBytes ${capacityBytes}`,
      );
    }
    this.buffer = buffer ?? new SharedArrayBuffer(capacityBytes);
    this.capacity = capacityBytes;
    if (capacityBytes > 0) this.insertFree({ offset: 0, size: capacityBytes });
  }

  /** Bytes requested by the live allocations (what their tensors hold). */
  get bytesInUse(): number {
    return this.inUse;
  }

  /** Bytes held by live allocations including rounding to the granule. */
  get bytesReserved(): number {
    return this.reservedInUse;
  }

  /** The most bytesInUse reached since construction or the last resetPeak(). */
  get peakBytesInUse(): number {
    return this.peak;
  }

  resetPeak(): void {
    this.peak = this.inUse;
  }

  get largestFreeBlock(): number {
    for (let b = BIN_COUNT - 1; b >= 0; b--) {
      const bin = this.bins[b]!;
      if (bin.length > 0) return bin[bin.length - 1]!.size;
    }
    return 0;
  }

  /** Number of live allocations. */
  get liveCount(): number {
    return this.live.size;
  }

  /** Number of free blocks (1 for an empty arena: coalescing keeps this small). */
  get freeBlockCount(): number {
    return this.freeByStart.size;
  }

  alloc(bytes: number, label = 'unnamed', alignment = GRANULE_BYTES): Allocation {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new ArenaError(`alloc(${label}): bytes must be a non-negative integer, got ${bytes}`);
    }
    if (!isPowerOfTwo(alignment)) {
      throw new ArenaError(`alloc(${label}): alignment must be a power of two, got ${alignment}`);
    }
    if (bytes === 0) {
      // Holds no bytes and overlaps nothing; offset 0 is aligned for every dtype.
      const a: Allocation = { offset: 0, bytes: 0, label };
      this.live.set(a, { reserved: 0 });
      return a;
    }
    const rounded = Math.ceil(bytes / GRANULE_BYTES) * GRANULE_BYTES;
    // Smallest block of at least `bytes`, lowest address first (only the arena's last block
    // can be between `bytes` and `rounded`, since every other block is a granule multiple).
    const key: Block = { offset: -1, size: bytes };
    for (let b = binOf(bytes); b < BIN_COUNT; b++) {
      const bin = this.bins[b]!;
      for (let i = lowerBound(bin, key, bySizeThenAddress); i < bin.length; i++) {
        const block = bin[i]!;
        const start = Math.ceil(block.offset / alignment) * alignment;
        const pad = start - block.offset;
        if (pad + bytes > block.size) continue;
        const reserved = Math.min(rounded, block.size - pad);
        this.removeFree(block, i);
        if (pad > 0) this.insertFree({ offset: block.offset, size: pad });
        const tail = block.size - pad - reserved;
        if (tail > 0) this.insertFree({ offset: start + reserved, size: tail });
        const a: Allocation = { offset: start, bytes, label };
        this.live.set(a, { reserved });
        this.inUse += bytes;
        this.reservedInUse += reserved;
        if (this.inUse > this.peak) this.peak = this.inUse;
        return a;
      }
    }
    throw new OutOfMemoryError(bytes, label, this.inUse, this.capacity, this.largestFreeBlock);
  }

  free(a: Allocation): void {
    const record = this.live.get(a);
    if (!record) {
      const what = this.freed.has(a) ? 'double free' : 'allocation not owned by this arena';
      throw new ArenaError(`free(${a.label}): ${what} (offset ${a.offset}, ${a.bytes} bytes)`);
    }
    this.live.delete(a);
    this.freed.add(a);
    this.inUse -= a.bytes;
    this.reservedInUse -= record.reserved;
    if (record.reserved === 0) return;

    let offset = a.offset;
    let size = record.reserved;
    const next = this.freeByStart.get(offset + size);
    if (next) {
      size += next.size;
      this.removeFree(next);
    }
    const prev = this.freeByEnd.get(offset);
    if (prev) {
      offset = prev.offset;
      size += prev.size;
      this.removeFree(prev);
    }
    this.insertFree({ offset, size });
  }

  /** A typed view of `shape` at the allocation's offset; the allocation must be live and large enough. */
  view(dtype: DType, shape: readonly number[], a: Allocation): TensorView {
    if (!this.live.has(a)) {
      throw new ArenaError(`view(${a.label}): allocation is not live in this arena`);
    }
    const n = sizeOf(shape);
    const bytes = n * itemsize(dtype);
    if (bytes > a.bytes) {
      throw new ArenaError(
        `view(${a.label}): ${dtype}[${shape.join(',')}] needs ${bytes} bytes but the allocation holds ${a.bytes}`,
      );
    }
    return { dtype, shape: [...shape], data: typedArrayView(dtype, this.buffer, a.offset, n) };
  }

  /** Allocates and views a tensor of `dtype` and `shape`. */
  tensor(dtype: DType, shape: readonly number[], label = `${dtype}[${shape.join(',')}]`): DeviceTensor {
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d < 0) {
        throw new ArenaError(`tensor(${label}): dims must be non-negative integers, got [${shape.join(',')}]`);
      }
    }
    const allocation = this.alloc(sizeOf(shape) * itemsize(dtype), label);
    return { ...this.view(dtype, shape, allocation), allocation };
  }

  release(t: DeviceTensor): void {
    this.free(t.allocation);
  }

  /** Free blocks in address order, as [offset, size] pairs (for tests and diagnostics). */
  freeBlocks(): Array<readonly [number, number]> {
    return [...this.freeByStart.values()].sort((x, y) => x.offset - y.offset).map((b) => [b.offset, b.size] as const);
  }

  private insertFree(block: Block): void {
    const bin = this.bins[binOf(block.size)]!;
    insertAt(bin, lowerBound(bin, block, bySizeThenAddress), block);
    this.freeByStart.set(block.offset, block);
    this.freeByEnd.set(block.offset + block.size, block);
  }

  /** Removes `block` from the indexes; `binIndex` is its index in its bin when known. */
  private removeFree(block: Block, binIndex?: number): void {
    const bin = this.bins[binOf(block.size)]!;
    removeAt(bin, binIndex ?? lowerBound(bin, block, bySizeThenAddress));
    this.freeByStart.delete(block.offset);
    this.freeByEnd.delete(block.offset + block.size);
  }
}
