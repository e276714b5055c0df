/**
 * The dense LM in estimate mode: the step compiled on abstract parameters for a mesh laid
 * over a (possibly huge) topology, priced by the coordinator's estimate core. Its layers
 * are the repeated blocks: the estimate compiles 0, 1 and 2 layers and checks that they
 * partition identically before extrapolating (src/coordinator/estimate/repeat.ts).
 */
import type { CompiledStep, EstimateRequest } from '../../coordinator/estimate/estimate.js';
import { createDeviceMesh } from '../../gspmd/mesh.js';
import type { Mesh } from '../../gspmd/mesh.js';
import type { Topology } from '../../tpu/topology.js';
import { type TransformerConfig, modelFlopsPerStep, tokensPerStep } from './config.js';
import { compileTransformerStep, transformerStep } from './step.js';

/** The compiled step of `config` (with `layers` overriding its layer count) on `mesh`. */
export function compileTransformer(config: TransformerConfig, mesh: Mesh, layers = config.layers): CompiledStep {
  const step = transformerStep({ ...config, layers }, mesh);
  return { spmd: compileTransformerStep(step).partitioned, inputRoles: step.roles };
}

export function transformerEstimateRequest(config: TransformerConfig, topology: Topology, meshAxes: Readonly<Record<string, number>>): EstimateRequest {
  const mesh = createDeviceMesh(topology, meshAxes);
  return {
    workload: 'transformer',
    topology,
    blocks: config.layers,
    compile: (layers) => compileTransformer(config, mesh, layers),
    modelFlopsPerStep: modelFlopsPerStep(config),
    tokensPerStep: tokensPerStep(config),
  };
}
