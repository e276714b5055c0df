/**
 * moe: a GShard-style mixture-of-experts LM trained on the pod on synthetic token data,
 * experts and token groups split over the job's expert axis, tokens dispatched to their
 * top-2 experts and combined back with all-to-alls. At large size, use `tpusim estimate moe`.
 */
import type { JobContext, WorkloadPlugin } from '../../coordinator/plugin.js';
import { Mesh } from '../../gspmd/mesh.js';
import type { PyTree } from '../../program/pytree.js';
import * as random from '../../program/random.js';
import type { Tensor } from '../../program/tracer.js';
import { type PodTrainingResult, trainOnPod } from '../transformer/pod.js';
import { type MoeConfig, activeParameterCount, modelFlopsPerStep, moeConfigSchema, parameterCount } from './config.js';
import { initMoeParams } from './model.js';
import { moeStep } from './step.js';

export interface MoeResult extends PodTrainingResult {
  readonly parameters: number;
  readonly activeParameters: number;
  readonly experts: number;
}

export const moePlugin: WorkloadPlugin<MoeConfig, MoeResult> = {
  name: 'moe',
  description: 'a GShard-style mixture-of-experts LM (top-2 gating, experts split, all-to-all), trained on synthetic tokens',
  configSchema: moeConfigSchema,
  async run(ctx: JobContext, config: MoeConfig): Promise<MoeResult> {
    const step = moeStep(config, Mesh.fromDeviceMesh(ctx.mesh));
    const params = initMoeParams(config, random.key(config.seed)) as unknown as PyTree<Tensor>;
    const result = await trainOnPod(ctx, step, params, config, modelFlopsPerStep(config));
    return { ...result, parameters: parameterCount(config), activeParameters: activeParameterCount(config), experts: config.experts };
  },
};
