/**
 * `tpusim demo`: one emulated TensorCore running a small real workload through primitive
 * calls, printing what it computed, the simulated time and what bound each op.
 *
 * 1. A 2-layer MLP forward on random data: dot_general, broadcast_in_dim + add (bias),
 *    max against zeros (relu), a second dot, reduce_sum. Checked against a float64 host
 *    computation of the same network.
 * 2. Brute-force inner-product search: the score matmul, then approx_max_k (TPU-KNN's
 *    PartialReduce) and exact top_k; the recall of the approximate result is measured
 *    against the exact one.
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import type { DeviceTensor } from '../tpu/arena.js';
import { formatBytes } from '../tpu/arena.js';
import { type PrimitiveCall, TensorCore, type TraceEvent } from '../tpu/core.js';
import { roundToBf16 } from '../tpu/dtype.js';
import type { PrimitiveParams } from '../tpu/ops.js';
import { approxTopKReductionOutputSize } from '../tpu/prims/approx_topk.js';
import { tensorFrom, toNumbers } from '../tpu/tensor.js';
import { coreLocation, parseTopology } from '../tpu/topology.js';
import type { Command } from './main.js';
import { mulberry32 } from '../tpu/host_rng.js';

export interface DemoOptions {
  readonly topology: string;
  readonly seed: number;
  /** Sizes; defaults keep the demo to about a second of wall time. */
  readonly batch?: number;
  readonly inFeatures?: number;
  readonly hidden?: number;
  readonly outFeatures?: number;
  readonly databaseSize?: number;
  readonly queries?: number;
  readonly dim?: number;
  readonly k?: number;
  readonly recallTarget?: number;
}

export interface DemoResult {
  readonly topology: string;
  readonly chip: string;
  readonly coreChipCoords: readonly number[];
  /** Sum of the MLP's outputs, computed on the emulated core. */
  readonly mlpOutputSum: number;
  /** Largest |core - host float64| over the MLP's outputs, relative to the largest |output|. */
  readonly mlpMaxRelativeError: number;
  /** Fraction of the exact top-k found by approx_max_k. */
  readonly recall: number;
  /** Simulated seconds of the fused search with approx_max_k, and with exact (sort-based) top_k. */
  readonly approxSearchSeconds: number;
  readonly exactSearchSeconds: number;
  /** Bins PartialReduce kept per query (XLA's reduced size); expected recall is ((L-1)/L)^(k-1). */
  readonly approxBins: number;
  readonly simulatedSeconds: number;
  readonly utilization: number;
  readonly usefulFlops: number;
  /** Wall-clock seconds spent in the core's calls. */
  readonly wallSeconds: number;
  /** Emulated useful FLOPs per wall-clock second spent in the core's calls. */
  readonly emulatedFlopsPerSecond: number;
  readonly peakHbmBytes: number;
  /** How many ops a fast kernel computed, and how many the reference kernel. */
  readonly kernels: string;
  readonly trace: readonly TraceEvent[];
}


/** Standard normal samples (Box-Muller), scaled. */
function normals(rand: () => number, n: number, scale: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

const MATMUL: PrimitiveParams['dot_general'] = {
  contractingDims: [[1], [0]],
  batchDims: [[], []],
  preferredElementType: 'f32',
};

/** Host float64 reference of the MLP, from the same bf16-rounded inputs the core saw. */
function hostMlp(
  x: Float64Array, w1: Float64Array, b1: Float64Array, w2: Float64Array,
  batch: number, inF: number, hidden: number, outF: number,
): Float64Array {
  const h = new Float64Array(batch * hidden);
  for (let i = 0; i < batch; i++) {
    for (let j = 0; j < hidden; j++) {
      let acc = b1[j]!;
      for (let p = 0; p < inF; p++) acc += x[i * inF + p]! * w1[p * hidden + j]!;
      // The core feeds the second matmul bf16 activations, so round the same way.
      h[i * hidden + j] = roundToBf16(Math.max(acc, 0));
    }
  }
  const y = new Float64Array(batch * outF);
  for (let i = 0; i < batch; i++) {
    for (let j = 0; j < outF; j++) {
      let acc = 0;
      for (let p = 0; p < hidden; p++) acc += h[i * hidden + p]! * w2[p * outF + j]!;
      y[i * outF + j] = acc;
    }
  }
  return y;
}

export function runDemo(opts: DemoOptions): DemoResult {
  const topology = parseTopology(opts.topology);
  const location = coreLocation(topology, 0);
  const batch = opts.batch ?? 128;
  const inF = opts.inFeatures ?? 256;
  const hidden = opts.hidden ?? 512;
  const outF = opts.outFeatures ?? 128;
  const n = opts.databaseSize ?? 16384;
  const queries = opts.queries ?? 64;
  const dim = opts.dim ?? 128;
  const k = opts.k ?? 10;
  const recallTarget = opts.recallTarget ?? 0.95;
  const rand = mulberry32(opts.seed);

  const core = new TensorCore({
    chip: topology.chip,
    coreId: location.coreId,
    trace: true,
    hbmBytes: 256 * 1024 ** 2,
  });
  const put = (dtype: 'bf16' | 'f32', shape: number[], values: Float64Array, label: string): DeviceTensor => {
    const host = tensorFrom(dtype, shape, values);
    const t = core.arena.tensor(dtype, shape, label);
    t.data.set(host.data as never);
    return t;
  };
  // Wall time spent emulating (core calls only, not host data generation or the host check).
  let wallSeconds = 0;
  const timed = <T>(run: () => T): T => {
    const start = performance.now();
    try {
      return run();
    } finally {
      wallSeconds += (performance.now() - start) / 1e3;
    }
  };

  // ---- 1. MLP forward ----
  const xVals = normals(rand, batch * inF, 1);
  const w1Vals = normals(rand, inF * hidden, 1 / Math.sqrt(inF));
  const b1Vals = normals(rand, hidden, 0.1);
  const w2Vals = normals(rand, hidden * outF, 1 / Math.sqrt(hidden));
  const x = put('bf16', [batch, inF], xVals, 'x');
  const w1 = put('bf16', [inF, hidden], w1Vals, 'w1');
  const b1 = put('f32', [hidden], b1Vals, 'b1');
  const w2 = put('bf16', [hidden, outF], w2Vals, 'w2');
  const zero = tensorFrom('f32', [], [0]);
  const [[y, total]] = timed(() => core.executeSequence(
    [
      { op: 'dot_general', params: MATMUL, inputs: [x, w1], labels: ['x@w1'] },
      { op: 'broadcast_in_dim', params: { shape: [batch, hidden], broadcastDimensions: [1] }, inputs: [b1] },
      { op: 'add', params: {}, inputs: [{ call: 0 }, { call: 1 }] },
      { op: 'broadcast_in_dim', params: { shape: [batch, hidden], broadcastDimensions: [] }, inputs: [zero] },
      { op: 'max', params: {}, inputs: [{ call: 2 }, { call: 3 }], labels: ['relu'] },
      { op: 'convert_element_type', params: { newDtype: 'bf16' }, inputs: [{ call: 4 }] },
      { op: 'dot_general', params: MATMUL, inputs: [{ call: 5 }, w2], labels: ['y'] },
      { op: 'reduce_sum', params: { axes: [0, 1] }, inputs: [{ call: 6 }], labels: ['sum(y)'] },
    ],
    { keep: [{ call: 6 }, { call: 7 }] },
  )) as [[DeviceTensor, DeviceTensor]];
  const yCore = toNumbers(y);
  const mlpOutputSum = toNumbers(total)[0]!;
  const round = (v: Float64Array) => v.map(roundToBf16);
  const yHost = hostMlp(round(xVals), round(w1Vals), Float64Array.from(b1Vals, Math.fround), round(w2Vals), batch, inF, hidden, outF);
  let maxAbs = 0;
  let maxErr = 0;
  for (let i = 0; i < yHost.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(yHost[i]!));
    maxErr = Math.max(maxErr, Math.abs(yHost[i]! - yCore[i]!));
  }
  for (const t of [x, w1, b1, w2, y, total]) core.arena.release(t);

  // ---- 2. inner-product search: approx_max_k vs exact top_k ----
  // Each search is one fusion, as TPU-KNN runs it: the score matrix never reaches HBM.
  const db = put('bf16', [n, dim], normals(rand, n * dim, 1), 'database');
  const q = put('bf16', [queries, dim], normals(rand, queries * dim, 1), 'queries');
  const scoreCall = {
    op: 'dot_general',
    params: { contractingDims: [[1], [1]], batchDims: [[], []], preferredElementType: 'f32' },
    inputs: [q, db],
    labels: ['scores'],
  } as const;
  const search = (select: PrimitiveCall): [DeviceTensor, DeviceTensor, number] => {
    const before = core.now;
    const [[values, indices]] = timed(() =>
      core.executeSequence([scoreCall, select], { keep: [{ call: 1, output: 0 }, { call: 1, output: 1 }], fusion: true }),
    ) as [[DeviceTensor, DeviceTensor]];
    return [values, indices, core.now - before];
  };
  const [approxValues, approxIndices, approxSeconds] = search(
    {
      op: 'approx_max_k',
      params: { k, reductionDimension: 1, recallTarget, reductionInputSizeOverride: -1, aggregateToTopk: true },
      inputs: [{ call: 0 }],
    },
  );
  const [exactValues, exactIndices, exactSeconds] = search({ op: 'top_k', params: { k }, inputs: [{ call: 0 }] });
  const approxIdx = toNumbers(approxIndices);
  const exactIdx = toNumbers(exactIndices);
  let hits = 0;
  for (let r = 0; r < queries; r++) {
    const truth = new Set(exactIdx.subarray(r * k, (r + 1) * k));
    for (let j = 0; j < k; j++) if (truth.has(approxIdx[r * k + j]!)) hits++;
  }
  for (const t of [db, q, approxValues, approxIndices, exactValues, exactIndices]) core.arena.release(t);

  const stats = core.stats();
  return {
    topology: topology.name,
    chip: topology.chip.generation,
    coreChipCoords: location.chipCoords,
    mlpOutputSum,
    mlpMaxRelativeError: maxAbs > 0 ? maxErr / maxAbs : maxErr,
    recall: hits / (queries * k),
    approxSearchSeconds: approxSeconds,
    exactSearchSeconds: exactSeconds,
    approxBins: approxBinsOf(n, k, recallTarget),
    simulatedSeconds: core.now,
    utilization: stats.utilization,
    usefulFlops: stats.usefulFlops,
    wallSeconds,
    emulatedFlopsPerSecond: stats.usefulFlops / wallSeconds,
    peakHbmBytes: stats.hbmPeakBytesInUse,
    kernels: `${stats.fastKernelOps} fast, ${stats.referenceKernelOps} reference`,
    trace: core.trace,
  };
}

/** The bins PartialReduce keeps for a rank-2 operand (XLA's rule), or n when it does not reduce. */
function approxBinsOf(n: number, k: number, recallTarget: number): number {
  const r = approxTopKReductionOutputSize(n, 2, k, recallTarget, false);
  return r.log2Reduction > 0 ? r.outputSize : n;
}

function formatSeconds(s: number): string {
  if (s >= 1) return `${s.toFixed(3)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(3)} ms`;
  return `${(s * 1e6).toFixed(2)} µs`;
}

function formatFlops(f: number): string {
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [scale, unit] of units) if (f >= scale) return `${(f / scale).toFixed(2)} ${unit}`;
  return f.toFixed(0);
}

export function formatDemo(r: DemoResult, k: number): string {
  const lines: string[] = [];
  lines.push(`tpusim demo: one emulated ${r.chip} TensorCore (core 0 of ${r.topology}, chip at (${r.coreChipCoords.join(', ')}))`);
  lines.push('');
  lines.push('ops (simulated time, binding unit):');
  const nameOf = (e: TraceEvent) => (e.fusedOps ? `fusion(${e.fusedOps.join(', ')})` : e.op);
  const opWidth = Math.max(...r.trace.map((e) => nameOf(e).length));
  for (const e of r.trace) {
    const shapes = `${e.inputShapes.join(', ')} -> ${e.outputShapes.join(', ')}`;
    lines.push(`  ${nameOf(e).padEnd(opWidth)}  ${formatSeconds(e.end - e.start).padStart(11)}  ${e.binding.padEnd(8)}  ${shapes}`);
  }
  lines.push('');
  lines.push('results (computed on the emulated core):');
  lines.push(`  MLP: sum of outputs ${r.mlpOutputSum.toFixed(4)}; max error vs float64 host ${(r.mlpMaxRelativeError * 100).toExponential(2)}% of max |y|`);
  lines.push(`  search: approx_max_k recall@${k} ${r.recall.toFixed(3)} against exact top_k (${r.approxBins} bins; expected ≥ ${(((r.approxBins - 1) / r.approxBins) ** (k - 1)).toFixed(3)})`);
  lines.push(
    `  search time: approx_max_k ${formatSeconds(r.approxSearchSeconds)} vs sort-based top_k ${formatSeconds(r.exactSearchSeconds)} ` +
      `(${(r.exactSearchSeconds / r.approxSearchSeconds).toFixed(1)}x), each fused with its score matmul`,
  );
  lines.push('');
  lines.push(`simulated time  ${formatSeconds(r.simulatedSeconds)}`);
  lines.push(`utilization     ${(r.utilization * 100).toFixed(2)}% of peak (useful MXU FLOPs / (time x peak per core))`);
  lines.push(`peak HBM        ${formatBytes(r.peakHbmBytes)}`);
  lines.push(`emulation       ${formatFlops(r.usefulFlops)}FLOP in ${r.wallSeconds.toFixed(3)} s wall = ${formatFlops(r.emulatedFlopsPerSecond)}FLOP/s emulated (kernels: ${r.kernels})`);
  return lines.join('\n');
}

const HELP = `usage: tpusim demo [--topology NAME] [--seed N]

Runs a 2-layer MLP forward and an approx_max_k search on one emulated TensorCore
(core 0 of the topology) and prints the results, the simulated time, utilization,
the unit that bound each op and the emulation speed.

options:
  --topology NAME  slice to take the chip from: v4-8 (default), v5litepod-16, v4:2x2x4, ...
  --seed N         seed for the random data (default 0)
  -h, --help       show this help`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'run a small MLP and an approx top-k search on one emulated TensorCore',
  run(argv) {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        topology: { type: 'string', default: 'v4-8' },
        seed: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    const seed = Number(values.seed);
    if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be an integer, got ${JSON.stringify(values.seed)}`);
    const k = 10;
    const result = runDemo({ topology: values.topology, seed, k });
    console.log(formatDemo(result, k));
    return 0;
  },
};
