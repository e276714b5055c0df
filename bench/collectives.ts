/**
 * Collectives benchmark, NCCL-tests style (nccl-tests doc/PERFORMANCE.md): for 2, 4 and 8
 * cores (one worker thread each) and sizes from 1 KiB to 256 MiB, the wall time of each op
 * and its algorithm and bus bandwidth:
 *   algbw = size / time;  busbw = algbw x 2(n-1)/n (all-reduce), x (n-1)/n (all-gather,
 *   reduce-scatter, all-to-all), x 1 (collective-permute).
 * `size` is what nccl-tests calls it: the buffer of all-reduce, all-to-all and permute, the
 * gathered output of all-gather, the input of reduce-scatter.
 * Beside them, two baselines measured in the same run: single-thread memcpy bandwidth
 * (TypedArray.set) and an all-reduce built on postMessage (structured clone).
 *
 *   npm run bench:collectives -- [--cores 2,4,8] [--max 256M] [--min 1K] [--factor 4] [--ops all_reduce,...]
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import os from 'node:os';
import type { CommunicatorConfig } from '../src/collectives/communicator.js';
import { createControlBlock } from '../src/collectives/control.js';
import { gridInterconnect, iciLink } from '../src/collectives/interconnect.js';
import { makeMesh } from '../src/collectives/mesh.js';
import type { CollectiveParams } from '../src/collectives/semantics.js';
import { CHIPS } from '../src/tpu/chips.js';
import type { BenchReply } from './collectives-worker.js';

const WORKER = new URL('./collectives-worker.js', import.meta.url);
const KiB = 1024;
const MiB = 1024 * KiB;

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bench: bad size ${s}; use e.g. 1K, 64M`);
  const unit = { '': 1, K: KiB, M: MiB, G: 1024 * MiB }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const coreCounts = arg('cores', '2,4,8').split(',').map(Number);
const minBytes = parseSize(arg('min', '1K'));
const maxBytes = parseSize(arg('max', '256M'));
const factor = Number(arg('factor', '4'));
const opNames = arg('ops', 'all_reduce,all_gather,reduce_scatter,all_to_all,ppermute').split(',');
const REFERENCE_BYTES = Math.min(64 * MiB, maxBytes);

interface OpSpec {
  readonly name: string;
  readonly busFactor: (n: number) => number;
  /** Operand shape (f32 elements) for an nccl-tests `size` over p ranks. */
  readonly shape: (elements: number, p: number) => number[];
  readonly c: (p: number) => CollectiveParams;
  /** Arena bytes per core for a `size`: operand + output + scratch. */
  readonly arenaBytes: (bytes: number, p: number) => number;
}

const OPS: Record<string, OpSpec> = {
  all_reduce: {
    name: 'all_reduce',
    busFactor: (n) => (2 * (n - 1)) / n,
    shape: (e) => [e],
    c: () => ({ kind: 'all-reduce', params: { op: 'sum' } }),
    arenaBytes: (b) => 2 * b,
  },
  all_gather: {
    name: 'all_gather',
    busFactor: (n) => (n - 1) / n,
    shape: (e, p) => [e / p],
    c: () => ({ kind: 'all-gather', params: { axis: 0, tiled: true } }),
    arenaBytes: (b, p) => b + b / p,
  },
  reduce_scatter: {
    name: 'reduce_scatter',
    busFactor: (n) => (n - 1) / n,
    shape: (e) => [e],
    c: () => ({ kind: 'reduce-scatter', params: { scatterDimension: 0, tiled: true, op: 'sum' } }),
    arenaBytes: (b, p) => 2 * b + b / p,
  },
  all_to_all: {
    name: 'all_to_all',
    busFactor: (n) => (n - 1) / n,
    shape: (e) => [e],
    c: () => ({ kind: 'all-to-all', params: { splitAxis: 0, concatAxis: 0, tiled: true } }),
    arenaBytes: (b) => 2 * b,
  },
  ppermute: {
    name: 'ppermute',
    busFactor: () => 1,
    shape: (e) => [e],
    c: (p) => ({ kind: 'collective-permute', params: { perm: Array.from({ length: p }, (_, i) => [i, (i + 1) % p] as const) } }),
    arenaBytes: (b) => 2 * b,
  },
};

function sizes(): number[] {
  const out: number[] = [];
  for (let b = minBytes; b <= maxBytes; b *= factor) out.push(b);
  return out;
}

function fmt(x: number, w: number, digits = 2): string {
  return x.toFixed(digits).padStart(w);
}

function sizeLabel(b: number): string {
  return b >= MiB ? `${b / MiB}M` : b >= KiB ? `${b / KiB}K` : `${b}`;
}

/** The next message from `w`, or its error. */
function reply<T>(w: Worker): Promise<T> {
  return new Promise((res, rej) => {
    const onError = (e: Error): void => rej(e);
    w.once('error', onError);
    w.once('message', (m: T) => {
      w.off('error', onError);
      res(m);
    });
  });
}

function ready(w: Worker): Promise<void> {
  return reply<unknown>(w).then(() => undefined);
}

function ask<T>(w: Worker, msg: unknown): Promise<T> {
  const r = reply<T>(w);
  w.postMessage(msg);
  return r;
}

/** Single-thread memcpy: bytes copied per second by TypedArray.set of `bytes`. */
function memcpyBandwidth(bytes: number): number {
  const src = new Uint8Array(bytes).fill(1);
  const dst = new Uint8Array(bytes);
  dst.set(src);
  const iters = Math.max(3, Math.min(200, Math.floor(2e9 / bytes)));
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) dst.set(src);
  return (bytes * iters) / ((performance.now() - t0) / 1e3);
}

async function postMessageAllReduce(p: number, bytes: number): Promise<number> {
  const channels = Array.from({ length: p }, () => new MessageChannel()); // channel r: r -> r+1
  const workers = Array.from({ length: p }, (_, r) => {
    const next = channels[r]!.port1;
    const prev = channels[(r - 1 + p) % p]!.port2;
    return new Worker(WORKER, { workerData: { mode: 'postmessage', rank: r, p, next, prev }, transferList: [next, prev] });
  });
  await Promise.all(workers.map(ready));
  const iters = Math.max(2, Math.min(20, Math.floor(0.2e9 / bytes)));
  const replies = await Promise.all(workers.map((w) => ask<BenchReply>(w, { type: 'postmessage', elements: bytes / 4, iters, warmup: 1 })));
  await Promise.all(workers.map((w) => w.terminate()));
  return Math.max(...replies.map((r) => r.seconds));
}

interface Row {
  readonly bytes: number;
  readonly seconds: number;
  readonly algbw: number;
  readonly busbw: number;
}

async function benchCores(p: number, ops: OpSpec[]): Promise<Map<string, Row[]>> {
  const arenaBytes = Math.max(...ops.map((o) => o.arenaBytes(maxBytes, p))) + MiB;
  const mesh = makeMesh({ x: p });
  const control = createControlBlock(p, 1);
  const buffers = Array.from({ length: p }, () => new SharedArrayBuffer(arenaBytes));
  // The host's cores form a ring of v4 chips with wraparound: the bidirectional ring algorithm.
  const interconnect = gridInterconnect([p], [true], iciLink(CHIPS.v4));
  const workers = mesh.devices.map((coreId) => {
    const config: CommunicatorConfig = { coreId, mesh, interconnect, control, buffers, timeoutMs: 120_000 };
    return new Worker(WORKER, { workerData: { mode: 'shared', config } });
  });
  await Promise.all(workers.map(ready));
  const results = new Map<string, Row[]>();
  for (const op of ops) {
    const rows: Row[] = [];
    for (const bytes of sizes()) {
      const elements = bytes / 4;
      if (!Number.isInteger(elements / p)) continue;
      const base = { type: 'shared', c: op.c(p), shape: op.shape(elements, p) };
      // One timed call sizes the run: about 0.3 s per point, 2 to 100 iterations.
      const probe = await Promise.all(workers.map((w) => ask<BenchReply>(w, { ...base, iters: 1, warmup: 1 })));
      const iters = Math.max(2, Math.min(100, Math.round(0.3 / Math.max(...probe.map((r) => r.seconds)))));
      const replies = await Promise.all(workers.map((w) => ask<BenchReply>(w, { ...base, iters, warmup: 0 })));
      const seconds = Math.max(...replies.map((r) => r.seconds));
      const algbw = bytes / seconds;
      rows.push({ bytes, seconds, algbw, busbw: algbw * op.busFactor(p) });
    }
    results.set(op.name, rows);
  }
  await Promise.all(workers.map((w) => w.terminate()));
  return results;
}

function printTable(p: number, op: OpSpec, rows: readonly Row[]): void {
  console.log(`#\n# ${op.name}, ${p} cores`);
  console.log(`#${'size'.padStart(11)}${'count'.padStart(12)}${'type'.padStart(7)}${'time(us)'.padStart(12)}${'algbw(GB/s)'.padStart(13)}${'busbw(GB/s)'.padStart(13)}`);
  for (const r of rows) {
    console.log(
      `${String(r.bytes).padStart(12)}${String(r.bytes / 4).padStart(12)}${'float'.padStart(7)}${fmt(r.seconds * 1e6, 12, 1)}${fmt(r.algbw / 1e9, 13)}${fmt(r.busbw / 1e9, 13)}`,
    );
  }
}

async function main(): Promise<void> {
  const ops = opNames.map((n) => {
    const o = OPS[n];
    if (!o) throw new Error(`bench: unknown op ${n}; known: ${Object.keys(OPS).join(', ')}`);
    return o;
  });
  console.log(`# tpusim collectives benchmark (NCCL-tests style), f32, node ${process.version}, ${os.cpus().length} host CPUs (${os.cpus()[0]?.model ?? '?'})`);
  console.log(`# sizes ${sizeLabel(minBytes)}..${sizeLabel(maxBytes)} x${factor}; each core is a worker thread; data moves through SharedArrayBuffer arenas`);
  const memcpy = memcpyBandwidth(REFERENCE_BYTES);
  console.log(`# baseline: single-thread memcpy (TypedArray.set) of ${sizeLabel(REFERENCE_BYTES)}: ${(memcpy / 1e9).toFixed(2)} GB/s`);
  const summary: string[] = [];
  for (const p of coreCounts) {
    const results = await benchCores(p, ops);
    for (const op of ops) printTable(p, op, results.get(op.name)!);
    const ar = results.get('all_reduce')?.find((r) => r.bytes === REFERENCE_BYTES);
    if (ar) {
      const pmSeconds = await postMessageAllReduce(p, REFERENCE_BYTES);
      const pmBus = (REFERENCE_BYTES / pmSeconds) * ((2 * (p - 1)) / p);
      summary.push(
        `# ${p} cores, all_reduce ${sizeLabel(REFERENCE_BYTES)}: busbw ${(ar.busbw / 1e9).toFixed(2)} GB/s; ` +
          `postMessage ring ${(pmBus / 1e9).toFixed(3)} GB/s (x${(ar.busbw / pmBus).toFixed(1)}); ` +
          `memcpy ${(memcpy / 1e9).toFixed(2)} GB/s (x${(ar.busbw / memcpy).toFixed(2)})`,
      );
    }
  }
  console.log('#\n# summary (targets at 8 cores, 64M: >= 10x postMessage, >= 0.3x memcpy)');
  for (const s of summary) console.log(s);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
