/**
 * Sharding propagation (XLA's ShardingPropagation pass, GSPMD paper section 3.5): from a
 * few annotated values, a sharding for every value of a program.
 *
 * Annotated values (program inputs and outputs given shardings, and values constrained
 * with withShardingConstraint) keep their sharding. Every other value starts unknown. At
 * each aggressiveness level 0..3 the pass alternates a forward sweep (each output from its
 * operands) and a backward sweep (each operand from its users) until nothing changes,
 * using only the links (sharding_rules.ts) allowed at that level. A value's sharding is
 * only ever replaced by a more specific one, so the loop ends. Values still unknown at the
 * end are replicated.
 *
 * Conflicts, as XLA resolves them (sharding_propagation.cc, MaybeImproveInstructionSharding
 * with may_combine_partial_sharding, and hlo_sharding_util's IsShardingMoreSpecific):
 * - candidates that fit together (partial shardings splitting different dims over
 *   different devices, or one refining the other) are merged;
 * - otherwise the more specific one wins: more tiles beats fewer, any tiling beats
 *   replication;
 * - on a tie the sharding seen first stays: the value's current sharding, or among the
 *   operands of one equation the earliest operand.
 */
import type { Atom, Equation, Program } from '../program/ir.js';
import { isPrimitiveEquation } from '../program/ir.js';
import type { PrimitiveName } from '../tpu/ops.js';
import { ShardingError } from './errors.js';
import { HloSharding } from './sharding.js';
import { type ShardingLink, shardingLinks } from './sharding_rules.js';
import { isMoreSpecific, mergeShardings } from './sharding_util.js';

export const MAX_AGGRESSIVENESS = 3;

export interface PropagationOptions {
  /** Fixed shardings of the program inputs, in order (undefined: free). */
  readonly inShardings?: readonly (HloSharding | undefined)[];
  /** Fixed shardings of the program outputs, in order (undefined: free). */
  readonly outShardings?: readonly (HloSharding | undefined)[];
}

export interface PropagationResult {
  /** The sharding of every variable of the program, by id. */
  readonly shardings: ReadonlyMap<number, HloSharding>;
  /** Variables whose sharding was fixed by an annotation. */
  readonly annotated: ReadonlySet<number>;
  /** Sharding of an atom (constants are replicated). */
  shardingOf(a: Atom): HloSharding;
}

/** Combines candidate shardings of one value: merge where compatible, else keep the more specific (first on ties). */
export function combineCandidates(candidates: readonly HloSharding[]): HloSharding | undefined {
  let acc: HloSharding | undefined;
  for (const c of candidates) {
    if (!acc) acc = c;
    else acc = mergeShardings(acc, c) ?? (isMoreSpecific(c, acc) ? c : acc);
  }
  return acc;
}

function checkRank(s: HloSharding, rank: number, what: string): HloSharding {
  if (s.isTiled && s.dataRank !== rank) throw new ShardingError(`${what}: sharding ${s.toString()} is for rank ${s.dataRank}, the value has rank ${rank}`);
  return s;
}

/** The annotations of `program` and the options, by variable id. Options win over constraints. */
function fixedShardings(program: Program, opts: PropagationOptions): Map<number, HloSharding> {
  const fixed = new Map<number, HloSharding>();
  const rankOf = new Map<number, number>();
  for (const v of program.inputs) rankOf.set(v.id, v.aval.shape.length);
  for (const eq of program.equations) for (const v of eq.outputs) rankOf.set(v.id, v.aval.shape.length);
  for (const [id, ann] of program.annotations ?? []) {
    if (ann.kind === 'sharding' && rankOf.has(id)) fixed.set(id, checkRank(HloSharding.parse(ann.text), rankOf.get(id)!, 'sharding constraint'));
  }
  if (opts.inShardings && opts.inShardings.length !== program.inputs.length) {
    throw new ShardingError(`inShardings: ${opts.inShardings.length} shardings for ${program.inputs.length} inputs`);
  }
  if (opts.outShardings && opts.outShardings.length !== program.outputs.length) {
    throw new ShardingError(`outShardings: ${opts.outShardings.length} shardings for ${program.outputs.length} outputs`);
  }
  opts.inShardings?.forEach((s, i) => {
    const v = program.inputs[i]!;
    if (s) fixed.set(v.id, checkRank(s, v.aval.shape.length, `inShardings[${i}]`));
  });
  opts.outShardings?.forEach((s, i) => {
    const a = program.outputs[i]!;
    if (s && a.kind === 'var') fixed.set(a.id, checkRank(s, a.aval.shape.length, `outShardings[${i}]`));
  });
  return fixed;
}

/**
 * A pure function of shardings, remembered by object identity. Shardings are immutable, and
 * a value keeps the same sharding object until it is refined, so every sweep after the
 * first repeats most calls; each call is O(devices), which matters on thousands of cores.
 */
function memoByIdentity<K extends object, R>(f: (a: K, b: HloSharding) => R): (a: K, b: HloSharding) => R {
  const cache = new WeakMap<K, Map<HloSharding, R>>();
  return (a, b) => {
    let m = cache.get(a);
    if (!m) cache.set(a, (m = new Map()));
    if (m.has(b)) return m.get(b)!;
    const r = f(a, b);
    m.set(b, r);
    return r;
  };
}

export function propagateShardings(program: Program, opts: PropagationOptions = {}): PropagationResult {
  const fixed = fixedShardings(program, opts);
  const forwardOf = memoByIdentity((l: ShardingLink, s: HloSharding) => l.forward(s));
  const backwardOf = memoByIdentity((l: ShardingLink, s: HloSharding) => l.backward(s));
  const merge = memoByIdentity((a: HloSharding, b: HloSharding) => mergeShardings(a, b));
  const current = new Map<number, HloSharding>(fixed);
  const links = new Map<Equation, ShardingLink[]>();
  for (const eq of program.equations) {
    // Collectives (per-core programs) carry manual values: nothing to propagate through.
    links.set(eq, isPrimitiveEquation(eq) ? shardingLinks(eq as Equation<PrimitiveName>) : []);
  }
  const shardingOfAtom = (a: Atom): HloSharding | undefined => (a.kind === 'const' ? undefined : current.get(a.id));

  /** Offers `candidate` to variable `id`; true when its sharding changed. */
  const offer = (id: number, candidate: HloSharding | undefined): boolean => {
    if (!candidate || fixed.has(id)) return false;
    const old = current.get(id);
    if (!old) {
      current.set(id, candidate);
      return true;
    }
    const merged = merge(old, candidate);
    const next = merged && isMoreSpecific(merged, old) ? merged : isMoreSpecific(candidate, old) && !merged ? candidate : undefined;
    if (!next) return false;
    current.set(id, next);
    return true;
  };

  for (let level = 0; level <= MAX_AGGRESSIVENESS; level++) {
    let changed = true;
    while (changed) {
      changed = false;
      for (const eq of program.equations) {
        const ls = links.get(eq)!;
        eq.outputs.forEach((v, k) => {
          const cands: HloSharding[] = [];
          for (const l of ls) {
            if (l.output !== k || l.forwardLevel > level) continue;
            const s = shardingOfAtom(eq.inputs[l.operand]!);
            const c = s && forwardOf(l, s);
            if (c) cands.push(c);
          }
          if (offer(v.id, combineCandidates(cands))) changed = true;
        });
      }
      for (let e = program.equations.length - 1; e >= 0; e--) {
        const eq = program.equations[e]!;
        const ls = links.get(eq)!;
        eq.inputs.forEach((a, i) => {
          if (a.kind !== 'var') return;
          const cands: HloSharding[] = [];
          for (const l of ls) {
            if (l.operand !== i || l.backwardLevel > level) continue;
            const s = current.get(eq.outputs[l.output]!.id);
            const c = s && backwardOf(l, s);
            if (c) cands.push(c);
          }
          if (offer(a.id, combineCandidates(cands))) changed = true;
        });
      }
    }
  }

  const all = new Map<number, HloSharding>();
  const assign = (id: number): void => {
    all.set(id, current.get(id) ?? HloSharding.replicate());
  };
  program.inputs.forEach((v) => assign(v.id));
  for (const eq of program.equations) for (const v of eq.outputs) assign(v.id);
  return {
    shardings: all,
    annotated: new Set(fixed.keys()),
    shardingOf: (a) => (a.kind === 'const' ? HloSharding.replicate() : (all.get(a.id) ?? HloSharding.replicate())),
  };
}
