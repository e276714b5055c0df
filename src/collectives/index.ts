/** Layer 2: collectives over SharedArrayBuffers between worker-thread cores. */
export { CollectiveError, CollectiveUsageError } from './errors.js';
export type { CollectiveFailure, CollectiveErrorInfo } from './errors.js';
export { makeMesh, meshFromShape, axisGroup, axisGroups, axesOf, meshCoords } from './mesh.js';
export type { DeviceMesh, AxisSpec, AxisGroup } from './mesh.js';
export { Communicator, COLLECTIVE_UNIT } from './communicator.js';
export type {
  CommunicatorConfig,
  CommunicatorOptions,
  CollectiveClock,
  CollectiveCounters,
  CollectiveTiming,
  ScratchArena,
} from './communicator.js';
export { createControlBlock, markCoreDead, isCoreDead } from './control.js';
export { interconnectOf, gridInterconnect, chooseAlgorithm, flatRing, iciLink, onChipLink, route } from './interconnect.js';
export type { Interconnect, Link, CollectiveAlgorithm, AlgorithmChoice, AlgorithmName, RingPhase } from './interconnect.js';
export {
  allReduceCost,
  allGatherCost,
  reduceScatterCost,
  allToAllCost,
  permuteCost,
  broadcastCost,
  barrierCost,
  ringPhaseCost,
  ringPhases,
  torusPhases,
} from './cost.js';
export type { CostBreakdown, PhaseShape } from './cost.js';
export { planCollective, priceCollective } from './plan.js';
export type { CollectivePlan } from './plan.js';
export { COLLECTIVE_OPS, collectiveOutputShape, allGatherShape, reduceScatterShape, allToAllShape } from './semantics.js';
export type {
  CollectiveOpName,
  CollectiveParams,
  ReduceOp,
  AllReduceParams,
  AllGatherParams,
  ReduceScatterParams,
  AllToAllParams,
  PermuteParams,
  BroadcastParams,
} from './semantics.js';
export {
  referenceAllReduce,
  referenceAllGather,
  referenceReduceScatter,
  referenceAllToAll,
  referencePermute,
  referenceBroadcast,
} from './reference.js';
