/**
 * Forward-mode differentiation: the JVP rule table (one entry per primitive, a rule or an
 * explicit non-differentiable marker) and the program transform that pushes tangents
 * through a Program alongside its primal values.
 *
 * The transform evaluates with `bind`, so it runs eagerly or records into an enclosing
 * trace; the tangent computation is then itself a program of primitives (jvp of jvp, grad
 * of jvp).
 */
import { shapeToString, sameShape } from '../../tpu/tensor.js';
import type { Atom, OpName, OpParams, Program } from '../ir.js';
import { Tensor, annotate, bind } from '../tracer.js';
import { COLLECTIVE_RULES } from './collective_rules.js';
import { CONTRACTION_RULES } from './contraction_rules.js';
import { ELEMENTWISE_RULES } from './elementwise_rules.js';
import { INDEXING_RULES } from './indexing_rules.js';
import { type JvpRule, type JvpTable, type MaybeTensor, NON_DIFFERENTIABLE } from './rule_types.js';
import { STRUCTURAL_RULES } from './structural_rules.js';
import { WINDOW_RULES } from './window_rules.js';

export const JVP_RULES: JvpTable<OpName> = {
  ...ELEMENTWISE_RULES.jvp,
  ...STRUCTURAL_RULES.jvp,
  ...INDEXING_RULES.jvp,
  ...CONTRACTION_RULES.jvp,
  ...WINDOW_RULES.jvp,
  ...COLLECTIVE_RULES.jvp,
};

/** Throws unless a rule's (co)tangent matches the value it belongs to: a bug in a rule, named. */
export function checkRuleResult(kind: string, op: string, t: Tensor, like: { aval: Tensor['aval'] }, what: string): void {
  if (t.dtype !== like.aval.dtype || !sameShape(t.shape, like.aval.shape)) {
    throw new Error(`${kind} rule of ${op} produced ${shapeToString(t.aval)} for ${what} ${shapeToString(like.aval)}`);
  }
}

export interface JvpResult {
  readonly outs: Tensor[];
  /** Output tangents; null where the output does not depend on any tangent (a zero). */
  readonly tangents: MaybeTensor[];
}

/** Evaluates `program` on `primals`, pushing `tangents` (null: zero) through it. */
export function jvpProgram(program: Program, primals: readonly Tensor[], tangents: readonly MaybeTensor[]): JvpResult {
  if (primals.length !== program.inputs.length || tangents.length !== primals.length) {
    throw new Error(`jvp: ${primals.length} primals and ${tangents.length} tangents for a program of ${program.inputs.length} inputs`);
  }
  const env = new Map<number, Tensor>();
  const tenv = new Map<number, Tensor>();
  program.inputs.forEach((v, i) => {
    env.set(v.id, primals[i]!);
    const t = tangents[i];
    if (t) {
      checkRuleResult('jvp', 'input', t, v, 'input');
      tenv.set(v.id, t);
    }
  });
  const read = (a: Atom): Tensor => (a.kind === 'const' ? Tensor.concrete(a.value) : env.get(a.id)!);
  const readTangent = (a: Atom): MaybeTensor => (a.kind === 'const' ? null : (tenv.get(a.id) ?? null));
  for (const eq of program.equations) {
    const ins = eq.inputs.map(read);
    const params = eq.params as OpParams[typeof eq.op];
    const outs = bind(eq.op, ins, params);
    eq.outputs.forEach((v, i) => env.set(v.id, outs[i]!));
    const tins = eq.inputs.map(readTangent);
    const rule = JVP_RULES[eq.op];
    if (rule === NON_DIFFERENTIABLE || !tins.some((t) => t)) continue;
    const touts = (rule as JvpRule<typeof eq.op>)(ins, tins, outs, params);
    eq.outputs.forEach((v, i) => {
      const t = touts[i];
      if (!t) return;
      checkRuleResult('jvp', eq.op, t, v, 'output');
      tenv.set(v.id, t);
    });
  }
  // Inlined into an enclosing trace, annotations (sharding constraints) move with the values,
  // and a tangent is laid out like its primal.
  for (const [id, ann] of program.annotations ?? []) {
    const t = env.get(id);
    if (t) annotate(t, ann);
    const dt = tenv.get(id);
    if (dt) annotate(dt, ann);
  }
  return { outs: program.outputs.map(read), tangents: program.outputs.map(readTangent) };
}
