/**
 * transformer: the GSPMD paper's dense decoder-only LM trained on the pod on synthetic
 * token data (2D, Megatron or data-parallel sharding over the job's mesh, which must have
 * the config's batch and model axes). The result shows the loss going down and the step's
 * simulated time and MFU. At full size, use `tpusim estimate transformer`.
 */
import type { JobContext, PodInfo, WorkloadPlugin } from '../../coordinator/plugin.js';
import { Mesh } from '../../gspmd/mesh.js';
import type { PyTree } from '../../program/pytree.js';
import * as random from '../../program/random.js';
import type { Tensor } from '../../program/tracer.js';
import { type TransformerConfig, modelFlopsPerStep, parameterCount, transformerConfigSchema } from './config.js';
import { initParams } from './model.js';
import { type PodTrainingResult, trainOnPod } from './pod.js';
import { transformerStep } from './step.js';

export interface TransformerResult extends PodTrainingResult {
  readonly parameters: number;
  readonly sharding: string;
}

/** n = batch x model with model the smallest divisor of n that is at least sqrt(n): 8 -> 2 x 4. */
export function twoAxisSplit(n: number): [number, number] {
  for (let model = Math.ceil(Math.sqrt(n)); model <= n; model++) if (n % model === 0) return [n / model, model];
  return [1, n];
}

export const transformerPlugin: WorkloadPlugin<TransformerConfig, TransformerResult> = {
  name: 'transformer',
  description: "the GSPMD paper's dense decoder-only LM, trained on synthetic tokens (sharding: 2d, megatron or data)",
  configSchema: transformerConfigSchema,
  mesh(config: TransformerConfig, pod: PodInfo): Record<string, number> {
    if (config.sharding === 'data') return { [config.batchAxis]: pod.numCores };
    // The paper's 2D layout gives the model axis the larger share of the cores.
    const [batch, model] = twoAxisSplit(pod.numCores);
    return { [config.batchAxis]: batch, [config.modelAxis]: model };
  },
  async run(ctx: JobContext, config: TransformerConfig): Promise<TransformerResult> {
    const step = transformerStep(config, Mesh.fromDeviceMesh(ctx.mesh));
    const params = initParams(config, random.key(config.seed)) as unknown as PyTree<Tensor>;
    const result = await trainOnPod(ctx, step, params, config, modelFlopsPerStep(config));
    return { ...result, parameters: parameterCount(config), sharding: config.sharding };
  },
};
