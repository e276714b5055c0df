export type { OpCost, CostRule, CostTable, Unit, OpTime } from './types.js';
export { UNITS } from './types.js';
export { COST_RULES, opCost, bytesOf, mxuPaddedFlops, bitonicCompareExchanges, compareExchangeOps, sortTopKVpuOps, PARTIAL_REDUCE_OPS_PER_ELEMENT } from './rules.js';
export { opTime, fuseCosts } from './time.js';
