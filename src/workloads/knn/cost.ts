/**
 * Prices a search step from shapes alone, with the cost model the TensorCore uses: the
 * same per-op rules, and for a fused step the same boundary rule as
 * TensorCore.executeSequence(..., { fusion: true }) (compute summed, HBM only for the
 * tensors read from outside the kernel and the outputs it keeps). This is how a step on a
 * million rows is priced without executing it (test/workloads/knn/cost.test.ts holds the
 * two to each other on a step small enough to run).
 */
import type { ChipSpec } from '../../tpu/chips.js';
import { type OpCost, type OpTime, bytesOf, fuseCosts, opCost, opTime } from '../../tpu/cost/index.js';
import { inferShapes } from '../../tpu/primitives.js';
import type { AbstractValue } from '../../tpu/tensor.js';
import type { CallRef, Step } from './search.js';

export interface StepPrice {
  readonly cost: OpCost;
  readonly time: OpTime;
  /** Seconds of the step: one kernel's when fused, the sum of the ops' when not. */
  readonly seconds: number;
}

function isRef(v: AbstractValue | CallRef): v is CallRef {
  return typeof (v as CallRef).call === 'number';
}

/** Per-call output shapes and costs, resolving references to earlier calls. */
function walk(step: Step<AbstractValue>, chip: ChipSpec): { outs: AbstractValue[][]; costs: OpCost[]; external: Set<AbstractValue> } {
  const outs: AbstractValue[][] = [];
  const costs: OpCost[] = [];
  const external = new Set<AbstractValue>();
  for (const c of step.calls) {
    const inputs = c.inputs.map((v) => {
      if (!isRef(v)) {
        external.add(v);
        return v;
      }
      return outs[v.call]![v.output ?? 0]!;
    });
    const out = inferShapes(c.op, inputs, c.params as never);
    outs.push(out);
    costs.push(opCost(c.op, inputs, out, c.params as never, chip));
  }
  return { outs, costs, external };
}

/**
 * The price of `step` on one core of `chip`: fused (default) as one kernel, or unfused as
 * one kernel per op, each reading its inputs from and writing its outputs to HBM.
 */
export function priceStep(step: Step<AbstractValue>, chip: ChipSpec, opts: { fused?: boolean } = {}): StepPrice {
  const { outs, costs, external } = walk(step, chip);
  if (opts.fused ?? true) {
    let boundary = 0;
    for (const v of external) boundary += bytesOf(v);
    for (const r of step.keep) boundary += bytesOf(outs[r.call]![r.output ?? 0]!);
    const cost = fuseCosts(costs, boundary);
    const time = opTime(cost, chip);
    return { cost, time, seconds: time.seconds };
  }
  let seconds = 0;
  let slowest: OpTime | undefined;
  for (const c of costs) {
    const t = opTime(c, chip);
    seconds += t.seconds;
    if (!slowest || t.seconds > slowest.seconds) slowest = t;
  }
  const total = fuseCosts(costs, costs.reduce((a, c) => a + c.hbmBytes, 0));
  return { cost: total, time: slowest!, seconds };
}

/**
 * The bare matmul of a step: the MXU time of its score dot_general (its first call) alone,
 * the compute floor of any brute-force search over these shapes.
 */
export function bareMatmulSeconds(step: Step<AbstractValue>, chip: ChipSpec): number {
  const first = step.calls[0]!;
  if (first.op !== 'dot_general') throw new Error(`bareMatmulSeconds: the step starts with ${first.op}, not dot_general`);
  const { costs } = walk({ calls: [first], keep: [] }, chip);
  return opTime(costs[0]!, chip).mxuSeconds;
}
