/**
 * The program IR: a flat SSA list of primitive equations, in the manner of a jaxpr.
 * Every op is a layer-1 primitive (src/tpu/ops.ts); there are no other node kinds, so every
 * transform (autodiff, partitioning, pricing) is a table keyed by primitive name.
 */
import type { PrimitiveName, PrimitiveParams } from '../tpu/ops.js';
import type { CollectiveName, CollectivePrimitiveParams } from '../collectives/ops.js';
import { isCollective } from '../collectives/ops.js';
import type { AbstractValue, TensorView } from '../tpu/tensor.js';

/** An SSA value: defined once, by a program input or by one equation's output. */
export interface Var {
  readonly kind: 'var';
  readonly id: number;
  readonly aval: AbstractValue;
}

/** A constant embedded in the program (a closed-over array, a Python-style scalar literal). */
export interface Const {
  readonly kind: 'const';
  readonly aval: AbstractValue;
  readonly value: TensorView;
}

export type Atom = Var | Const;

/**
 * An equation's op: a layer-1 primitive, or a collective (src/collectives/ops.ts), which
 * appears only in per-core SPMD programs (shard_map bodies and partitioned programs).
 */
export type OpName = PrimitiveName | CollectiveName;
export type OpParams = PrimitiveParams & CollectivePrimitiveParams;

export interface Equation<N extends OpName = OpName> {
  readonly op: N;
  readonly params: OpParams[N];
  readonly inputs: readonly Atom[];
  readonly outputs: readonly Var[];
}

export interface Program {
  readonly inputs: readonly Var[];
  readonly equations: readonly Equation[];
  readonly outputs: readonly Atom[];
  /**
   * Annotations on variables by id (sharding constraints, in/out shardings), recorded by
   * the tracer and read by layer 4. Opaque here: layer 3 only carries them.
   */
  readonly annotations?: ReadonlyMap<number, VarAnnotation>;
}

/** A sharding annotation in XLA's text form (`{devices=[2,1]0,1}`); layer 4 parses it. */
export interface ShardingAnnotation {
  readonly kind: 'sharding';
  readonly text: string;
}

export type VarAnnotation = ShardingAnnotation;

/** A collective equation (psum, all_gather, ...): per-core SPMD programs only. */
export function isCollectiveEquation(eq: Equation): eq is Equation<CollectiveName> {
  return isCollective(eq.op);
}

/** A layer-1 primitive equation. */
export function isPrimitiveEquation(eq: Equation): eq is Equation<PrimitiveName> {
  return !isCollective(eq.op);
}

let nextVarId = 0;

/** A fresh variable. Ids are unique within the process, which keeps transforms simple. */
export function newVar(aval: AbstractValue): Var {
  return { kind: 'var', id: nextVarId++, aval: { shape: [...aval.shape], dtype: aval.dtype } };
}

export function constAtom(value: TensorView): Const {
  return { kind: 'const', aval: { shape: value.shape, dtype: value.dtype }, value };
}

/** A value's key for liveness: a variable's id, or the Const object itself. */
export type AtomKey = number | Const;

export function atomKey(a: Atom): AtomKey {
  return a.kind === 'var' ? a.id : a;
}

/**
 * For each value, the index of the last equation that reads it; program outputs live to
 * the end (index = equations.length). Executors free a value after its last use.
 */
export function lastUses(program: Program): Map<AtomKey, number> {
  const last = new Map<AtomKey, number>();
  program.equations.forEach((eq, i) => {
    for (const a of eq.inputs) last.set(atomKey(a), i);
  });
  for (const a of program.outputs) last.set(atomKey(a), program.equations.length);
  return last;
}
