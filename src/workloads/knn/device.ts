/**
 * The KNN workload's device functions, run on every core of the job's mesh at once (manual
 * SPMD, as a shard_map body): the search pipeline of search.ts over query tiles, with the
 * candidates all-gathered over the database axes by the communicator, and row updates
 * written into each core's shard.
 */
import type { DeviceTensor } from '../../tpu/arena.js';
import type { TensorView } from '../../tpu/tensor.js';
import type { DeviceContext } from '../../worker/device_context.js';
import { type RowUpdate, applyToShard } from './layout.js';
import { type StepTiming, TimingSum, snapshot } from './metrics.js';
import { type SearchMode, hitsStep, hostScalar, mergeStep, queryTiles, rowSlice, runStep, shardStep } from './search.js';

export interface KnnSearchArgs {
  /** Job array ids: queries [B, D] (replicated or split over queryAxis), rows [capacity, D] and bias [capacity] split over dbAxes, truth [B, k] like the queries. */
  readonly queries: string;
  readonly rows: string;
  readonly bias: string;
  readonly truth: string | null;
  readonly dbAxes: readonly string[];
  readonly queryAxis: string | null;
  readonly k: number;
  readonly recallTarget: number;
  readonly mode: SearchMode;
  readonly aggregateToTopk: boolean;
  readonly addBias: boolean;
  /** Query rows per kernel. */
  readonly queryTile: number;
}

export interface KnnSearchReply {
  /** This core's index along the database axes; only index 0 returns results. */
  readonly dbRank: number;
  /** This core's block of the queries (0 when they are replicated). */
  readonly queryBlock: number;
  /** Scores and slots [local B, k] (database rank 0 only). */
  readonly values: Float32Array | null;
  readonly slots: Int32Array | null;
  /** Results found in the truth, counted on this core (null without a truth). */
  readonly hits: number | null;
  readonly steps: { readonly scoreTopK: StepTiming; readonly gather: StepTiming; readonly merge: StepTiming };
}

export function knnSearch(dev: DeviceContext, a: KnnSearchArgs): KnnSearchReply {
  const core = dev.core;
  const p = dev.axisSize(a.dbAxes);
  const rank = dev.axisIndex(a.dbAxes);
  const queries = dev.array(a.queries);
  const rows = dev.array(a.rows);
  const bias = dev.array(a.bias);
  const truth = a.truth === null ? null : dev.array(a.truth);
  const b = queries.shape[0]!;
  const totalRows = rows.shape[0]! * p;
  const keepResults = rank === 0;
  const values = keepResults ? new Float32Array(b * a.k) : null;
  const slots = keepResults ? new Int32Array(b * a.k) : null;
  let hits: number | null = truth === null ? null : 0;
  const scoreTopK = new TimingSum();
  const gather = new TimingSum();
  const merge = new TimingSum();
  // Kernel outputs come from the TensorCore directly, outside the context's temporaries:
  // they are released as soon as they are used, and on an error by the finally below.
  const owned = new Set<DeviceTensor>();
  const own = (ts: DeviceTensor[]): DeviceTensor[] => {
    ts.forEach((x) => owned.add(x));
    return ts;
  };
  const drop = (...ts: DeviceTensor[]): void => {
    for (const x of ts) if (owned.delete(x)) core.arena.release(x);
  };
  try {
    for (const [start, end] of queryTiles(b, a.queryTile)) {
      let t = snapshot(core);
      const [cv, cs] = own(
        runStep(
          core,
          shardStep(
            rowSlice(queries, start, end),
            rows,
            bias,
            { k: a.k, recallTarget: a.recallTarget, mode: a.mode, aggregateToTopk: a.aggregateToTopk, totalRows, numShards: p, shardIndex: rank, addBias: a.addBias },
            hostScalar,
          ),
        ),
      );
      scoreTopK.addSince(core, t);

      t = snapshot(core);
      const gv = dev.allGather(cv!, a.dbAxes, { axis: 1, tiled: true });
      const gs = dev.allGather(cs!, a.dbAxes, { axis: 1, tiled: true });
      drop(cv!, cs!);
      gather.addSince(core, t);

      t = snapshot(core);
      const [fv, fs] = own(runStep(core, mergeStep(gv, gs, a.k)));
      dev.release(gv);
      dev.release(gs);
      if (truth !== null) {
        const [count] = own(runStep(core, hitsStep<TensorView>(fs!, rowSlice(truth, start, end))));
        hits! += count!.data[0]!;
        drop(count!);
      }
      merge.addSince(core, t);
      values?.set(fv!.data as Float32Array, start * a.k);
      slots?.set(fs!.data as Int32Array, start * a.k);
      drop(fv!, fs!);
    }
  } finally {
    drop(...owned);
  }
  return {
    dbRank: rank,
    queryBlock: a.queryAxis === null ? 0 : dev.axisIndex(a.queryAxis),
    values,
    slots,
    hits,
    steps: { scoreTopK: scoreTopK.total(), gather: gather.total(), merge: merge.total() },
  };
}

export interface KnnUpdateArgs {
  readonly rows: string;
  readonly bias: string;
  readonly dbAxes: readonly string[];
  readonly update: RowUpdate;
}

/** Writes the update's rows and biases that fall on this core's shard; the HBM writes are priced at HBM bandwidth. */
export function knnUpdate(dev: DeviceContext, a: KnnUpdateArgs): { readonly bytes: number } {
  const bytes = applyToShard(dev.array(a.rows), dev.array(a.bias), a.update, dev.axisSize(a.dbAxes), dev.axisIndex(a.dbAxes));
  if (bytes > 0) dev.core.advance(bytes / dev.core.chip.hbmBandwidthPerCore, 'hbm');
  return { bytes };
}
