/**
 * The KNN search on p TensorCores in one process: each core holds one shard of the
 * database in its arena and runs the same per-shard kernel; the candidates are all-gathered
 * with the collectives layer's reference (priced by its alpha-beta ring formula over ICI)
 * and every core runs the merge, as the SPMD program does on the pod (device.ts). Tests and
 * the benchmark use it; the pod runs the same steps (search.ts) in its actors.
 */
import { iciLink } from '../../collectives/interconnect.js';
import { allGatherCost, ringPhases } from '../../collectives/cost.js';
import { referenceAllGather } from '../../collectives/reference.js';
import type { DeviceTensor } from '../../tpu/arena.js';
import type { ChipSpec } from '../../tpu/chips.js';
import { TensorCore } from '../../tpu/core.js';
import { bytesOf } from '../../tpu/cost/index.js';
import type { TensorView } from '../../tpu/tensor.js';
import type { Distance } from './distance.js';
import type { VectorSet } from './generators.js';
import { type RowUpdate, SlotTable, type StorageDType, applyToShard, encodeRows, tombstones } from './layout.js';
import { type StepTiming, TimingSum, queriesPerSecond, snapshot, timingSince } from './metrics.js';
import { type SearchMode, hitsStep, hostScalar, mergeStep, queryTiles, rowSlice, runStep, shardStep } from './search.js';

export interface LocalSearchOptions {
  readonly chip: ChipSpec;
  readonly numShards: number;
  readonly dtype: StorageDType;
  readonly distance: Distance;
  /** Slots (rows) to preallocate, a multiple of numShards; default: the initial rows rounded up. */
  readonly capacity?: number;
  /** Arena bytes per core (default: the TensorCore's default). */
  readonly hbmBytes?: number;
}

export interface SearchParams {
  readonly k: number;
  readonly recallTarget: number;
  readonly mode: SearchMode;
  readonly aggregateToTopk: boolean;
}

export interface SearchResult {
  /** Scores [q, k], best first. */
  readonly values: Float32Array;
  /** Slots [q, k]. */
  readonly slots: Int32Array;
  /** Results found in the ground truth (when one was given), counted on the cores. */
  readonly hits: number | null;
  /** Simulated seconds of the whole search on the pod (every core runs in parallel). */
  readonly simulatedSeconds: number;
  readonly steps: { readonly scoreTopK: StepTiming; readonly gather: StepTiming; readonly merge: StepTiming };
  readonly simulatedQps: number;
  /** Host seconds this process spent emulating it (the shards run one after another here). */
  readonly wallSeconds: number;
}

export class LocalShardedSearch {
  readonly table: SlotTable;
  readonly cores: TensorCore[];
  readonly d: number;
  private readonly shards: { rows: DeviceTensor; bias: DeviceTensor }[];

  constructor(
    readonly opts: LocalSearchOptions,
    initial: VectorSet,
  ) {
    const p = opts.numShards;
    this.d = initial.d;
    const capacity = opts.capacity ?? Math.ceil(initial.n / p) * p;
    this.table = new SlotTable(capacity, p);
    this.cores = Array.from(
      { length: p },
      (_, i) => new TensorCore({ chip: opts.chip, coreId: i, ...(opts.hbmBytes ? { hbmBytes: opts.hbmBytes } : {}) }),
    );
    const rowsPerShard = this.table.rowsPerShard;
    this.shards = this.cores.map((core, s) => {
      const rows = core.arena.tensor(opts.dtype, [rowsPerShard, this.d], `knn rows shard ${s}`);
      const bias = core.arena.tensor('f32', [rowsPerShard], `knn bias shard ${s}`);
      bias.data.fill(Number.NEGATIVE_INFINITY);
      return { rows, bias };
    });
    this.insert(initial);
  }

  /** Writes `set`'s rows into the lowest free slots; returns the slots. */
  insert(set: VectorSet): Int32Array {
    if (set.d !== this.d) throw new RangeError(`insert: rows have d = ${set.d}, the database d = ${this.d}`);
    const slots = this.table.allocate(set.n);
    this.apply(encodeRows(set, slots, this.opts.dtype, this.opts.distance));
    return slots;
  }

  /** Frees `slots`: they score −inf from the next search on. */
  delete(slots: Int32Array): void {
    this.table.free(slots);
    this.apply(tombstones(slots, this.opts.dtype));
  }

  /** Writes an update into the shards it falls on. */
  private apply(update: RowUpdate): void {
    this.cores.forEach((core, s) => {
      const bytes = applyToShard(this.shards[s]!.rows, this.shards[s]!.bias, update, this.table.numShards, s);
      // Host-to-HBM writes of the changed rows, priced at HBM bandwidth.
      if (bytes > 0) core.advance(bytes / this.opts.chip.hbmBandwidthPerCore, 'hbm');
    });
  }

  /**
   * Searches `queries` (prepared, see prepareVectors) in tiles of `queryTile` rows (default:
   * all at once); `truth` [q, k'] slots makes the cores count hits.
   */
  search(queries: VectorSet, params: SearchParams, truth?: Int32Array, queryTile = queries.n): SearchResult {
    const wallStart = performance.now();
    const p = this.table.numShards;
    const k = params.k;
    const q = this.toQueries(queries);
    const addBias = this.opts.distance === 'l2' || this.table.hasFreeSlots;
    const start = Math.max(...this.cores.map((c) => c.now));
    for (const c of this.cores) if (c.now < start) c.advance(start - c.now, 'host');
    const lead = this.cores[0]!;
    const values = new Float32Array(queries.n * k);
    const slots = new Int32Array(queries.n * k);
    let hits: number | null = truth ? 0 : null;
    const scoreTopK = new TimingSum();
    const gather = new TimingSum();
    const merge = new TimingSum();
    for (const [from, to] of queryTiles(queries.n, queryTile)) {
      // 1. per-shard scores and top-k candidates (every core's clock advances alike)
      let t = snapshot(lead);
      const candidates = this.cores.map((core, s) =>
        runStep(
          core,
          shardStep(
            rowSlice(q[s]!, from, to),
            this.shards[s]!.rows,
            this.shards[s]!.bias,
            { ...params, totalRows: this.table.capacity, numShards: p, shardIndex: s, addBias },
            hostScalar,
          ),
        ),
      );
      scoreTopK.addSince(lead, t);

      // 2. all-gather of (values, slots) along the database axis
      t = snapshot(lead);
      const gathered = (i: 0 | 1): TensorView => referenceAllGather(candidates.map((c) => c[i]!), { axis: 1, tiled: true })[0]!;
      const gv = gathered(0);
      const gs = gathered(1);
      const bytes = bytesOf(gv) + bytesOf(gs);
      const gatherSeconds = allGatherCost(ringPhases(p, iciLink(this.opts.chip), { bidirectional: true }), bytes).seconds;
      const end = Math.max(...this.cores.map((c) => c.now)) + gatherSeconds;
      for (const c of this.cores) c.advance(end - c.now, 'ici');
      this.cores.forEach((core, s) => candidates[s]!.forEach((x) => core.arena.release(x)));
      gather.addSince(lead, t);

      // 3. merge and hit count. Every core runs the same kernels on the same gathered data
      // (replicated, as the SPMD program does); here the lead core computes them once and
      // the others' clocks advance by the time it took, bound by the same unit.
      t = snapshot(lead);
      const [fv, fs] = runStep(lead, mergeStep(gv, gs, k));
      if (truth) {
        const kt = truth.length / queries.n;
        const rowsOfTruth: TensorView = { dtype: 'i32', shape: [queries.n, kt], data: truth };
        const [count] = runStep(lead, hitsStep<TensorView>(fs!, rowSlice(rowsOfTruth, from, to)));
        hits! += count!.data[0]!;
        lead.arena.release(count!);
      }
      const tile = timingSince(lead, t);
      merge.addSince(lead, t);
      for (const c of this.cores.slice(1)) c.advance(tile.seconds, tile.bound);
      values.set(fv!.data as Float32Array, from * k);
      slots.set(fs!.data as Int32Array, from * k);
      lead.arena.release(fv!);
      lead.arena.release(fs!);
    }
    q.forEach((x, s) => this.cores[s]!.arena.release(x));
    const simulatedSeconds = Math.max(...this.cores.map((c) => c.now)) - start;
    return {
      values,
      slots,
      hits,
      simulatedSeconds,
      steps: { scoreTopK: scoreTopK.total(), gather: gather.total(), merge: merge.total() },
      simulatedQps: queriesPerSecond(queries.n, simulatedSeconds),
      wallSeconds: (performance.now() - wallStart) / 1000,
    };
  }

  /** The queries in each core's arena, in the storage dtype (replicated). */
  private toQueries(queries: VectorSet): DeviceTensor[] {
    if (queries.d !== this.d) throw new RangeError(`search: queries have d = ${queries.d}, the database d = ${this.d}`);
    const all = new Int32Array(queries.n).map((_, i) => i);
    const encoded = encodeRows(queries, all, this.opts.dtype, 'mips');
    return this.cores.map((core) => {
      const t = core.arena.tensor(this.opts.dtype, [queries.n, this.d], 'knn queries');
      t.data.set(encoded.rows);
      return t;
    });
  }

  /** Frees every shard's arena memory. */
  dispose(): void {
    this.cores.forEach((core, s) => {
      core.arena.release(this.shards[s]!.rows);
      core.arena.release(this.shards[s]!.bias);
    });
  }
}
