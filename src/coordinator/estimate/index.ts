/** Estimate mode: price a step on abstract values for a pod of any size (see ./estimate.ts). */
export { type CompiledStep, type EstimateReport, type EstimateRequest, type CriticalOp, estimate, walkStep, buildReport } from './estimate.js';
export { type Estimator, type EstimatorRegistry, type EstimateArgs, estimatePlugin, makeEstimatorRegistry, runEstimate } from './estimator.js';
export { type MemoryProfile, type MemoryRole, memoryProfile } from './memory.js';
export { PriceBook, equationSignature } from './pricing.js';
export { blockMismatch, extrapolateBlocks } from './repeat.js';
export { reportText } from './report.js';
export { type StepTotals, type WalkResult, walkProgram } from './walk.js';
