import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DatasetFormatError, loadNeighbors, loadVectors } from '../../../src/workloads/knn/formats.js';
import { openDataset } from '../../../src/workloads/knn/dataset.js';
import { syntheticRows } from '../../../src/workloads/knn/generators.js';

const dir = mkdtempSync(join(tmpdir(), 'tpusim-knn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A TexMex file: per vector, int32 d then d components of `itemsize` bytes written by `put`. */
function vecs(rows: readonly (readonly number[])[], itemsize: number, put: (v: DataView, at: number, x: number) => void): Buffer {
  const d = rows[0]!.length;
  const buf = Buffer.alloc(rows.length * (4 + d * itemsize));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  rows.forEach((row, r) => {
    const at = r * (4 + d * itemsize);
    view.setInt32(at, d, true);
    row.forEach((x, t) => put(view, at + 4 + t * itemsize, x));
  });
  return buf;
}

/** A version-1 .npy file of a C-order 2-D array. */
function npy(descr: string, shape: readonly number[], body: Buffer): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

describe('synthetic data', () => {
  it('is a function of (seed, role, row): slices agree, seeds and roles differ', () => {
    for (const kind of ['clusters', 'sphere'] as const) {
      const opts = { kind, d: 8, seed: 42 };
      const whole = syntheticRows(opts, 'database', 0, 50);
      const tail = syntheticRows(opts, 'database', 30, 20);
      expect(Array.from(tail.data)).toEqual(Array.from(whole.data.subarray(30 * 8)));
      expect(Array.from(syntheticRows({ ...opts, seed: 43 }, 'database', 0, 50).data)).not.toEqual(Array.from(whole.data));
      expect(Array.from(syntheticRows(opts, 'queries', 0, 50).data)).not.toEqual(Array.from(whole.data));
    }
  });

  it('puts sphere points on the unit sphere and cluster points near few centers', () => {
    const sphere = syntheticRows({ kind: 'sphere', d: 16, seed: 1 }, 'database', 0, 100);
    for (let r = 0; r < 100; r++) {
      let s = 0;
      for (let t = 0; t < 16; t++) s += sphere.data[r * 16 + t]! ** 2;
      expect(s).toBeCloseTo(1, 5);
    }
    // two clusters, tight spread: every point is within a few spreads of one of two centers
    const c = syntheticRows({ kind: 'clusters', d: 4, seed: 2, clusters: 2, spread: 0.01 }, 'database', 0, 200);
    const distinct = new Set(Array.from({ length: 200 }, (_, r) => Math.round(c.data[r * 4]! * 10)));
    expect(distinct.size).toBeLessThanOrEqual(4);
  });
});

describe('loaders', () => {
  const rows = [
    [1.5, -2, 3.25],
    [0, 0.125, -7],
  ];

  it('round-trips .fvecs, .ivecs and .bvecs', () => {
    writeFileSync(join(dir, 'a.fvecs'), vecs(rows, 4, (v, at, x) => v.setFloat32(at, x, true)));
    writeFileSync(join(dir, 'a.ivecs'), vecs([[5, 6], [7, 8]], 4, (v, at, x) => v.setInt32(at, x, true)));
    writeFileSync(join(dir, 'a.bvecs'), vecs([[1, 255, 0]], 1, (v, at, x) => v.setUint8(at, x)));
    const f = loadVectors(join(dir, 'a.fvecs'));
    expect([f.n, f.d]).toEqual([2, 3]);
    expect(Array.from(f.data)).toEqual(rows.flat());
    expect(Array.from(loadVectors(join(dir, 'a.fvecs'), 1).data)).toEqual(rows[0]);
    const g = loadNeighbors(join(dir, 'a.ivecs'));
    expect([g.n, g.k, ...g.data]).toEqual([2, 2, 5, 6, 7, 8]);
    expect(Array.from(loadVectors(join(dir, 'a.bvecs')).data)).toEqual([1, 255, 0]);
  });

  it('round-trips .npy of f4, f2, f8, u1 and i8', () => {
    const f4 = Buffer.alloc(24);
    rows.flat().forEach((x, i) => f4.writeFloatLE(x, 4 * i));
    writeFileSync(join(dir, 'f4.npy'), npy('<f4', [2, 3], f4));
    expect(Array.from(loadVectors(join(dir, 'f4.npy')).data)).toEqual(rows.flat());
    const f2 = Buffer.alloc(4);
    f2.writeUInt16LE(0x3e00, 0); // 1.5
    f2.writeUInt16LE(0xc000, 2); // -2
    writeFileSync(join(dir, 'f2.npy'), npy('<f2', [1, 2], f2));
    expect(Array.from(loadVectors(join(dir, 'f2.npy')).data)).toEqual([1.5, -2]);
    const f8 = Buffer.alloc(16);
    f8.writeDoubleLE(0.5, 0);
    f8.writeDoubleLE(-4, 8);
    writeFileSync(join(dir, 'f8.npy'), npy('<f8', [2, 1], f8));
    expect(Array.from(loadVectors(join(dir, 'f8.npy')).data)).toEqual([0.5, -4]);
    writeFileSync(join(dir, 'u1.npy'), npy('|u1', [1, 3], Buffer.from([9, 0, 200])));
    expect(Array.from(loadVectors(join(dir, 'u1.npy')).data)).toEqual([9, 0, 200]);
    const i8 = Buffer.alloc(16);
    i8.writeBigInt64LE(3n, 0);
    i8.writeBigInt64LE(12345n, 8);
    writeFileSync(join(dir, 'gt.npy'), npy('<i8', [1, 2], i8));
    expect(Array.from(loadNeighbors(join(dir, 'gt.npy')).data)).toEqual([3, 12345]);
  });

  it('rejects malformed files with the file and the fault named', () => {
    const good = vecs(rows, 4, (v, at, x) => v.setFloat32(at, x, true));
    writeFileSync(join(dir, 'short.fvecs'), good.subarray(0, good.length - 2));
    expect(() => loadVectors(join(dir, 'short.fvecs'))).toThrow(/short\.fvecs.*not a whole number of 16-byte records/);
    const mixed = Buffer.concat([good.subarray(0, 16), vecs([[1, 2, 3, 4]], 4, (v, at, x) => v.setFloat32(at, x, true)).subarray(0, 16)]);
    writeFileSync(join(dir, 'mixed.fvecs'), mixed);
    expect(() => loadVectors(join(dir, 'mixed.fvecs'))).toThrow(/byte 16: vector 1 has dimension 4/);
    writeFileSync(join(dir, 'bad.npy'), Buffer.from('not numpy at all'));
    expect(() => loadVectors(join(dir, 'bad.npy'))).toThrow(DatasetFormatError);
    writeFileSync(join(dir, 'big.npy'), npy('>f4', [1, 1], Buffer.alloc(4)));
    expect(() => loadVectors(join(dir, 'big.npy'))).toThrow(/big-endian/);
    writeFileSync(join(dir, 'trunc.npy'), npy('<f4', [4, 4], Buffer.alloc(8)));
    expect(() => loadVectors(join(dir, 'trunc.npy'))).toThrow(/needs 64 data bytes, the file has 8/);
    writeFileSync(join(dir, 'gtf.npy'), npy('<f4', [1, 1], Buffer.alloc(4)));
    expect(() => loadNeighbors(join(dir, 'gtf.npy'))).toThrow(/must be integers/);
    expect(() => loadVectors(join(dir, 'x.csv'))).toThrow(/unknown vector file type/);
  });
});

describe('file datasets', () => {
  it('serve rows, wrapping query batches and their ground truth, prepared for the distance', () => {
    const put = (v: DataView, at: number, x: number) => v.setFloat32(at, x, true);
    writeFileSync(join(dir, 'base.fvecs'), vecs([[3, 4], [1, 0], [0, 2]], 4, put));
    writeFileSync(join(dir, 'query.fvecs'), vecs([[0, 5], [2, 0]], 4, put));
    writeFileSync(join(dir, 'gt.ivecs'), vecs([[2, 0, 1], [1, 0, 2]], 4, (v, at, x) => v.setInt32(at, x, true)));
    const ds = openDataset({
      dataset: join(dir, 'base.fvecs'), queries: join(dir, 'query.fvecs'), groundTruth: join(dir, 'gt.ivecs'),
      n: 0, d: 1, seed: 0, clusters: 1, distance: 'cosine',
    });
    expect([ds.rows.n, ds.rows.d]).toEqual([3, 2]);
    expect(Array.from(ds.rows.data).map((x) => Math.round(x * 100) / 100)).toEqual([0.6, 0.8, 1, 0, 0, 1]);
    expect(Array.from(ds.queries(1, 3).data)).toEqual([1, 0, 0, 1, 1, 0]);
    expect(Array.from(ds.truth(1, 2, 2)!)).toEqual([1, 0, 2, 0]);
    expect(() => ds.truth(0, 1, 4)).toThrow(/lists 3 neighbors per query, k = 4/);
    expect(() => openDataset({ dataset: join(dir, 'base.fvecs'), n: 0, d: 1, seed: 0, clusters: 1, distance: 'mips' })).toThrow(/config\.queries/);
  });
});
