/**
 * knn: TPU-KNN (Chern et al., NeurIPS 2022, arXiv 2206.14286) on the simulated pod.
 * Brute-force search with approx_max_k over a database sharded across the mesh's cores:
 * each core scores its rows with one dot_general and keeps approx_max_k's candidates
 * (reduction_input_size_override = the whole database, as JAX does under SPMD); the
 * candidates are all-gathered and an exact top-k picks the k best. There is no index:
 * rows are inserted and deleted between batches by writing slots of a preallocated region.
 *
 * Per batch it reports recall@k against exact ground truth (counted on the cores), the
 * formula's expected recall beside it, queries per simulated second with the unit that
 * bound each step, and the same for the sort-based exact search, which also supplies the
 * ground truth when the dataset has none.
 */
import type { DeviceArray, DeviceFunctionRef, JobContext, PodInfo, RunOnCoresResult, WorkloadPlugin } from '../../coordinator/plugin.js';
import { compiledModuleUrl } from '../../coordinator/module_url.js';
import type { BusyUnit } from '../../tpu/core.js';
import { hostTensor } from '../../tpu/tensor.js';
import { itemsize } from '../../tpu/dtype.js';
import { type KnnConfig, knnConfigSchema } from './config.js';
import { openDataset } from './dataset.js';
import type { KnnSearchArgs, KnnSearchReply, KnnUpdateArgs } from './device.js';
import { SlotTable, type StorageDType, encodeRows, shardMajorArrays, tombstones } from './layout.js';
import { type StepTiming, expectedRecall, queriesPerSecond, recallAtK } from './metrics.js';
import { hash32 } from './prng.js';
import { type SearchMode, queryTileRows } from './search.js';

export { knnConfigSchema, type KnnConfig } from './config.js';

interface SearchRun {
  readonly slots: Int32Array;
  readonly hits: number | null;
  readonly simulatedSeconds: number;
  readonly wallSeconds: number;
  readonly steps: KnnSearchReply['steps'];
}

export interface KnnBatchReport {
  readonly batch: number;
  readonly liveRows: number;
  readonly inserted: number;
  readonly deleted: number;
  readonly recall: number;
  readonly expectedRecall: number;
  readonly simulatedSeconds: number;
  readonly simulatedQps: number;
  readonly wallSeconds: number;
  readonly wallQps: number;
  readonly steps: KnnSearchReply['steps'];
  /** The sort-based exact search of the same batch (absent in exact mode, where it is the search). */
  readonly exact: { readonly simulatedSeconds: number; readonly simulatedQps: number; readonly wallSeconds: number; readonly bound: BusyUnit } | null;
  /** Whether the ground truth came from the dataset's file or from the exact search on the pod. */
  readonly truth: 'file' | 'exact-search';
}

export interface KnnResult {
  readonly dataset: string;
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly recallTarget: number;
  readonly distance: KnnConfig['distance'];
  readonly dtype: StorageDType;
  readonly mode: SearchMode;
  readonly aggregateToTopk: boolean;
  readonly chip: string;
  readonly dbAxes: readonly string[];
  readonly shards: number;
  readonly queryShards: number;
  readonly capacity: number;
  readonly batch: number;
  /** Query rows per kernel (bounded by the arena: a tile's scores must fit). */
  readonly queryTile: number;
  readonly batches: readonly KnnBatchReport[];
  /** Over every batch. */
  readonly recall: number;
  readonly expectedRecall: number;
  readonly simulatedQps: number;
  readonly wallQps: number;
  readonly bound: { readonly scoreTopK: BusyUnit; readonly gather: BusyUnit; readonly merge: BusyUnit };
  readonly exact: { readonly simulatedQps: number; readonly bound: BusyUnit } | null;
  /** Simulated QPS of this search over the sort-based exact search's. */
  readonly speedupOverExact: number | null;
}

function fn(name: 'knnSearch' | 'knnUpdate'): DeviceFunctionRef {
  return { module: compiledModuleUrl('./device.js', import.meta.url), name };
}

function product(xs: readonly number[]): number {
  return xs.reduce((p, x) => p * x, 1);
}

function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** `count` distinct live slots, drawn by the seeded hash. */
function pickLive(table: SlotTable, count: number, seed: number, batch: number): Int32Array {
  const out = new Int32Array(Math.min(count, table.liveCount));
  const chosen = new Set<number>();
  for (let i = 0, draw = 0; i < out.length; draw++) {
    const slot = hash32(seed, 300 + batch, draw) % table.capacity;
    if (!table.isLive(slot) || chosen.has(slot)) continue;
    chosen.add(slot);
    out[i++] = slot;
  }
  return out;
}

/** Per-core bytes the job keeps resident: its rows and bias shards, and a batch of queries and truth. */
function residentBytes(rowsPerShard: number, d: number, dtype: StorageDType, localBatch: number, k: number): number {
  return rowsPerShard * d * itemsize(dtype) + rowsPerShard * 4 + localBatch * d * itemsize(dtype) + localBatch * k * 4;
}

/** The pieces of a search call's replies: results of the database-rank-0 cores, in query order. */
function collect(r: RunOnCoresResult<KnnSearchReply>, localBatch: number, k: number, wallSeconds: number): SearchRun {
  const lead = r.cores.map((c) => c.value).filter((v) => v.dbRank === 0);
  const slots = new Int32Array(lead.length * localBatch * k);
  let hits: number | null = null;
  for (const v of lead) {
    slots.set(v.slots!, v.queryBlock * localBatch * k);
    if (v.hits !== null) hits = (hits ?? 0) + v.hits;
  }
  return { slots, hits, simulatedSeconds: r.simulatedSeconds, wallSeconds, steps: lead[0]!.steps };
}

/** The unit that bound the most time over several runs of a step. */
function dominant(timings: readonly StepTiming[]): BusyUnit {
  const byUnit = new Map<BusyUnit, number>();
  for (const t of timings) byUnit.set(t.bound, (byUnit.get(t.bound) ?? 0) + t.seconds);
  return [...byUnit.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'mxu';
}

async function run(ctx: JobContext, cfg: KnnConfig): Promise<KnnResult> {
  const { mesh } = ctx;
  const queryAxis = cfg.query_axis ?? null;
  if (queryAxis !== null && !mesh.axisNames.includes(queryAxis)) {
    throw new Error(`knn: config.query_axis '${queryAxis}' is not an axis of the mesh (${mesh.axisNames.join(', ')})`);
  }
  const dbAxes = mesh.axisNames.filter((a) => a !== queryAxis);
  if (dbAxes.length === 0) throw new Error('knn: config.query_axis leaves no mesh axis to split the database over');
  const size = (a: string): number => mesh.shape[mesh.axisNames.indexOf(a)]!;
  const p = product(dbAxes.map(size));
  const qa = queryAxis === null ? 1 : size(queryAxis);
  if (cfg.batch % qa !== 0) throw new Error(`knn: config.batch = ${cfg.batch} must divide over the ${qa} query shards of '${queryAxis}'`);
  const { k, batch, dtype, distance } = cfg;
  const localBatch = batch / qa;

  const data = openDataset({
    dataset: cfg.dataset, queries: cfg.queries, groundTruth: cfg.ground_truth, n: cfg.n, d: cfg.d, seed: cfg.seed, clusters: cfg.clusters, distance,
  });
  const { n, d } = data.rows;
  const capacity = roundUp(Math.max(cfg.capacity ?? n + cfg.inserts_per_batch * (cfg.batches - 1), n), p);
  const table = new SlotTable(capacity, p);
  if (k > table.rowsPerShard) throw new Error(`knn: config.k = ${k} exceeds the ${table.rowsPerShard} rows of a shard`);
  const { rows, bias } = shardMajorArrays(table, d, dtype, encodeRows(data.rows, table.allocate(n), dtype, distance));
  const rowsArr = await ctx.put(rows, [dbAxes, null], 'knn.rows');
  const biasArr = await ctx.put(bias, [dbAxes], 'knn.bias');
  // The bias add appears once any slot is free, so size the tile for it whenever it may.
  const mayAddBias = distance === 'l2' || capacity > n || cfg.deletes_per_batch > 0;
  const free = ctx.pod.hbmBytesPerCore - residentBytes(table.rowsPerShard, d, dtype, localBatch, k);
  // 10% of the arena is left for the candidates, the gathers and the allocator's granules.
  const queryTile = queryTileRows(localBatch, table.rowsPerShard, mayAddBias, free - ctx.pod.hbmBytesPerCore / 10);
  ctx.log(
    `knn: ${data.description}: ${n} x ${d} ${dtype}, ${distance}, k = ${k}, ${cfg.mode}${cfg.mode === 'approx' ? ` (recall target ${cfg.recall_target})` : ''}; ` +
      `${p} database shards over (${dbAxes.join(', ')})${queryAxis ? `, queries split ${qa} ways over '${queryAxis}'` : ''}; ${capacity} slots; query tile ${queryTile}`,
  );

  const search = async (mode: SearchMode, queries: DeviceArray, truth: DeviceArray | null): Promise<SearchRun> => {
    const args: KnnSearchArgs = {
      queries: queries.id, rows: rowsArr.id, bias: biasArr.id, truth: truth?.id ?? null, dbAxes, queryAxis,
      k, recallTarget: cfg.recall_target, mode, aggregateToTopk: cfg.aggregate_to_topk,
      addBias: distance === 'l2' || table.hasFreeSlots, queryTile,
    };
    const t = performance.now();
    const r = await ctx.runOnCores<KnnSearchReply>(fn('knnSearch'), args);
    return collect(r, localBatch, k, (performance.now() - t) / 1000);
  };
  const update = async (u: KnnUpdateArgs['update']): Promise<void> => {
    const args: KnnUpdateArgs = { rows: rowsArr.id, bias: biasArr.id, dbAxes, update: u };
    await ctx.runOnCores(fn('knnUpdate'), args);
  };

  const reports: KnnBatchReport[] = [];
  let updated = false;
  let inserted = 0;
  for (let b = 0; b < cfg.batches; b++) {
    ctx.throwIfCancelled();
    let ins = 0;
    let del = 0;
    if (b > 0 && (cfg.deletes_per_batch > 0 || cfg.inserts_per_batch > 0)) {
      const gone = pickLive(table, cfg.deletes_per_batch, cfg.seed, b);
      table.free(gone);
      if (gone.length > 0) await update(tombstones(gone, dtype));
      const fresh = data.inserts(inserted, cfg.inserts_per_batch);
      if (fresh.n > 0) await update(encodeRows(fresh, table.allocate(fresh.n), dtype, distance));
      inserted += fresh.n;
      ins = fresh.n;
      del = gone.length;
      updated = true;
    }
    const qs = data.queries(b * batch, batch);
    const encoded = encodeRows(qs, new Int32Array(batch), dtype, 'mips');
    const qt = hostTensor(dtype, [batch, d]);
    qt.data.set(encoded.rows);
    const queries = await ctx.put(qt, [queryAxis, null], 'knn.queries');

    // Ground truth: the dataset's own while its rows are untouched, else the exact search's.
    const given = updated ? null : data.truth(b * batch, batch, k);
    let exact: SearchRun | null = null;
    if (cfg.mode === 'approx' || given === null) exact = await search('exact', queries, null);
    let main: SearchRun;
    if (cfg.mode === 'exact' && given === null) {
      // The exact search is its own ground truth: every result is a hit by definition.
      main = { ...exact!, hits: batch * k };
    } else {
      const tt = hostTensor('i32', [batch, k]);
      tt.data.set(given ?? exact!.slots);
      const truth = await ctx.put(tt, [queryAxis, null], 'knn.truth');
      main = await search(cfg.mode, queries, truth);
      await ctx.free(truth);
    }
    await ctx.free(queries);

    const recall = recallAtK(main.hits ?? 0, batch, k);
    const expected = expectedRecall({ mode: cfg.mode, k, recallTarget: cfg.recall_target, rowsPerShard: table.rowsPerShard, numShards: p });
    const report: KnnBatchReport = {
      batch: b,
      liveRows: table.liveCount,
      inserted: ins,
      deleted: del,
      recall,
      expectedRecall: expected,
      simulatedSeconds: main.simulatedSeconds,
      simulatedQps: queriesPerSecond(batch, main.simulatedSeconds),
      wallSeconds: main.wallSeconds,
      wallQps: queriesPerSecond(batch, main.wallSeconds),
      steps: main.steps,
      exact:
        cfg.mode === 'approx' && exact
          ? { simulatedSeconds: exact.simulatedSeconds, simulatedQps: queriesPerSecond(batch, exact.simulatedSeconds), wallSeconds: exact.wallSeconds, bound: exact.steps.scoreTopK.bound }
          : null,
      truth: given ? 'file' : 'exact-search',
    };
    reports.push(report);
    ctx.progress(b + 1, cfg.batches, {
      recall,
      expected_recall: expected,
      simulated_qps: report.simulatedQps,
      wall_qps: report.wallQps,
      ...(report.exact ? { exact_simulated_qps: report.exact.simulatedQps } : {}),
      live_rows: table.liveCount,
    });
    ctx.log(
      `knn: batch ${b + 1}/${cfg.batches}: recall@${k} ${recall.toFixed(4)} (expected >= ${expected.toFixed(4)}), ` +
        `${report.simulatedQps.toFixed(0)} QPS simulated, ${report.wallQps.toFixed(1)} QPS emulated; ` +
        `score+top-k ${main.steps.scoreTopK.bound}-bound, gather ${main.steps.gather.bound}, merge ${main.steps.merge.bound}` +
        (report.exact ? `; exact sort-based top-k ${report.exact.simulatedQps.toFixed(0)} QPS, ${report.exact.bound}-bound` : '') +
        (ins || del ? `; +${ins} / -${del} rows` : ''),
    );
  }

  const sum = (f: (r: KnnBatchReport) => number): number => reports.reduce((s, r) => s + f(r), 0);
  const queries = batch * reports.length;
  const exactSeconds = sum((r) => r.exact?.simulatedSeconds ?? 0);
  const simulatedQps = queriesPerSecond(queries, sum((r) => r.simulatedSeconds));
  const exactQps = cfg.mode === 'approx' ? queriesPerSecond(queries, exactSeconds) : null;
  return {
    dataset: data.description,
    n,
    d,
    k,
    recallTarget: cfg.recall_target,
    distance,
    dtype,
    mode: cfg.mode,
    aggregateToTopk: cfg.aggregate_to_topk,
    chip: ctx.pod.chip,
    dbAxes,
    shards: p,
    queryShards: qa,
    capacity,
    batch,
    queryTile,
    batches: reports,
    recall: sum((r) => r.recall) / reports.length,
    expectedRecall: sum((r) => r.expectedRecall) / reports.length,
    simulatedQps,
    wallQps: queriesPerSecond(queries, sum((r) => r.wallSeconds)),
    bound: {
      scoreTopK: dominant(reports.map((r) => r.steps.scoreTopK)),
      gather: dominant(reports.map((r) => r.steps.gather)),
      merge: dominant(reports.map((r) => r.steps.merge)),
    },
    exact: exactQps === null ? null : { simulatedQps: exactQps, bound: dominant(reports.flatMap((r) => (r.exact ? [{ seconds: r.exact.simulatedSeconds, bound: r.exact.bound }] : []))) },
    speedupOverExact: exactQps ? simulatedQps / exactQps : null,
  };
}

export const knnPlugin: WorkloadPlugin<KnnConfig, KnnResult> = {
  name: 'knn',
  description:
    'TPU-KNN: brute-force nearest neighbor search with approx_max_k over a sharded database; reports recall@k vs exact ground truth, expected recall, simulated and emulated QPS, and the unit bounding each step',
  configSchema: knnConfigSchema,
  resources(config: KnnConfig, pod: PodInfo) {
    // For a synthetic dataset on the default mesh: the resident shards and at least one
    // 8-query tile of scores (a file dataset's size is known only once read).
    const p = Math.max(1, Math.min(pod.numCores, product(Object.values(pod.defaultMesh))));
    const n = Math.max(config.n, config.capacity ?? 0) + config.inserts_per_batch * (config.batches - 1);
    const rowsPerShard = Math.ceil(n / p);
    const bytes = residentBytes(rowsPerShard, config.d, config.dtype, config.batch, config.k) + 8 * rowsPerShard * 4 * 3;
    return { cores: 1, hbmBytesPerCore: Math.ceil(bytes) };
  },
  run,
};
