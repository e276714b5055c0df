/**
 * The MoE LM in estimate mode. The repeated block is a run of `moeEvery` layers (dense
 * layers then one MoE layer), so the estimate compiles 0, 1 and 2 such runs and checks
 * that they partition identically before extrapolating.
 */
import type { CompiledStep, EstimateRequest } from '../../coordinator/estimate/estimate.js';
import { type Mesh, createDeviceMesh } from '../../gspmd/mesh.js';
import type { Topology } from '../../tpu/topology.js';
import { compileTrainStep } from '../transformer/step.js';
import { type MoeConfig, modelFlopsPerStep } from './config.js';
import { moeStep } from './step.js';

export function compileMoe(config: MoeConfig, mesh: Mesh, layers = config.layers): CompiledStep {
  const step = moeStep({ ...config, layers }, mesh);
  return { spmd: compileTrainStep(step).partitioned, inputRoles: step.roles };
}

export function moeEstimateRequest(config: MoeConfig, topology: Topology, meshAxes: Readonly<Record<string, number>>): EstimateRequest {
  const mesh = createDeviceMesh(topology, meshAxes);
  return {
    workload: 'moe',
    topology,
    blocks: config.layers / config.moeEvery,
    compile: (blocks) => compileMoe(config, mesh, blocks === undefined ? config.layers : blocks * config.moeEvery),
    modelFlopsPerStep: modelFlopsPerStep(config),
    tokensPerStep: config.batch * config.seqLen,
  };
}
