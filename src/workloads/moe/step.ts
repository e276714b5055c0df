/** The MoE LM's training step: the shared LM step (../transformer/step.ts) with the MoE model and layouts. */
import type { Mesh } from '../../gspmd/mesh.js';
import { type PyTree, treeFlatten } from '../../program/pytree.js';
import type { AbstractValue } from '../../tpu/tensor.js';
import { optimizerFor } from '../transformer/model.js';
import { type TrainStep, buildTrainStep } from '../transformer/step.js';
import type { MoeConfig } from './config.js';
import { type MoeParams, type MoePlan, type MoeSlot, abstractMoeParams, buildMoeParams, moeLoss, moePlan } from './model.js';

export interface MoeStep extends TrainStep {
  readonly config: MoeConfig;
  readonly plan: MoePlan;
}

function isSlot(x: unknown): boolean {
  return typeof x === 'object' && x !== null && 'kind' in x && 'fanIn' in x;
}

export function moeStep(config: MoeConfig, mesh: Mesh): MoeStep {
  const plan = moePlan(mesh, config.expertAxis);
  const slots = treeFlatten(buildMoeParams(config, (s) => s) as unknown as PyTree<MoeSlot>, isSlot).leaves;
  const step = buildTrainStep<MoeParams>({
    mesh,
    tx: optimizerFor(config),
    params: abstractMoeParams(config) as unknown as PyTree<AbstractValue>,
    paramSpecs: slots.map((s) => plan.weight(s.kind)),
    batch: config.batch,
    seqLen: config.seqLen,
    tokenSpec: plan.dense.activation('tokens'),
    loss: (p, tokens, targets) => moeLoss(config, plan, p, tokens, targets),
    name: 'moe_train_step',
  });
  return { ...step, config, plan };
}
