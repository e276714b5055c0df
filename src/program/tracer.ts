/**
 * Tensors and tracing.
 *
 * A `Tensor` is either concrete (it holds a TensorView on the host) or traced (it stands
 * for a variable of a program being built). Every operation goes through `bind`:
 * - with no trace active, `bind` evaluates the primitive at once on the host (eager mode,
 *   not priced: only programs run on an emulated core are priced);
 * - inside `trace`, it records an equation into the innermost program being built.
 *
 * Transforms (jit, grad, vjp, jvp) all work the same way: trace a function to a Program,
 * transform the Program, then `evalProgram` it with `bind` — which evaluates eagerly, or
 * records into an enclosing trace, so transforms nest (grad of grad, grad inside jit).
 */
import type { DType } from '../tpu/dtype.js';
import type { PrimitiveName, PrimitiveParams } from '../tpu/ops.js';
import { inferShapes } from '../tpu/primitives.js';
import { type AbstractValue, type TensorView, shapeToString, sizeOf, toNumbers } from '../tpu/tensor.js';
import { type Atom, type Equation, type OpName, type OpParams, type Program, type Var, type VarAnnotation, constAtom, newVar } from './ir.js';
import { type CollectiveName, collectiveShapes, isCollective } from '../collectives/ops.js';
import { evalEager } from './eager.js';

/** Reading the value of a traced tensor (e.g. `if (x.item() > 0)` inside jit) is not possible. */
export class ConcretizationError extends Error {
  override name = 'ConcretizationError';
}

/** A tracer was used outside the trace that created it (stored in a closure and used later). */
export class EscapedTracerError extends Error {
  override name = 'EscapedTracerError';
}

type TensorState =
  | { readonly kind: 'concrete'; readonly value: TensorView }
  | { readonly kind: 'traced'; readonly builder: ProgramBuilder; readonly v: Var };

export class Tensor {
  /** @internal use `Tensor.concrete` / the builders. */
  constructor(private readonly state: TensorState) {}

  static concrete(value: TensorView): Tensor {
    return new Tensor({ kind: 'concrete', value });
  }

  get aval(): AbstractValue {
    return this.state.kind === 'concrete' ? this.state.value : this.state.v.aval;
  }
  get shape(): readonly number[] {
    return this.aval.shape;
  }
  get dtype(): DType {
    return this.aval.dtype;
  }
  get ndim(): number {
    return this.aval.shape.length;
  }
  get size(): number {
    return sizeOf(this.aval.shape);
  }
  get isConcrete(): boolean {
    return this.state.kind === 'concrete';
  }

  /** The concrete value; throws ConcretizationError for a traced tensor. */
  value(): TensorView {
    if (this.state.kind !== 'concrete') {
      throw new ConcretizationError(
        `cannot read the value of a traced ${shapeToString(this.aval)} inside a transformed function ` +
          `(jit/grad trace shapes, not values); compute it outside, or pass it as an input`,
      );
    }
    return this.state.value;
  }

  /** The elements as plain numbers (bf16 widened). */
  toNumbers(): Float64Array {
    return toNumbers(this.value());
  }

  /** The single element of a size-1 tensor. */
  item(): number {
    const v = this.value();
    if (v.data.length !== 1) throw new Error(`item(): tensor ${shapeToString(v)} has ${v.data.length} elements, not 1`);
    return this.toNumbers()[0]!;
  }

  toString(): string {
    return this.state.kind === 'concrete'
      ? `Tensor(${shapeToString(this.aval)})`
      : `Traced<${shapeToString(this.aval)}>`;
  }

  /** @internal */
  get traceState(): TensorState {
    return this.state;
  }
}

/** The program under construction by one `trace` call. Builders nest like JAX's trace levels. */
export class ProgramBuilder {
  readonly inputs: Var[] = [];
  readonly equations: Equation[] = [];
  /** Tensors of enclosing traces that this program reads: lifted to extra inputs. */
  readonly captured = new Map<Tensor, Var>();
  /** Annotations on this program's variables by id (see Program.annotations). */
  readonly annotations = new Map<number, VarAnnotation>();

  constructor(readonly parent: ProgramBuilder | null) {}

  isAncestorOf(other: ProgramBuilder): boolean {
    for (let b = other.parent; b; b = b.parent) if (b === this) return true;
    return false;
  }

  addInput(aval: AbstractValue): Tensor {
    const v = newVar(aval);
    this.inputs.push(v);
    return new Tensor({ kind: 'traced', builder: this, v });
  }

  /** The atom by which this program refers to `t`. */
  atomOf(t: Tensor): Atom {
    const s = t.traceState;
    if (s.kind === 'concrete') return constAtom(s.value);
    if (s.builder === this) return s.v;
    if (s.builder.isAncestorOf(this)) {
      let v = this.captured.get(t);
      if (!v) {
        v = newVar(s.v.aval);
        this.captured.set(t, v);
      }
      return v;
    }
    throw new EscapedTracerError(
      `a traced ${shapeToString(t.aval)} from a finished or unrelated trace was used; ` +
        `tracers must not escape the function being transformed`,
    );
  }
}

let currentBuilder: ProgramBuilder | null = null;

/**
 * Applies a primitive to tensors: evaluates eagerly, or records into the active trace.
 * Collectives (psum, all_gather, ...) only record: they need a shard_map trace.
 */
export function bind<N extends OpName>(op: N, inputs: readonly Tensor[], params: OpParams[N]): Tensor[] {
  const builder = currentBuilder;
  if (builder === null) {
    if (isCollective(op)) {
      throw new EscapedTracerError(`${op} was called outside of any trace; collectives run inside shard_map (or a partitioned program)`);
    }
    const values = inputs.map((t) => {
      if (!t.isConcrete) {
        throw new EscapedTracerError(`${op}: a traced ${shapeToString(t.aval)} was used outside of any trace`);
      }
      return t.value();
    });
    return evalEager(op as PrimitiveName, params as PrimitiveParams[PrimitiveName], values).map(Tensor.concrete);
  }
  const atoms = inputs.map((t) => builder.atomOf(t));
  const inAvals = atoms.map((a) => a.aval);
  const outAvals = isCollective(op)
    ? collectiveShapes<CollectiveName>(op, inAvals, params as OpParams[CollectiveName])
    : inferShapes(op as PrimitiveName, inAvals, params as PrimitiveParams[PrimitiveName]);
  const outputs = outAvals.map(newVar);
  builder.equations.push({ op, params, inputs: atoms, outputs } as Equation);
  return outputs.map((v) => new Tensor({ kind: 'traced', builder, v }));
}

export function bind1<N extends OpName>(op: N, inputs: readonly Tensor[], params: OpParams[N]): Tensor {
  return bind(op, inputs, params)[0]!;
}

/**
 * Records `annotation` on the variable `t` stands for in the active trace (a sharding
 * constraint, read by layer 4). Concrete tensors and calls outside a trace are left alone:
 * annotations only matter to a program being built.
 */
export function annotate(t: Tensor, annotation: VarAnnotation): void {
  const builder = currentBuilder;
  if (builder === null) return;
  const atom = builder.atomOf(t);
  if (atom.kind === 'var') builder.annotations.set(atom.id, annotation);
}

export interface TraceResult {
  /** Inputs: the declared ones, then one per captured outer tensor. */
  readonly program: Program;
  /** The outer tensors the program captured, in the order of its extra inputs. */
  readonly captured: readonly Tensor[];
}

/**
 * Traces `fn` on abstract inputs of `avals` into a Program. Tensors of enclosing traces that
 * `fn` closes over become extra program inputs (listed in `captured`).
 */
export function trace(fn: (...args: Tensor[]) => readonly Tensor[], avals: readonly AbstractValue[]): TraceResult {
  const builder = new ProgramBuilder(currentBuilder);
  currentBuilder = builder;
  let outAtoms: Atom[];
  try {
    const args = avals.map((a) => builder.addInput(a));
    const outs = fn(...args);
    outAtoms = outs.map((o) => builder.atomOf(o));
  } finally {
    currentBuilder = builder.parent;
  }
  const captured = [...builder.captured.keys()];
  const program: Program = {
    inputs: [...builder.inputs, ...captured.map((t) => builder.captured.get(t)!)],
    equations: builder.equations,
    outputs: outAtoms,
    ...(builder.annotations.size > 0 ? { annotations: new Map(builder.annotations) } : {}),
  };
  return { program, captured };
}

/** True while a trace is being built (ops record rather than evaluate). */
export function isTracing(): boolean {
  return currentBuilder !== null;
}

/**
 * Runs `program` on tensors with `bind`: evaluates eagerly, or records the program's
 * equations into the active trace (inlining). Inputs: the program's inputs in order.
 */
export function evalProgram(program: Program, args: readonly Tensor[]): Tensor[] {
  if (args.length !== program.inputs.length) {
    throw new Error(`evalProgram: ${args.length} arguments for a program of ${program.inputs.length} inputs`);
  }
  const env = new Map<number, Tensor>();
  program.inputs.forEach((v, i) => env.set(v.id, args[i]!));
  const read = (a: Atom): Tensor => {
    if (a.kind === 'const') return Tensor.concrete(a.value);
    const t = env.get(a.id);
    if (!t) throw new Error(`evalProgram: variable %${a.id} used before it is defined`);
    return t;
  };
  for (const eq of program.equations) {
    const outs = bind(eq.op, eq.inputs.map(read), eq.params as OpParams[typeof eq.op]);
    eq.outputs.forEach((v, i) => env.set(v.id, outs[i]!));
  }
  // Inlined into an enclosing trace, the program's annotations move with its values.
  for (const [id, ann] of program.annotations ?? []) {
    const t = env.get(id);
    if (t) annotate(t, ann);
  }
  return program.outputs.map(read);
}
