import { afterEach, describe, expect, it, vi } from 'vitest';
import { Gemm, GEMM_DESC_LENGTH } from '../../../src/tpu/fast/backend.js';
import { loadNativeBackend } from '../../../src/tpu/fast/native_backend.js';
import { ensureBuilt } from './helpers.js';

ensureBuilt();

const ENTRIES = ['dot_general', 'conv_general_dilated', 'reduce_sum', 'reduce_max', 'reduce_min', 'top_k', 'approx_max_k'];

async function freshIndex(forced: string | undefined) {
  vi.resetModules();
  if (forced === undefined) delete process.env.TPUSIM_FAST_BACKEND;
  else process.env.TPUSIM_FAST_BACKEND = forced;
  return import('../../../src/tpu/fast/index.js');
}

describe('FAST_KERNELS and backend selection', () => {
  const saved = process.env.TPUSIM_FAST_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.TPUSIM_FAST_BACKEND;
    else process.env.TPUSIM_FAST_BACKEND = saved;
  });

  it('has an entry for every hot primitive', async () => {
    const { FAST_KERNELS } = await freshIndex(undefined);
    expect(Object.keys(FAST_KERNELS).sort()).toEqual([...ENTRIES].sort());
  });

  it('picks native when the addon loads, and honours TPUSIM_FAST_BACKEND', async () => {
    const native = loadNativeBackend();
    const auto = await freshIndex(undefined);
    expect(auto.fastBackend()).toBe(native?.name ?? 'wasm-simd');
    expect((await freshIndex('wasm')).fastBackend()).toBe('wasm-simd');
    expect((await freshIndex('js')).fastBackend()).toBe('js');
    if (native !== null) expect((await freshIndex('native')).fastBackend()).toBe(native.name);
  });

  it('rejects an unknown TPUSIM_FAST_BACKEND by name', async () => {
    await expect(freshIndex('gpu')).rejects.toThrow(/TPUSIM_FAST_BACKEND="gpu"/);
  });
});

describe.runIf(loadNativeBackend() !== null)('native addon guards', () => {
  it('refuses a descriptor that reaches past an array, writing nothing', () => {
    const backend = loadNativeBackend()!;
    const a = new Float32Array(6).fill(1);
    const b = new Float32Array(6).fill(1);
    const c = new Float32Array(4).fill(-1);
    const desc = new Float64Array(GEMM_DESC_LENGTH);
    desc[Gemm.Batch] = 1;
    desc[Gemm.M] = 2;
    desc[Gemm.N] = 2;
    desc[Gemm.K] = 3;
    desc[Gemm.ARow] = 3;
    desc[Gemm.ACol] = 1;
    desc[Gemm.BRow] = 2;
    desc[Gemm.BCol] = 1;
    desc[Gemm.CRow] = 2;
    desc[Gemm.CBatch] = 4;
    expect(backend.gemm(a, b, c, desc)).toBe(true);
    expect([...c]).toEqual([3, 3, 3, 3]);
    c.fill(-1);
    desc[Gemm.K] = 4; // a and b would be read past their ends
    expect(backend.gemm(a, b, c, desc)).toBe(false);
    desc[Gemm.K] = 3;
    desc[Gemm.CRow] = 3; // c would be written past its end
    expect(backend.gemm(a, b, c, desc)).toBe(false);
    expect([...c]).toEqual([-1, -1, -1, -1]);
  });
});
