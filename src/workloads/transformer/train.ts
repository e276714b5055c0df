/**
 * Real training of an LM at small size: the partitioned step run on every core of a mesh,
 * priced per core. `initialState` makes real weights and optimizer state on the host;
 * `LockstepTrainer` runs steps in this process with the lockstep SPMD interpreter (the
 * same per-core executor the pod's actors use).
 */
import type { SpmdProgram } from '../../gspmd/spmd_program.js';
import { runSpmd } from '../../gspmd/spmd_interpreter.js';
import { type PyTree, treeFlatten } from '../../program/pytree.js';
import type { Tensor } from '../../program/tracer.js';
import type { TensorView } from '../../tpu/tensor.js';
import type { Topology } from '../../tpu/topology.js';
import { syntheticBatch } from './data.js';
import { type TrainStep, compileTrainStep } from './step.js';

/** Parameter and optimizer-state leaves, in the step's input order. */
export interface TrainState {
  readonly params: readonly TensorView[];
  readonly optState: readonly TensorView[];
}

/** Real parameters (a tree shaped like the step's) and their fresh optimizer state, flattened. */
export function initialState(step: TrainStep, params: PyTree<Tensor>): TrainState {
  const state = step.tx.init(params);
  const p = treeFlatten(params).leaves.map((t) => t.value());
  const s = treeFlatten(state).leaves.map((t) => t.value());
  if (p.length !== step.numParams || s.length !== step.numState) {
    throw new Error(`${step.name}: ${p.length} params and ${s.length} state leaves, the step takes ${step.numParams} and ${step.numState}`);
  }
  return { params: p, optState: s };
}

/** Splits a step's outputs (loss, params..., state...) into the loss and the next state. */
export function splitOutputs(step: TrainStep, outputs: readonly TensorView[]): { loss: number; state: TrainState } {
  const n = step.numParams;
  return {
    loss: outputs[0]!.data[0]!,
    state: { params: outputs.slice(1, 1 + n), optState: outputs.slice(1 + n, 1 + n + step.numState) },
  };
}

export interface StepOutcome {
  readonly loss: number;
  /** Simulated seconds of the step: the latest core clock. */
  readonly stepSeconds: number;
}

export interface SyntheticData {
  readonly batch: number;
  readonly seqLen: number;
  readonly vocab: number;
  readonly seed: number;
}

export class LockstepTrainer {
  readonly spmd: SpmdProgram;
  private state: TrainState;
  private count = 0;

  constructor(
    readonly step: TrainStep,
    params: PyTree<Tensor>,
    readonly topology: Topology,
    private readonly data: SyntheticData,
    /** Arena bytes per core. */
    private readonly hbmBytes = 64 * 1024 * 1024,
  ) {
    this.spmd = compileTrainStep(step).partitioned;
    this.state = initialState(step, params);
  }

  /** Runs one step on the next synthetic batch. */
  next(): StepOutcome {
    const d = this.data;
    const batch = syntheticBatch(d.batch, d.seqLen, d.vocab, d.seed, this.count++);
    const { outputs, cores } = runSpmd(this.spmd, [...this.state.params, ...this.state.optState, batch.tokens, batch.targets], {
      topology: this.topology,
      hbmBytes: this.hbmBytes,
    });
    const { loss, state } = splitOutputs(this.step, outputs);
    this.state = state;
    return { loss, stepSeconds: Math.max(...cores.map((k) => k.now)) };
  }
}
