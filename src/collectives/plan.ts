/**
 * A collective call, planned: output shape, algorithm, every rank's schedule and waits, and
 * the price. Plans depend only on the call's signature and the group, so a communicator
 * caches them; estimate mode can use the algorithm and cost parts alone.
 */
import { type DType, itemsize } from '../tpu/dtype.js';
import { sizeOf } from '../tpu/tensor.js';
import { type CostBreakdown, allGatherCost, allReduceCost, allToAllCost, barrierCost, broadcastCost, permuteCost, reduceScatterCost } from './cost.js';
import { type AlgorithmChoice, type CollectiveAlgorithm, type Interconnect, chooseAlgorithm, flatRing } from './interconnect.js';
import {
  type GroupSchedule,
  type SyncPlan,
  allGatherSchedule,
  allReduceSchedule,
  allToAllSchedule,
  barrierSchedule,
  broadcastChunks,
  broadcastSchedule,
  permuteSchedule,
  reduceScatterSchedule,
  syncPlans,
} from './schedule.js';
import {
  type CollectiveOpName,
  type CollectiveParams,
  type ReduceOp,
  allGatherLayout,
  allToAllLayouts,
  collectiveOutputShape,
  reduceScatterLayout,
} from './semantics.js';

export interface CollectivePlan {
  readonly op: CollectiveOpName;
  readonly outShape: readonly number[];
  readonly algorithm: CollectiveAlgorithm;
  readonly schedule: GroupSchedule;
  readonly sync: readonly SyncPlan[];
  readonly reduceOp: ReduceOp;
  /** The ICI price of the whole collective (the same for every rank). */
  readonly cost: CostBreakdown;
  /** Bytes each rank sends (= what its peers read from it). */
  readonly bytesSent: readonly number[];
}

/** Algorithm and price only, no schedule: what estimate mode needs for a pod of any size. */
export function priceCollective(
  c: CollectiveParams,
  shape: readonly number[],
  dtype: DType,
  members: readonly number[],
  ic: Interconnect,
  choice: AlgorithmChoice = 'auto',
): { algorithm: CollectiveAlgorithm; cost: CostBreakdown; outShape: number[] } {
  const p = members.length;
  const outShape = collectiveOutputShape(c, shape, dtype, p);
  const inBytes = sizeOf(shape) * itemsize(dtype);
  const needRankOrder = c.kind === 'all-gather' || c.kind === 'reduce-scatter';
  const algorithm =
    c.kind === 'broadcast' || c.kind === 'collective-permute' ? flatRing(ic, members) : chooseAlgorithm(ic, members, choice, needRankOrder);
  let cost: CostBreakdown;
  switch (c.kind) {
    case 'all-reduce':
      cost = allReduceCost(algorithm.phases, inBytes);
      break;
    case 'all-gather':
      cost = allGatherCost(algorithm.phases, inBytes * p);
      break;
    case 'reduce-scatter':
      cost = reduceScatterCost(algorithm.phases, inBytes);
      break;
    case 'all-to-all':
      cost = allToAllCost(algorithm.phases, inBytes);
      break;
    case 'collective-permute':
      cost = permuteCost(
        ic,
        c.params.perm.map(([s, d]) => [members[s]!, members[d]!] as const),
        inBytes,
      );
      break;
    case 'broadcast': {
      const link = algorithm.phases[0]?.link ?? { latency: 0, bandwidth: Infinity };
      cost = broadcastCost(p, link, inBytes, broadcastChunks(p));
      break;
    }
    case 'barrier':
      cost = barrierCost(algorithm);
      break;
  }
  return { algorithm, cost, outShape };
}

export function planCollective(
  c: CollectiveParams,
  shape: readonly number[],
  dtype: DType,
  members: readonly number[],
  ic: Interconnect,
  choice: AlgorithmChoice = 'auto',
): CollectivePlan {
  const p = members.length;
  const { algorithm, cost, outShape } = priceCollective(c, shape, dtype, members, ic, choice);
  const n = sizeOf(shape);
  let schedule: GroupSchedule;
  let reduceOp: ReduceOp = 'sum';
  switch (c.kind) {
    case 'all-reduce':
      reduceOp = c.params.op;
      schedule = allReduceSchedule(algorithm, n, reduceOp);
      break;
    case 'all-gather':
      schedule = allGatherSchedule(algorithm, allGatherLayout(shape, c.params));
      break;
    case 'reduce-scatter':
      reduceOp = c.params.op;
      schedule = reduceScatterSchedule(algorithm, reduceScatterLayout(shape, p, c.params), reduceOp);
      break;
    case 'all-to-all': {
      const l = allToAllLayouts(shape, p, c.params);
      schedule = allToAllSchedule(p, l.in, l.out);
      break;
    }
    case 'collective-permute':
      schedule = permuteSchedule(p, c.params.perm, n);
      break;
    case 'broadcast':
      schedule = broadcastSchedule(p, c.params.root, n);
      break;
    case 'barrier':
      schedule = barrierSchedule(p);
      break;
  }
  const sync = syncPlans(schedule);
  const size = itemsize(dtype);
  return { op: c.kind, outShape, algorithm, schedule, sync, reduceOp, cost, bytesSent: sync.map((s) => s.elementsSent * size) };
}
