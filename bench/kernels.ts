/**
 * Fast-kernel benchmark: single-thread GFLOP/s of the fast dot_general and conv on every
 * backend this host loads, beside numbers measured in the same run for the reference
 * kernel (on a smaller size, labelled) and numpy's matmul with OPENBLAS_NUM_THREADS=1.
 *
 *   npm run bench:kernels            (builds first)
 *   node dist/bench/kernels.js --quick
 */
import { spawnSync } from 'node:child_process';
import { f32ToBf16Bits } from '../src/tpu/dtype.js';
import type { KernelBackend } from '../src/tpu/fast/backend.js';
import { availableBackends, fastKernelsFor } from '../src/tpu/fast/index.js';
import { loadWasmBackend } from '../src/tpu/fast/wasm_backend.js';
import type { PrimitiveParams } from '../src/tpu/ops.js';
import { primitiveDef } from '../src/tpu/primitives.js';
import { type TensorView, hostTensor } from '../src/tpu/tensor.js';

const quick = process.argv.includes('--quick');
const DOT_SHAPES: readonly (readonly [number, number, number])[] = [
  [256, 256, 256],
  [1024, 1024, 1024],
  [64, 128, 65536],
];
const REFERENCE_DOT: readonly [number, number, number] = [96, 96, 96];

interface ConvShape {
  readonly label: string;
  readonly lhs: readonly number[];
  readonly rhs: readonly number[];
  readonly params: PrimitiveParams['conv_general_dilated'];
}
const nhwc = (stride: number, pad: number): PrimitiveParams['conv_general_dilated'] => ({
  windowStrides: [stride, stride],
  padding: [[pad, pad], [pad, pad]],
  lhsDilation: [1, 1],
  rhsDilation: [1, 1],
  dimensionNumbers: { lhsSpec: [0, 3, 1, 2], rhsSpec: [3, 2, 0, 1], outSpec: [0, 3, 1, 2] },
  featureGroupCount: 1,
  batchGroupCount: 1,
});
const CONV: ConvShape = { label: 'NHWC 8x32x32x64 * HWIO 3x3x64x64, same', lhs: [8, 32, 32, 64], rhs: [3, 3, 64, 64], params: nhwc(1, 1) };
const REFERENCE_CONV: ConvShape = { label: 'NHWC 1x8x8x32 * 3x3x32x32', lhs: [1, 8, 8, 32], rhs: [3, 3, 32, 32], params: nhwc(1, 1) };

function random(shape: readonly number[], dtype: 'f32' | 'bf16' = 'f32'): TensorView {
  const t = hostTensor(dtype, shape);
  for (let i = 0; i < t.data.length; i++) {
    const v = Math.random() * 2 - 1;
    t.data[i] = dtype === 'bf16' ? f32ToBf16Bits(v) : v;
  }
  return t;
}

/** Best seconds of one run of `fn`: at least 3 runs and ~`budget` seconds, after one warm-up. */
function bestSeconds(fn: () => void, budget = quick ? 0.2 : 1): number {
  fn();
  let best = Infinity;
  const start = performance.now();
  for (let runs = 0; runs < 3 || (performance.now() - start) / 1000 < budget; runs++) {
    const t = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t) / 1000);
    if (runs > 200) break;
  }
  return best;
}

const dotParams: PrimitiveParams['dot_general'] = { contractingDims: [[1], [0]], batchDims: [[], []] };
const dotFlops = ([m, k, n]: readonly number[]) => 2 * m! * k! * n!;
function convFlops(c: ConvShape): number {
  const out = primitiveDef('conv_general_dilated').shape([random(c.lhs), random(c.rhs)], c.params)[0]!;
  const [kh, kw, ci] = c.rhs;
  return 2 * out.shape.reduce((a, b) => a * b, 1) * kh! * kw! * ci!;
}

function dotGflops(backend: KernelBackend, shape: readonly [number, number, number], dtype: 'f32' | 'bf16' = 'f32'): number {
  const [m, k, n] = shape;
  const lhs = random([m, k], dtype);
  const rhs = random([k, n], dtype);
  const out = hostTensor('f32', [m, n]);
  const params = { ...dotParams, preferredElementType: 'f32' as const };
  const dot = fastKernelsFor(backend).dot_general!;
  if (!dot([lhs, rhs], [out], params)) throw new Error(`${backend.name} declined a plain matmul`);
  return dotFlops(shape) / bestSeconds(() => dot([lhs, rhs], [out], params)) / 1e9;
}

function convGflops(backend: KernelBackend, c: ConvShape): number {
  const lhs = random(c.lhs);
  const rhs = random(c.rhs);
  const out = hostTensor('f32', primitiveDef('conv_general_dilated').shape([lhs, rhs], c.params)[0]!.shape);
  const conv = fastKernelsFor(backend).conv_general_dilated!;
  if (!conv([lhs, rhs], [out], c.params)) throw new Error(`${backend.name} declined an NHWC conv`);
  return convFlops(c) / bestSeconds(() => conv([lhs, rhs], [out], c.params)) / 1e9;
}

function referenceDotGflops(shape: readonly [number, number, number]): number {
  const [m, k, n] = shape;
  const lhs = random([m, k]);
  const rhs = random([k, n]);
  const out = hostTensor('f32', [m, n]);
  const ref = primitiveDef('dot_general').reference;
  return dotFlops(shape) / bestSeconds(() => ref([lhs, rhs], [out], dotParams), 0.5) / 1e9;
}

function referenceConvGflops(c: ConvShape): number {
  const lhs = random(c.lhs);
  const rhs = random(c.rhs);
  const out = hostTensor('f32', primitiveDef('conv_general_dilated').shape([lhs, rhs], c.params)[0]!.shape);
  const ref = primitiveDef('conv_general_dilated').reference;
  return convFlops(c) / bestSeconds(() => ref([lhs, rhs], [out], c.params), 0.5) / 1e9;
}

// numpy, one thread. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be pinned on this host for old
// OpenBLAS builds; they slow a current one, so they are unset (together) for this command only.
const NUMPY_SCRIPT = `
import json, sys, time
import numpy as np
shapes = json.loads(sys.argv[1]); budget = float(sys.argv[2])
res = {}
for m, k, n in shapes:
    a = np.random.rand(m, k).astype(np.float32); b = np.random.rand(k, n).astype(np.float32)
    a @ b
    best = 1e9; start = time.perf_counter(); runs = 0
    while runs < 3 or time.perf_counter() - start < budget:
        t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t); runs += 1
    res[f"{m}x{k}x{n}"] = 2 * m * k * n / best / 1e9
kernel = "unknown (threadpoolctl not installed)"
try:
    from threadpoolctl import threadpool_info
    kernel = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} threads={i.get('num_threads')}" for i in threadpool_info())
except ImportError:
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        kernel = f"{cfg.get('name')} {cfg.get('version')} (core type not reported without threadpoolctl)"
    except Exception:
        pass
print(json.dumps({"gflops": res, "kernel": kernel, "numpy": np.__version__}))
`;

interface NumpyResult {
  readonly gflops: Record<string, number>;
  readonly kernel: string;
  readonly numpy: string;
}

function numpyBaseline(): NumpyResult | null {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync('python3', ['-c', NUMPY_SCRIPT, JSON.stringify(DOT_SHAPES), quick ? '0.2' : '1'], {
    env,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (run.status !== 0) return null;
  try {
    return JSON.parse(run.stdout.trim().split('\n').pop()!) as NumpyResult;
  } catch {
    return null;
  }
}

function bestOf(a: NumpyResult | null, b: NumpyResult | null): NumpyResult | null {
  if (a === null || b === null) return a ?? b;
  const gflops: Record<string, number> = {};
  for (const key of Object.keys(a.gflops)) gflops[key] = Math.max(a.gflops[key]!, b.gflops[key] ?? 0);
  return { ...a, gflops };
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

function main(): void {
  const backends = availableBackends();
  const relaxed = backends.find((b) => b.name === 'wasm-simd') as (KernelBackend & { relaxed?: boolean }) | undefined;
  const labels = new Map<KernelBackend, string>(backends.map((b) => [b, b.name]));
  if (relaxed?.relaxed) {
    labels.set(relaxed, 'wasm-simd relaxed_madd');
    const plain = loadWasmBackend(false);
    if (plain !== null) {
      backends.splice(backends.indexOf(relaxed) + 1, 0, plain);
      labels.set(plain, 'wasm-simd mul+add');
    }
  }

  console.log(`tpusim kernel bench: node ${process.version}, one thread${quick ? ' (quick)' : ''}`);
  // numpy runs before and after the backends and keeps its best per shape, so a busy
  // shared host does not flatter the ratios.
  const numpyBefore = numpyBaseline();
  const refDot = referenceDotGflops(REFERENCE_DOT);
  const refConv = referenceConvGflops(REFERENCE_CONV);
  console.log(
    `reference kernels (src/tpu/prims), measured on smaller problems: dot ${REFERENCE_DOT.join('x')} ${fmt(refDot, 3)} GFLOP/s; ` +
      `conv ${REFERENCE_CONV.label} ${fmt(refConv, 3)} GFLOP/s. "x ref" divides by these.`,
  );

  const rows: string[][] = [];
  for (const backend of backends) {
    const slow = backend.name === 'js' || backend.name === 'native-generic';
    for (const shape of DOT_SHAPES) {
      const g = dotGflops(backend, shape);
      rows.push([`dot f32 ${shape.join('x')}`, labels.get(backend)!, fmt(g), '-', '-', fmt(g / refDot, 0)]);
      if (quick && slow) break;
    }
    const gb = dotGflops(backend, [1024, 1024, 1024], 'bf16');
    rows.push(['dot bf16->f32 1024x1024x1024', labels.get(backend)!, fmt(gb), '-', '-', fmt(gb / refDot, 0)]);
    const gc = convGflops(backend, CONV);
    rows.push([`conv f32 ${CONV.label}`, labels.get(backend)!, fmt(gc), '-', '-', fmt(gc / refConv, 0)]);
  }
  const numpy = bestOf(numpyBefore, numpyBaseline());
  console.log(numpy ? `numpy ${numpy.numpy} matmul, OPENBLAS_NUM_THREADS=1: ${numpy.kernel}` : 'numpy: not available (python3 -c "import numpy" failed)');
  if (numpy) {
    for (const row of rows) {
      const np = numpy.gflops[row[0]!.replace('dot f32 ', '')];
      if (np !== undefined) {
        row[3] = fmt(np);
        row[4] = fmt(Number(row[2]) / np, 2);
      }
    }
    for (const shape of DOT_SHAPES) rows.push([`dot f32 ${shape.join('x')}`, 'numpy (OpenBLAS, 1 thread)', fmt(numpy.gflops[shape.join('x')]), '1.00', '', '']);
  }
  const header = ['kernel (MxKxN)', 'backend', 'GFLOP/s', 'numpy', 'x numpy', 'x ref'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

main();
