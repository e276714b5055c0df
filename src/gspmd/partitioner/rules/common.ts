/**
 * Shared pieces of the partition rules: the replicate-everything fallback (XLA's
 * DefaultAction), and the dim-wise pass-through that most layout ops use.
 */
import type { PrimitiveName, PrimitiveParams } from '../../../tpu/ops.js';
import type { Equation } from '../../../program/ir.js';
import { type Sharded, type SpecSharded, type SpmdBuilder, specSharded } from '../builder.js';
import { reshardToSpec } from '../reshard.js';
import { type DimAxes, hloToSpec, replicatedAxes, tileShapeOf } from '../spec.js';
import type { PartitionRule } from './types.js';

/**
 * Correct for every op: all-gather the operands to replicated, run the op whole on every
 * core, and return replicated outputs (the partitioner then slices each core's tile).
 */
export const replicateRule: PartitionRule = (b, eq, operands) => {
  const inputs = operands.map((x) => reshardToSpec(b, x, replicatedAxes(x.global.shape.length)).atom);
  const outs = b.prim(eq.op as PrimitiveName, inputs, eq.params as never);
  return outs.map((v, i) => specSharded(v, eq.outputs[i]!.aval, replicatedAxes(eq.outputs[i]!.aval.shape.length)));
};

/** `spec` with the dims in `blocked` replicated. */
export function unblock(spec: DimAxes, blocked: ReadonlySet<number>): DimAxes {
  return spec.map((a, d) => (blocked.has(d) ? [] : a));
}

/**
 * The op computed dim-wise: the dims in `blocked` are whole on every core, every other dim
 * of the output keeps the output's sharding, and every operand of the output's rank is
 * resharded to that (lower-rank operands, such as a pad value or dynamic-slice starts, are
 * replicated). `local` rewrites the params for the local tile shape.
 */
export function dimwise<N extends PrimitiveName>(
  b: SpmdBuilder,
  eq: Equation<N>,
  operands: readonly Sharded[],
  outSpec: DimAxes,
  blocked: ReadonlySet<number>,
  local: (localShape: readonly number[], spec: DimAxes) => PrimitiveParams[N],
): SpecSharded[] {
  const rank = eq.outputs[0]!.aval.shape.length;
  const spec = unblock(outSpec, blocked);
  const inputs = operands.map((x) => reshardToSpec(b, x, x.global.shape.length === rank ? spec : replicatedAxes(x.global.shape.length)).atom);
  const localShape = tileShapeOf(b.mesh, eq.outputs[0]!.aval.shape, spec);
  const outs = b.prim(eq.op, inputs, local(localShape, spec));
  return outs.map((v, i) => specSharded(v, eq.outputs[i]!.aval, spec));
}

/** The dims of `shape` where a slice-like op does anything (the rest pass through). */
export function dimsWhere(rank: number, pred: (d: number) => boolean): Set<number> {
  const s = new Set<number>();
  for (let d = 0; d < rank; d++) if (pred(d)) s.add(d);
  return s;
}

/**
 * Emits the candidate plan whose collectives move the fewest bytes per core, counting the
 * final reshard of its result to `target`; ties go to the earlier candidate. Each candidate
 * is priced by emitting it into a scratch builder.
 */
export function cheapest<T>(b: SpmdBuilder, candidates: readonly T[], emit: (b: SpmdBuilder, c: T) => SpecSharded, target: DimAxes): SpecSharded {
  if (candidates.length === 0) throw new Error('cheapest: no candidate plans');
  let best: T = candidates[0]!;
  if (candidates.length > 1) {
    let bestBytes = Infinity;
    for (const c of candidates) {
      const s = b.scratch();
      reshardToSpec(s, emit(s, c), target);
      if (s.commBytes < bestBytes) {
        bestBytes = s.commBytes;
        best = c;
      }
    }
  }
  return emit(b, best);
}

/** The operand's current spec (replicated when its sharding is not a product of mesh axes). */
export function currentSpec(b: SpmdBuilder, x: Sharded): DimAxes {
  if (x.kind === 'spec') return x.spec;
  return hloToSpec(b.mesh, x.sharding, x.global.shape.length) ?? replicatedAxes(x.global.shape.length);
}

/** Distinct axis lists among `options`, in order. */
export function distinctAxes(options: readonly (readonly string[])[]): (readonly string[])[] {
  const out: (readonly string[])[] = [];
  for (const o of options) if (!out.some((x) => x.length === o.length && x.every((a, i) => a === o[i]))) out.push(o);
  return out;
}
