/**
 * The built-in workloads. The CLI hands this registry to the coordinator, which knows
 * workloads only through the plugin interface (src/coordinator/plugin.ts).
 */
import { type WorkloadRegistry, makeRegistry } from '../coordinator/plugin.js';
import { matmulPlugin } from './matmul/plugin.js';
import { knnPlugin } from './knn/index.js';
import { type EstimatorRegistry, estimatePlugin, makeEstimatorRegistry } from '../coordinator/estimate/estimator.js';
import { transformerPlugin } from './transformer/plugin.js';
import { transformerEstimator } from './transformer/estimator.js';
import { moePlugin } from './moe/plugin.js';
import { moeEstimator } from './moe/estimator.js';

/** Workloads estimate mode can price (`tpusim estimate`, and the 'estimate' job). */
export const builtinEstimators: EstimatorRegistry = makeEstimatorRegistry([transformerEstimator, moeEstimator]);

export const builtinWorkloads: WorkloadRegistry = makeRegistry([matmulPlugin, knnPlugin, transformerPlugin, moePlugin, estimatePlugin(builtinEstimators)]);
