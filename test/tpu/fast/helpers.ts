/**
 * Shared by the fast-path tests: the backends to check (built first when missing), seeded
 * random tensors, the reference kernels, and accumulation-order tolerances.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DType, f32ToBf16Bits, readElement } from '../../../src/tpu/dtype.js';
import type { PrimitiveName, PrimitiveParams } from '../../../src/tpu/ops.js';
import { primitiveDef } from '../../../src/tpu/primitives.js';
import { type TensorView, hostTensor } from '../../../src/tpu/tensor.js';
import { mulberry32 as rng } from '../../../src/tpu/host_rng.js';

const root = join(import.meta.dirname, '..', '..', '..');

/**
 * Runs `script` unless `target` exists. Test files run in parallel processes, so one of them
 * builds (holding a lock directory) while the others wait for it, up to two minutes.
 */
function buildOnce(target: string, script: string, args: string[]): void {
  if (existsSync(target)) return;
  const tag = createHash('sha1').update(root).digest('hex').slice(0, 12);
  const lock = join(tmpdir(), `tpusim-${tag}-${script.replace(/\W/g, '_')}.lock`);
  try {
    mkdirSync(lock);
  } catch {
    const until = Date.now() + 120_000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (existsSync(lock) && Date.now() < until) Atomics.wait(pause, 0, 0, 200);
    return;
  }
  try {
    execFileSync(process.execPath, [join(root, 'scripts', script), ...args], { stdio: 'ignore' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Builds dist/wasm and the native addon if a previous build has not (a failed native build is allowed). */
export function ensureBuilt(): void {
  buildOnce(join(root, 'dist', 'wasm', 'gemm.wasm'), 'build-wasm.mjs', []);
  buildOnce(join(root, 'native', 'build', 'Release', 'tpusim_fast.node'), 'build-native.mjs', ['--quiet-failure']);
}

export { rng };

/** A tensor of values uniform in [-1, 1) (rounded to the dtype), or from `gen`. */
export function randomTensor(dtype: DType, shape: readonly number[], next: () => number, gen?: () => number): TensorView {
  const t = hostTensor(dtype, shape);
  for (let i = 0; i < t.data.length; i++) {
    const v = gen ? gen() : next() * 2 - 1;
    t.data[i] = dtype === 'bf16' ? f32ToBf16Bits(v) : v;
  }
  return t;
}

/** The same tensor with every element's absolute value. */
export function absTensor(t: TensorView): TensorView {
  const a = hostTensor(t.dtype, t.shape);
  for (let i = 0; i < t.data.length; i++) a.data[i] = t.dtype === 'bf16' ? t.data[i]! & 0x7fff : Math.abs(t.data[i]!);
  return a;
}

/** Fresh outputs from the shape rule, filled with a sentinel so "wrote nothing" is checkable. */
export function outputsFor<N extends PrimitiveName>(name: N, inputs: readonly TensorView[], params: PrimitiveParams[N]): TensorView[] {
  return primitiveDef(name)
    .shape(inputs, params)
    .map((v) => {
      const t = hostTensor(v.dtype, v.shape);
      t.data.fill(v.dtype === 'bf16' ? 0x7fc1 : v.dtype === 'i32' ? -7 : NaN);
      return t;
    });
}

export function reference<N extends PrimitiveName>(name: N, inputs: readonly TensorView[], params: PrimitiveParams[N]): TensorView[] {
  const outs = outputsFor(name, inputs, params);
  primitiveDef(name).reference(inputs, outs, params);
  return outs;
}

const U32 = 2 ** -24; // unit roundoff of f32

/**
 * Largest |fast - ref| / allowed over the elements, where two summations of the same `terms`
 * products in different orders (blocked, FMA or not, f32 or wider partial sums) differ by at
 * most 2 * terms * u * sum|products| (each is within terms*u*sum of the exact value); a bf16
 * result may also round to the neighbouring bf16 value, one bf16 ulp (2^-7 relative) away.
 * <= 1 passes.
 */
export function worstError(fast: TensorView, ref: TensorView, absSum: TensorView, terms: number): number {
  let worst = 0;
  for (let i = 0; i < ref.data.length; i++) {
    const f = readElement(fast.dtype, fast.data, i);
    const r = readElement(ref.dtype, ref.data, i);
    const s = readElement(absSum.dtype, absSum.data, i);
    let allowed = 2 * terms * U32 * s * (1 + 2 ** -7) + 1e-30;
    if (fast.dtype === 'bf16') allowed += 2 ** -7 * Math.abs(r) + 2 ** -7 * allowed;
    if (Number.isNaN(f) !== Number.isNaN(r)) return Infinity;
    if (Number.isNaN(r)) continue;
    worst = Math.max(worst, Math.abs(f - r) / allowed);
  }
  return worst;
}

/** Whether every element of `t` still holds the sentinel written by outputsFor. */
export function untouched(t: TensorView): boolean {
  for (let i = 0; i < t.data.length; i++) {
    const v = t.data[i]!;
    if (t.dtype === 'bf16' ? v !== 0x7fc1 : t.dtype === 'i32' ? v !== -7 : !Number.isNaN(v)) return false;
  }
  return true;
}
