/**
 * The per-core executor of SPMD programs (shard_map bodies, partitioned programs): the one
 * place that runs a program's equations on a TensorCore and maps its collective ops onto a
 * communicator. The pod's actors call `runSpmdProgramOnCore` with their communicator; the
 * lockstep interpreter (spmd_interpreter.ts) drives the same `CoreExecution` for every core
 * of a mesh in one process.
 *
 * Memory follows the single-device interpreter: inputs and constants are copied into the
 * core's arena, and each value is freed after its last use. Primitive ops are priced by the
 * core; a collective's time is what the communicator reports, added to the core's clock as
 * ICI time.
 */
import { type AxisGroup, type DeviceMesh, axisGroup } from '../collectives/mesh.js';
import { type CollectiveName, type CollectivePrimitiveParams, groupSize } from '../collectives/ops.js';
import type { Atom, AtomKey, Equation, Program } from '../program/ir.js';
import { atomKey, isCollectiveEquation, lastUses } from '../program/ir.js';
import type { DeviceTensor } from '../tpu/arena.js';
import type { TensorCore } from '../tpu/core.js';
import type { PrimitiveName, PrimitiveParams } from '../tpu/ops.js';
import { type TensorView, hostTensor, sameShape, shapeToString } from '../tpu/tensor.js';

export class SpmdExecutionError extends Error {
  override name = 'SpmdExecutionError';
}

/** A collective a core has reached: what it contributes and to which group. */
export interface CollectiveRequest<N extends CollectiveName = CollectiveName> {
  readonly op: N;
  readonly params: CollectivePrimitiveParams[N];
  /** This core's operands (views into its arena). */
  readonly inputs: readonly TensorView[];
  /** The cores taking part, in rank order, and this core's rank. */
  readonly group: AxisGroup;
  /** Index of the equation in the program (the same on every core of an SPMD program). */
  readonly equation: number;
}

export interface CollectiveResult {
  /** This core's outputs (host or device views; the executor copies them into its arena). */
  readonly outputs: readonly TensorView[];
  /** Simulated seconds this core spends in the collective (waiting included). */
  readonly seconds: number;
}

/** What the executor needs from a communicator: run one collective for the calling core. */
export interface SpmdCommunicator {
  collective(request: CollectiveRequest): CollectiveResult;
}

function checkGroup(mesh: DeviceMesh, eq: Equation<CollectiveName>): void {
  groupSize(eq.params);
  eq.params.axes.forEach((a, i) => {
    const k = mesh.axisNames.indexOf(a);
    if (k < 0) throw new SpmdExecutionError(`${eq.op}: the mesh has no axis '${a}' (axes: ${mesh.axisNames.join(', ')})`);
    if (mesh.shape[k] !== eq.params.axisSizes[i]) {
      throw new SpmdExecutionError(`${eq.op}: axis '${a}' has size ${mesh.shape[k]} in the mesh but ${eq.params.axisSizes[i]} in the program`);
    }
  });
}

/**
 * One core's run of an SPMD program as a step machine: `advance()` runs primitive
 * equations until the next collective (which it returns) or the end; `complete(result)`
 * supplies that collective's outputs. axis_index is answered locally from the mesh.
 */
export class CoreExecution {
  private readonly last: Map<AtomKey, number>;
  private readonly live = new Map<AtomKey, DeviceTensor>();
  private pc = 0;
  private pending: CollectiveRequest | null = null;
  private finished = false;

  constructor(
    readonly program: Program,
    inputs: readonly TensorView[],
    readonly core: TensorCore,
    readonly mesh: DeviceMesh,
    /** This core's id in the mesh. */
    readonly coreId: number,
  ) {
    if (inputs.length !== program.inputs.length) {
      throw new SpmdExecutionError(`core ${coreId}: ${inputs.length} inputs for a program of ${program.inputs.length}`);
    }
    program.inputs.forEach((v, i) => {
      const x = inputs[i]!;
      if (x.dtype !== v.aval.dtype || !sameShape(x.shape, v.aval.shape)) {
        throw new SpmdExecutionError(`core ${coreId}: input ${i} is ${shapeToString(x)}, the program expects ${shapeToString(v.aval)}`);
      }
    });
    for (const eq of program.equations) if (isCollectiveEquation(eq)) checkGroup(mesh, eq);
    this.last = lastUses(program);
    try {
      program.inputs.forEach((v, i) => {
        if (this.last.has(v.id) && !this.live.has(v.id)) this.live.set(v.id, this.toDevice(inputs[i]!, `input ${i} ${shapeToString(v.aval)}`));
      });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  get done(): boolean {
    return this.finished;
  }

  /** Runs until the next collective (returned) or the end (null). Frees everything on error. */
  advance(): CollectiveRequest | null {
    if (this.pending) throw new SpmdExecutionError(`core ${this.coreId}: ${this.pending.op} is still waiting for its result`);
    try {
      const eqs = this.program.equations;
      while (this.pc < eqs.length) {
        const eq = eqs[this.pc]!;
        const ins = eq.inputs.map((a) => this.read(a, eq.op));
        if (!isCollectiveEquation(eq)) {
          const op = eq.op as PrimitiveName;
          const outs = this.core.execute(op, eq.params as PrimitiveParams[typeof op], ins);
          this.finishEquation(outs);
          continue;
        }
        const group = axisGroup(this.mesh, eq.params.axes, this.coreId);
        if (eq.op === 'axis_index') {
          const t = this.core.arena.tensor('i32', [], 'axis_index');
          t.data[0] = group.rank;
          this.finishEquation([t]);
          continue;
        }
        this.pending = { op: eq.op, params: eq.params, inputs: ins, group, equation: this.pc };
        return this.pending;
      }
      this.finished = true;
      return null;
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Supplies the outputs of the collective returned by the last advance(). */
  complete(result: CollectiveResult): void {
    const req = this.pending;
    if (!req) throw new SpmdExecutionError(`core ${this.coreId}: no collective is waiting for a result`);
    const eq = this.program.equations[this.pc]!;
    try {
      if (result.outputs.length !== eq.outputs.length) {
        throw new SpmdExecutionError(`core ${this.coreId}: ${req.op} returned ${result.outputs.length} outputs, expected ${eq.outputs.length}`);
      }
      const outs = result.outputs.map((o, i) => {
        const v = eq.outputs[i]!;
        if (o.dtype !== v.aval.dtype || !sameShape(o.shape, v.aval.shape)) {
          throw new SpmdExecutionError(`core ${this.coreId}: ${req.op} returned ${shapeToString(o)}, expected ${shapeToString(v.aval)}`);
        }
        return this.toDevice(o, `${req.op} output`);
      });
      if (result.seconds > 0) this.core.advance(result.seconds, 'ici');
      this.pending = null;
      this.finishEquation(outs);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Host copies of the program's outputs; frees the arena. Call once done. */
  results(): TensorView[] {
    if (!this.finished) throw new SpmdExecutionError(`core ${this.coreId}: the program has not finished`);
    try {
      return this.program.outputs.map((a) => {
        const src = a.kind === 'const' ? a.value : this.live.get(a.id)!;
        const t = hostTensor(src.dtype, src.shape);
        t.data.set(src.data);
        return t;
      });
    } finally {
      this.dispose();
    }
  }

  /** Releases every live buffer (after an error, or when abandoning the run). */
  dispose(): void {
    for (const t of this.live.values()) this.core.arena.release(t);
    this.live.clear();
  }

  private toDevice(value: TensorView, label: string): DeviceTensor {
    const t = this.core.arena.tensor(value.dtype, value.shape, label);
    t.data.set(value.data);
    return t;
  }

  private read(a: Atom, op: string): DeviceTensor {
    const k = atomKey(a);
    let t = this.live.get(k);
    if (!t && a.kind === 'const') {
      t = this.toDevice(a.value, `constant ${shapeToString(a.aval)}`);
      this.live.set(k, t);
    }
    if (!t) throw new SpmdExecutionError(`core ${this.coreId}: ${op} reads a value that is not defined or already freed`);
    return t;
  }

  private finishEquation(outs: readonly DeviceTensor[]): void {
    const eq = this.program.equations[this.pc]!;
    eq.outputs.forEach((v, j) => {
      if (this.last.has(v.id)) this.live.set(v.id, outs[j]!);
      else this.core.arena.release(outs[j]!);
    });
    for (const a of eq.inputs) {
      const k = atomKey(a);
      if (this.last.get(k) === this.pc) {
        const t = this.live.get(k);
        if (t) {
          this.live.delete(k);
          this.core.arena.release(t);
        }
      }
    }
    this.pc++;
  }
}

/**
 * Runs a per-core SPMD program on `core` (core `coreId` of `mesh`), calling `communicator`
 * at each collective; returns host copies of the outputs. The pod's actors use this with
 * their SharedArrayBuffer communicator, which blocks until the group has taken part.
 */
export function runSpmdProgramOnCore(
  program: Program,
  inputs: readonly TensorView[],
  core: TensorCore,
  communicator: SpmdCommunicator,
  mesh: DeviceMesh,
  coreId: number = core.coreId,
): TensorView[] {
  const run = new CoreExecution(program, inputs, core, mesh, coreId);
  for (let req = run.advance(); req; req = run.advance()) {
    let result: CollectiveResult;
    try {
      result = communicator.collective(req);
    } catch (e) {
      run.dispose();
      throw e;
    }
    run.complete(result);
  }
  return run.results();
}
