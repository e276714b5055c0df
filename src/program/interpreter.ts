/**
 * The single-device interpreter: runs a Program on one emulated TensorCore. It is the
 * numerical oracle for everything distributed, and it is priced: every equation goes
 * through `core.execute`, which advances the core's simulated clock by the cost model.
 *
 * Memory is handled as XLA's buffer assignment would: inputs and constants are copied into
 * the core's HBM arena, and every value is freed right after its last use, so the arena's
 * peak is the program's real peak live memory. Outputs are copied back to the host.
 */
import type { DeviceTensor } from '../tpu/arena.js';
import type { TensorCore } from '../tpu/core.js';
import type { PrimitiveName, PrimitiveParams } from '../tpu/ops.js';
import { type TensorView, hostTensor, sameShape, shapeToString } from '../tpu/tensor.js';
import { type Atom, type AtomKey, type Program, atomKey, isPrimitiveEquation, lastUses } from './ir.js';

function copyToDevice(core: TensorCore, value: TensorView, label: string): DeviceTensor {
  const t = core.arena.tensor(value.dtype, value.shape, label);
  t.data.set(value.data);
  return t;
}

function copyToHost(value: TensorView): TensorView {
  const t = hostTensor(value.dtype, value.shape);
  t.data.set(value.data);
  return t;
}

export class InterpreterError extends Error {
  override name = 'InterpreterError';
}

/** Runs `program` on `core` with `inputs` (host or device views); returns host copies of its outputs. */
export function interpret(program: Program, inputs: readonly TensorView[], core: TensorCore): TensorView[] {
  if (inputs.length !== program.inputs.length) {
    throw new InterpreterError(`interpret: ${inputs.length} inputs for a program of ${program.inputs.length}`);
  }
  program.inputs.forEach((v, i) => {
    const x = inputs[i]!;
    if (x.dtype !== v.aval.dtype || !sameShape(x.shape, v.aval.shape)) {
      throw new InterpreterError(`interpret: input ${i} is ${shapeToString(x)}, the program expects ${shapeToString(v.aval)}`);
    }
  });
  // Checked before any work: a single core cannot run collectives.
  const collective = program.equations.find((eq) => !isPrimitiveEquation(eq));
  if (collective) {
    throw new InterpreterError(`interpret: ${collective.op} is a collective; run per-core SPMD programs with src/gspmd/spmd_interpreter.ts`);
  }
  const last = lastUses(program);
  const live = new Map<AtomKey, DeviceTensor>();
  const release = (k: AtomKey): void => {
    const t = live.get(k);
    if (!t) return;
    live.delete(k);
    core.arena.release(t);
  };
  try {
    program.inputs.forEach((v, i) => {
      if (last.has(v.id) && !live.has(v.id)) live.set(v.id, copyToDevice(core, inputs[i]!, `input ${i} ${shapeToString(v.aval)}`));
    });
    program.equations.forEach((eq, i) => {
      const ins = eq.inputs.map((a) => {
        const k = atomKey(a);
        let t = live.get(k);
        if (!t && a.kind === 'const') {
          t = copyToDevice(core, a.value, `constant ${shapeToString(a.aval)}`);
          live.set(k, t);
        }
        if (!t) throw new InterpreterError(`interpret: ${eq.op} reads a value that is not defined or already freed`);
        return t;
      });
      const op = eq.op as PrimitiveName;
      const outs = core.execute(op, eq.params as PrimitiveParams[typeof op], ins);
      eq.outputs.forEach((v, j) => {
        if (last.has(v.id)) live.set(v.id, outs[j]!);
        else core.arena.release(outs[j]!); // dead on arrival
      });
      for (const a of eq.inputs) if (last.get(atomKey(a)) === i) release(atomKey(a));
    });
    return program.outputs.map((a) => (a.kind === 'const' ? copyToHost(a.value) : copyToHost(live.get(a.id)!)));
  } finally {
    for (const k of [...live.keys()]) release(k);
  }
}
