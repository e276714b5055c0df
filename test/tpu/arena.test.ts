import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { type Allocation, ArenaError, GRANULE_BYTES, HbmArena, OutOfMemoryError, formatBytes } from '../../src/tpu/arena.js';

const KiB = 1024;
const GiB = 1024 ** 3;

describe('formatBytes', () => {
  it('prints as TensorFlow HumanReadableNumBytes does', () => {
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(1.5 * GiB)).toBe('1.50GiB');
    expect(formatBytes(2 * KiB)).toBe('2.00KiB');
  });
});

describe('HbmArena', () => {
  it('raises an XLA-style OOM naming bytes, tensor and usage, and stays usable after', () => {
    const arena = new HbmArena({ capacityBytes: 4 * KiB });
    const a = arena.alloc(3 * KiB, 'params');
    let err: unknown;
    try {
      arena.alloc(2 * KiB, 'activations');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    const oom = err as OutOfMemoryError;
    expect(oom.message).toBe(
      'RESOURCE_EXHAUSTED: Out of memory while trying to allocate 2.00KiB for activations; 3.00KiB of 4.00KiB in use',
    );
    expect(oom.requestedBytes).toBe(2 * KiB);
    expect(oom.label).toBe('activations');
    expect(oom.bytesInUse).toBe(3 * KiB);
    expect(oom.capacity).toBe(4 * KiB);
    // Nothing leaked: the arena still serves what fits, and everything after a free.
    expect(arena.bytesInUse).toBe(3 * KiB);
    const b = arena.alloc(KiB, 'small');
    expect(b.offset).toBe(3 * KiB);
    arena.free(a);
    arena.free(b);
    expect(arena.alloc(4 * KiB, 'all').offset).toBe(0);
  });

  it('names fragmentation when enough bytes are free but not contiguous', () => {
    const arena = new HbmArena({ capacityBytes: 3 * KiB });
    const a = arena.alloc(KiB, 'a');
    arena.alloc(KiB, 'b');
    const c = arena.alloc(KiB, 'c');
    arena.free(a);
    arena.free(c);
    expect(() => arena.alloc(2 * KiB, 'big')).toThrow(/fragmented: largest free block is 1.00KiB/);
  });

  it('aligns offsets to the default 64 bytes and to larger powers of two', () => {
    const arena = new HbmArena({ capacityBytes: 64 * KiB });
    const a = arena.alloc(3, 'a');
    const b = arena.alloc(5, 'b');
    expect(a.offset % GRANULE_BYTES).toBe(0);
    expect(b.offset % GRANULE_BYTES).toBe(0);
    expect(b.offset).toBe(GRANULE_BYTES);
    const c = arena.alloc(100, 'c', 4096);
    expect(c.offset % 4096).toBe(0);
    // The skipped gap before c stays usable.
    const d = arena.alloc(64, 'd');
    expect(d.offset).toBeLessThan(c.offset);
    expect(() => arena.alloc(8, 'bad', 48)).toThrow(ArenaError);
  });

  it('coalesces: freeing B then A leaves one hole of A+B at A', () => {
    const arena = new HbmArena({ capacityBytes: 16 * KiB });
    const a = arena.alloc(KiB, 'A');
    const b = arena.alloc(2 * KiB, 'B');
    const c = arena.alloc(KiB, 'C');
    arena.free(b);
    arena.free(a);
    const ab = arena.alloc(3 * KiB, 'A+B');
    expect(ab.offset).toBe(a.offset);
    expect(c.offset).toBe(3 * KiB);
    arena.free(ab);
    arena.free(c);
    expect(arena.freeBlocks()).toEqual([[0, 16 * KiB]]);
  });

  it('reuses the same block for repeated same-size alloc/free (no fragmentation growth)', () => {
    const arena = new HbmArena({ capacityBytes: 1 << 20 });
    const weights = arena.alloc(100_000, 'weights');
    const offsets = new Set<number>();
    for (let step = 0; step < 200; step++) {
      const act = arena.alloc(3000, 'act');
      const grad = arena.alloc(7000, 'grad');
      offsets.add(act.offset).add(grad.offset);
      arena.free(act);
      arena.free(grad);
    }
    expect(offsets.size).toBe(2);
    expect(arena.freeBlockCount).toBe(1);
    arena.free(weights);
  });

  it('accepts zero-size allocations, which hold no bytes', () => {
    const arena = new HbmArena({ capacityBytes: 1 * KiB });
    const z = arena.alloc(0, 'empty');
    expect(z.bytes).toBe(0);
    expect(arena.bytesInUse).toBe(0);
    const t = arena.tensor('f32', [0, 3], 'empty tensor');
    expect(t.data.length).toBe(0);
    expect(arena.alloc(KiB, 'full').offset).toBe(0);
    arena.free(z);
    arena.release(t);
  });

  it('rejects double free and foreign allocations with clear errors', () => {
    const arena = new HbmArena({ capacityBytes: 1 * KiB });
    const other = new HbmArena({ capacityBytes: 1 * KiB });
    const a = arena.alloc(10, 'x');
    arena.free(a);
    expect(() => arena.free(a)).toThrow(/double free/);
    const foreign = other.alloc(10, 'y');
    expect(() => arena.free(foreign)).toThrow(/not owned by this arena/);
    expect(() => arena.free({ offset: 0, bytes: 10, label: 'forged' })).toThrow(ArenaError);
  });

  it('views typed data at the allocation, shared through the buffer', () => {
    const arena = new HbmArena({ capacityBytes: 4 * KiB });
    arena.alloc(100, 'pad');
    const t = arena.tensor('f32', [2, 3], 'x');
    t.data[4] = 2.5;
    expect(new Float32Array(arena.buffer, t.allocation.offset, 6)[4]).toBe(2.5);
    expect(t.allocation.bytes).toBe(24);
    const bf = arena.view('bf16', [12], t.allocation);
    expect(bf.data).toBeInstanceOf(Uint16Array);
    expect(() => arena.view('f32', [7], t.allocation)).toThrow(/needs 28 bytes/);
  });

  it('accepts a given SharedArrayBuffer no smaller than the capacity', () => {
    const sab = new SharedArrayBuffer(2 * KiB);
    const arena = new HbmArena({ capacityBytes: 2 * KiB, buffer: sab });
    expect(arena.buffer).toBe(sab);
    expect(() => new HbmArena({ capacityBytes: 4 * KiB, buffer: sab })).toThrow(/smaller than capacityBytes/);
  });

  it('uses the last, unaligned bytes of an arena whose capacity is not a granule multiple', () => {
    const arena = new HbmArena({ capacityBytes: 100 });
    expect(arena.alloc(100, 'all').offset).toBe(0);
    expect(arena.largestFreeBlock).toBe(0);
  });

  it('tracks peak bytes in use and resets it', () => {
    const arena = new HbmArena({ capacityBytes: 8 * KiB });
    const a = arena.alloc(3000, 'a');
    const b = arena.alloc(2000, 'b');
    arena.free(a);
    expect(arena.peakBytesInUse).toBe(5000);
    expect(arena.bytesInUse).toBe(2000);
    arena.resetPeak();
    expect(arena.peakBytesInUse).toBe(2000);
    arena.alloc(500, 'c');
    expect(arena.peakBytesInUse).toBe(2500);
    arena.free(b);
    expect(arena.peakBytesInUse).toBe(2500);
  });

  it('never overlaps live blocks and counts bytes exactly under random alloc/free', () => {
    const capacity = 64 * KiB;
    const action = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), bytes: fc.integer({ min: 0, max: 6000 }), alignShift: fc.integer({ min: 0, max: 12 }) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 200 }), (actions) => {
        const arena = new HbmArena({ capacityBytes: capacity });
        const live: Allocation[] = [];
        let expectedInUse = 0;
        let expectedPeak = 0;
        for (const act of actions) {
          if (act.kind === 'alloc') {
            const alignment = 1 << act.alignShift;
            try {
              const a = arena.alloc(act.bytes, 'r', alignment);
              expect(a.offset % alignment).toBe(0);
              expect(a.offset + a.bytes).toBeLessThanOrEqual(capacity);
              live.push(a);
              expectedInUse += a.bytes;
              expectedPeak = Math.max(expectedPeak, expectedInUse);
            } catch (e) {
              expect(e).toBeInstanceOf(OutOfMemoryError);
            }
          } else if (live.length > 0) {
            const [a] = live.splice(act.pick % live.length, 1);
            arena.free(a!);
            expectedInUse -= a!.bytes;
          }
          expect(arena.bytesInUse).toBe(expectedInUse);
          expect(arena.peakBytesInUse).toBe(expectedPeak);
          // Live blocks pairwise disjoint, and disjoint from every free block.
          const spans = live
            .filter((a) => a.bytes > 0)
            .map((a) => [a.offset, a.offset + a.bytes] as const)
            .concat(arena.freeBlocks().map(([o, s]) => [o, o + s] as const))
            .sort((x, y) => x[0] - y[0]);
          for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
          // Free blocks are coalesced: no two adjacent.
          const free = arena.freeBlocks();
          for (let i = 1; i < free.length; i++) expect(free[i]![0]).toBeGreaterThan(free[i - 1]![0] + free[i - 1]![1]);
        }
        for (const a of live) arena.free(a);
        expect(arena.bytesInUse).toBe(0);
        expect(arena.freeBlocks()).toEqual([[0, capacity]]);
      }),
      { numRuns: 150 },
    );
  });
});
