/**
 * An LM training step as a sharded program: flat abstract inputs (parameters, optimizer
 * state, tokens, targets), their shardings, and the compile through GSPMD (trace ->
 * propagate -> partition). Nothing here allocates a parameter: the optimizer state's
 * shapes come from tracing its init on abstract parameters. The dense LM builds its step
 * here (`transformerStep`); the MoE LM builds its own with `buildTrainStep`.
 */
import { jit as shardedJit } from '../../gspmd/api.js';
import type { Mesh } from '../../gspmd/mesh.js';
import type { CompiledSpmd } from '../../gspmd/partitioner/compile.js';
import { NamedSharding, P, type PartitionSpec } from '../../gspmd/sharding.js';
import { valueAndGrad } from '../../program/autodiff/api.js';
import { type GradientTransformation, type OptState, applyUpdates } from '../../program/optim.js';
import { type PyTree, type TreeDef, treeDefEqual, treeFlatten, treeUnflatten } from '../../program/pytree.js';
import { type Tensor, trace } from '../../program/tracer.js';
import type { AbstractValue } from '../../tpu/tensor.js';
import type { TransformerConfig } from './config.js';
import { type ParamSlot, type TransformerParams, abstractParams, buildParams, lossFn, optimizerFor } from './model.js';
import { type ShardingPlan, shardingPlan } from './sharding.js';

/** Where a step input comes from, for the memory breakdown. */
export type InputRole = 'params' | 'optimizer' | 'data';

export interface TrainStep {
  readonly mesh: Mesh;
  readonly tx: GradientTransformation;
  /** (params leaves..., opt state leaves..., tokens, targets) -> (loss, new params leaves..., new opt state leaves...). */
  readonly fn: (...args: Tensor[]) => Tensor[];
  readonly paramsDef: TreeDef;
  readonly numParams: number;
  readonly numState: number;
  /** Global avals of the flat inputs: params, optimizer state, tokens, targets. */
  readonly inAvals: readonly AbstractValue[];
  readonly inSpecs: readonly PartitionSpec[];
  /** Loss (replicated), new params, new optimizer state. */
  readonly outSpecs: readonly PartitionSpec[];
  readonly roles: readonly InputRole[];
  readonly name: string;
}

/** The state leaf's layout from its parameter's: the same dims, less the one a factored moment drops. */
function derivedSpec(param: readonly number[], spec: PartitionSpec, leaf: readonly number[]): PartitionSpec {
  const dims = param.map((_, i) => spec.dims[i] ?? null);
  if (leaf.length === param.length && leaf.every((n, i) => n === param[i])) return P(...dims);
  if (leaf.length === param.length - 1) {
    for (let drop = 0; drop < param.length; drop++) {
      const kept = param.filter((_, i) => i !== drop);
      if (kept.every((n, i) => n === leaf[i])) return P(...dims.filter((_, i) => i !== drop));
    }
  }
  return P(...leaf.map(() => null));
}

/** Layouts of the optimizer state's leaves: subtrees shaped like the params follow the params. */
function stateSpecs(stateDef: TreeDef, stateAvals: readonly AbstractValue[], paramsDef: TreeDef, paramAvals: readonly AbstractValue[], paramSpecs: readonly PartitionSpec[]): PartitionSpec[] {
  const out: PartitionSpec[] = [];
  const walk = (d: TreeDef): void => {
    if (d.kind !== 'leaf' && treeDefEqual(d, paramsDef)) {
      paramAvals.forEach((p, i) => out.push(derivedSpec(p.shape, paramSpecs[i]!, stateAvals[out.length]!.shape)));
      return;
    }
    switch (d.kind) {
      case 'leaf':
        out.push(P(...stateAvals[out.length]!.shape.map(() => null)));
        return;
      case 'none':
        return;
      case 'array':
      case 'object':
        d.children.forEach(walk);
    }
  };
  walk(stateDef);
  return out;
}

export function isAval(x: unknown): boolean {
  return typeof x === 'object' && x !== null && 'shape' in x && 'dtype' in x && !('kind' in x);
}

export interface TrainStepDefinition<Params> {
  readonly mesh: Mesh;
  readonly tx: GradientTransformation;
  /** The parameters' shapes (a pytree of avals). */
  readonly params: PyTree<AbstractValue>;
  /** Layout of each parameter leaf, in flattening order. */
  readonly paramSpecs: readonly PartitionSpec[];
  /** Tokens and targets: [batch, seqLen] i32, laid out by `tokenSpec`. */
  readonly batch: number;
  readonly seqLen: number;
  readonly tokenSpec: PartitionSpec;
  readonly loss: (params: Params, tokens: Tensor, targets: Tensor) => Tensor;
  readonly name: string;
}

/** One training step: loss and gradients by valueAndGrad, then the optimizer update. */
export function buildTrainStep<Params>(d: TrainStepDefinition<Params>): TrainStep {
  const params = treeFlatten(d.params, isAval);
  const paramAvals = params.leaves;
  if (paramAvals.length !== d.paramSpecs.length) throw new Error(`${d.name}: ${d.paramSpecs.length} parameter layouts for ${paramAvals.length} parameters`);
  let stateDef: TreeDef | undefined;
  const init = trace((...leaves: Tensor[]) => {
    const state = treeFlatten(d.tx.init(treeUnflatten(params.treedef, leaves) as PyTree<Tensor>));
    stateDef = state.treedef;
    return state.leaves;
  }, paramAvals);
  const stateAvals = init.program.outputs.map((a) => a.aval);
  const stSpecs = stateSpecs(stateDef!, stateAvals, params.treedef, paramAvals, d.paramSpecs);
  const numParams = paramAvals.length;
  const numState = stateAvals.length;
  const sd = stateDef!;

  const fn = (...args: Tensor[]): Tensor[] => {
    const p = treeUnflatten(params.treedef, args.slice(0, numParams)) as PyTree<Tensor>;
    const state = treeUnflatten(sd, args.slice(numParams, numParams + numState)) as OptState;
    const tokens = args[numParams + numState]!;
    const targets = args[numParams + numState + 1]!;
    const [loss, grads] = valueAndGrad((q: PyTree<Tensor>) => d.loss(q as Params, tokens, targets))(p) as [Tensor, PyTree<Tensor>];
    const [updates, newState] = d.tx.update(grads, state, p);
    const newParams = applyUpdates(p, updates);
    return [loss, ...treeFlatten(newParams).leaves, ...treeFlatten(newState).leaves];
  };

  const tokens: AbstractValue = { shape: [d.batch, d.seqLen], dtype: 'i32' };
  return {
    mesh: d.mesh,
    tx: d.tx,
    fn,
    paramsDef: params.treedef,
    numParams,
    numState,
    inAvals: [...paramAvals, ...stateAvals, tokens, tokens],
    inSpecs: [...d.paramSpecs, ...stSpecs, d.tokenSpec, d.tokenSpec],
    outSpecs: [P(), ...d.paramSpecs, ...stSpecs],
    roles: [...paramAvals.map((): InputRole => 'params'), ...stateAvals.map((): InputRole => 'optimizer'), 'data', 'data'],
    name: d.name,
  };
}

/** Traces, propagates and partitions the step over its mesh. */
export function compileTrainStep(step: TrainStep): CompiledSpmd {
  const named = (s: PartitionSpec): NamedSharding => new NamedSharding(step.mesh, s);
  return shardedJit(step.fn, {
    mesh: step.mesh,
    inShardings: step.inSpecs.map(named),
    outShardings: step.outSpecs.map(named),
    name: step.name,
  }).compile(...step.inAvals);
}

function isSlot(x: unknown): boolean {
  return typeof x === 'object' && x !== null && 'kind' in x && 'fanIn' in x;
}

/** The dense LM's step with its sharding plan. */
export interface TransformerStep extends TrainStep {
  readonly config: TransformerConfig;
  readonly plan: ShardingPlan;
}

export function transformerStep(config: TransformerConfig, mesh: Mesh): TransformerStep {
  const plan = shardingPlan(config.sharding, mesh, config.batchAxis, config.modelAxis);
  const slots = treeFlatten(buildParams(config, (s) => s) as unknown as PyTree<ParamSlot>, isSlot).leaves;
  const step = buildTrainStep<TransformerParams>({
    mesh,
    tx: optimizerFor(config),
    params: abstractParams(config) as unknown as PyTree<AbstractValue>,
    paramSpecs: slots.map((s) => plan.weight(s.kind)),
    batch: config.batch,
    seqLen: config.seqLen,
    tokenSpec: plan.activation('tokens'),
    loss: (p, tokens, targets) => lossFn(config, plan, p, tokens, targets),
    name: 'transformer_train_step',
  });
  return { ...step, config, plan };
}

/** Traces, propagates and partitions the dense LM's step. */
export function compileTransformerStep(step: TransformerStep): CompiledSpmd {
  return compileTrainStep(step);
}
