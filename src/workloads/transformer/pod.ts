/**
 * Training an LM on the pod: parameters and optimizer state put on the cores with their
 * shardings, the step run by the pod's sharded jit (traced, propagated and partitioned by
 * GSPMD, every core running the per-core program with its collectives), the loss read back
 * each step. The simulated step time reported beside the loss is the cost model's price
 * of that same partitioned program (estimate and execution share the pricing; the tests
 * check they agree).
 */
import { interconnectOf } from '../../collectives/interconnect.js';
import { walkProgram } from '../../coordinator/estimate/walk.js';
import type { DeviceArray, JobContext } from '../../coordinator/plugin.js';
import type { PyTree } from '../../program/pytree.js';
import type { Tensor } from '../../program/tracer.js';
import { parseTopology } from '../../tpu/topology.js';
import { syntheticBatch } from './data.js';
import { type TrainStep, compileTrainStep } from './step.js';
import { type SyntheticData, initialState } from './train.js';

export interface PodTrainingResult {
  readonly steps: number;
  readonly losses: readonly number[];
  readonly firstLoss: number;
  readonly lastLoss: number;
  /** The cost model's simulated seconds of one step on the job's cores. */
  readonly stepSeconds: number;
  readonly mfu: number;
  readonly tokensPerSecond: number;
  readonly peakHbmBytesPerCore: number;
}

export async function trainOnPod(
  ctx: JobContext,
  step: TrainStep,
  params: PyTree<Tensor>,
  data: SyntheticData & { readonly steps: number },
  modelFlopsPerStep: number,
): Promise<PodTrainingResult> {
  const topology = parseTopology(ctx.pod.topology);
  const priced = walkProgram(compileTrainStep(step).partitioned.program, {
    chip: topology.chip,
    interconnect: interconnectOf(topology),
    mesh: ctx.mesh,
    inputRoles: step.roles,
  });
  const cores = ctx.mesh.devices.length;
  const mfu = modelFlopsPerStep / (priced.stepSeconds * topology.chip.peakFlopsPerCore * cores);
  ctx.log(`${step.name}: ${step.numParams} parameter arrays, ${step.numState} optimizer-state arrays; priced step ${priced.stepSeconds.toExponential(3)} s, MFU ${(mfu * 100).toFixed(1)}%`);

  const initial = initialState(step, params);
  const n = step.numParams;
  let state: DeviceArray[] = await Promise.all(
    [...initial.params, ...initial.optState].map((v, i) => ctx.put(v, step.inSpecs[i]!, i < n ? `param${i}` : `opt${i - n}`)),
  );
  const jitted = ctx.jit(step.fn, { inShardings: step.inSpecs, outShardings: step.outSpecs, name: step.name });
  const losses: number[] = [];
  for (let s = 0; s < data.steps; s++) {
    ctx.throwIfCancelled();
    const batch = syntheticBatch(data.batch, data.seqLen, data.vocab, data.seed, s);
    const tokenSpec = step.inSpecs[step.inSpecs.length - 1]!;
    const tokens = await ctx.put(batch.tokens, tokenSpec, 'tokens');
    const targets = await ctx.put(batch.targets, tokenSpec, 'targets');
    const outs = await jitted(...state, tokens, targets);
    const loss = (await ctx.get(outs[0]!)).data[0]!;
    for (const a of [...state, tokens, targets, outs[0]!]) await ctx.free(a);
    state = outs.slice(1);
    losses.push(loss);
    ctx.progress(s + 1, data.steps, { loss, step_seconds: priced.stepSeconds });
  }
  for (const a of state) await ctx.free(a);
  return {
    steps: data.steps,
    losses,
    firstLoss: losses[0] ?? Number.NaN,
    lastLoss: losses[losses.length - 1] ?? Number.NaN,
    stepSeconds: priced.stepSeconds,
    mfu,
    tokensPerSecond: (data.batch * data.seqLen) / priced.stepSeconds,
    peakHbmBytesPerCore: priced.memory.peakBytes,
  };
}
