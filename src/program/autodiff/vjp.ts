/**
 * Reverse-mode differentiation: the VJP rule table (one entry per primitive, a rule or an
 * explicit non-differentiable marker) and the program transform.
 *
 * `vjpProgram` evaluates the program forward with `bind`, keeping every intermediate (the
 * residuals), and returns a backward function that walks the equations in reverse applying
 * the rules. Rules are written with `bind` too, so the backward pass runs eagerly or is
 * recorded into an enclosing trace, and can be differentiated again (second order).
 */
import { isFloat } from '../../tpu/dtype.js';
import type { Atom, Equation, OpName, OpParams, Program } from '../ir.js';
import { Tensor, annotate, bind } from '../tracer.js';
import { add } from './builders.js';
import { COLLECTIVE_RULES } from './collective_rules.js';
import { CONTRACTION_RULES } from './contraction_rules.js';
import { ELEMENTWISE_RULES } from './elementwise_rules.js';
import { INDEXING_RULES } from './indexing_rules.js';
import { checkRuleResult } from './jvp.js';
import { type MaybeTensor, NON_DIFFERENTIABLE, type VjpRule, type VjpTable } from './rule_types.js';
import { STRUCTURAL_RULES } from './structural_rules.js';
import { WINDOW_RULES } from './window_rules.js';

export const VJP_RULES: VjpTable<OpName> = {
  ...ELEMENTWISE_RULES.vjp,
  ...STRUCTURAL_RULES.vjp,
  ...INDEXING_RULES.vjp,
  ...CONTRACTION_RULES.vjp,
  ...WINDOW_RULES.vjp,
  ...COLLECTIVE_RULES.vjp,
};

/** The primitives with a VJP rule (the differentiable ones). */
export function differentiablePrimitives(): OpName[] {
  return (Object.keys(VJP_RULES) as OpName[]).filter((n) => VJP_RULES[n] !== NON_DIFFERENTIABLE);
}

export interface Linearized {
  /** The program's outputs, evaluated. */
  readonly outs: Tensor[];
  /** Input cotangents (null: zero, or an inactive input) from output cotangents (null: zero). */
  backward(cts: readonly MaybeTensor[]): MaybeTensor[];
}

interface ActiveStep {
  readonly eq: Equation;
  readonly ins: Tensor[];
  readonly outs: Tensor[];
  readonly active: boolean[];
}

/**
 * Evaluates `program` on `args` and prepares its VJP with respect to the inputs marked
 * `active` (others, and non-float values, get no cotangent).
 */
export function vjpProgram(program: Program, args: readonly Tensor[], active: readonly boolean[]): Linearized {
  if (args.length !== program.inputs.length || active.length !== args.length) {
    throw new Error(`vjp: ${args.length} arguments for a program of ${program.inputs.length} inputs`);
  }
  const env = new Map<number, Tensor>();
  const activeVars = new Set<number>();
  program.inputs.forEach((v, i) => {
    env.set(v.id, args[i]!);
    if (active[i] && isFloat(v.aval.dtype)) activeVars.add(v.id);
  });
  const read = (a: Atom): Tensor => (a.kind === 'const' ? Tensor.concrete(a.value) : env.get(a.id)!);
  const isActive = (a: Atom): boolean => a.kind === 'var' && activeVars.has(a.id);
  const steps: ActiveStep[] = [];
  for (const eq of program.equations) {
    const ins = eq.inputs.map(read);
    const outs = bind(eq.op, ins, eq.params as OpParams[typeof eq.op]);
    eq.outputs.forEach((v, i) => env.set(v.id, outs[i]!));
    const inActive = eq.inputs.map(isActive);
    if (VJP_RULES[eq.op] === NON_DIFFERENTIABLE || !inActive.some((a) => a)) continue;
    let anyOut = false;
    for (const v of eq.outputs) {
      if (isFloat(v.aval.dtype)) {
        activeVars.add(v.id);
        anyOut = true;
      }
    }
    if (anyOut) steps.push({ eq, ins, outs, active: inActive });
  }
  // Inlined into an enclosing trace, annotations (sharding constraints) move with the values.
  for (const [id, ann] of program.annotations ?? []) {
    const t = env.get(id);
    if (t) annotate(t, ann);
  }
  const outs = program.outputs.map(read);

  const backward = (cts: readonly MaybeTensor[]): MaybeTensor[] => {
    if (cts.length !== program.outputs.length) {
      throw new Error(`vjp: ${cts.length} cotangents for ${program.outputs.length} outputs`);
    }
    const ctEnv = new Map<number, Tensor>();
    const accumulate = (id: number, ct: Tensor): void => {
      const prev = ctEnv.get(id);
      ctEnv.set(id, prev ? add(prev, ct) : ct);
    };
    program.outputs.forEach((a, i) => {
      const ct = cts[i];
      if (!ct || !isActive(a)) return;
      checkRuleResult('vjp', 'output', ct, a, 'output');
      accumulate((a as { id: number }).id, ct);
    });
    for (let s = steps.length - 1; s >= 0; s--) {
      const { eq, ins, outs: stepOuts, active: inActive } = steps[s]!;
      const outCts = eq.outputs.map((v) => ctEnv.get(v.id) ?? null);
      if (!outCts.some((c) => c)) continue;
      const rule = VJP_RULES[eq.op] as VjpRule<typeof eq.op>;
      const inCts = rule(ins, stepOuts, outCts, eq.params as OpParams[typeof eq.op], inActive);
      eq.inputs.forEach((a, i) => {
        const ct = inCts[i];
        if (!ct || !inActive[i] || a.kind !== 'var') return;
        checkRuleResult('vjp', eq.op, ct, a, 'input');
        accumulate(a.id, ct);
      });
    }
    // A cotangent is laid out like its primal (JAX transposes a sharding constraint to itself).
    for (const [id, ann] of program.annotations ?? []) {
      const ct = ctEnv.get(id);
      if (ct) annotate(ct, ann);
    }
    return program.inputs.map((v, i) => (active[i] ? (ctEnv.get(v.id) ?? null) : null));
  };
  return { outs, backward };
}
