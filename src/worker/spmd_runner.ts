/**
 * Runs a per-core SPMD program (a shard_map body, or any program: one without collectives
 * runs as the single-device interpreter would) on the actor's core, with the program's
 * collective ops carried out by the core's Communicator between the actors' arenas.
 *
 * Drives layer 4's CoreExecution: it runs equations until a collective, we perform that
 * collective into a temporary in the arena, hand the result back (the executor copies it)
 * and free the temporary. The communicator already advanced the core's clock by the
 * collective's time (its clock hook), so the executor is told 0 seconds more.
 */
import type { Communicator } from '../collectives/communicator.js';
import type { DeviceMesh } from '../collectives/mesh.js';
import { layer2Call } from '../collectives/ops.js';
import { CoreExecution, type CollectiveRequest } from '../gspmd/executor.js';
import type { Program } from '../program/ir.js';
import type { DeviceTensor } from '../tpu/arena.js';
import type { TensorCore } from '../tpu/core.js';
import type { TensorView } from '../tpu/tensor.js';

/** Performs one collective of a program into a fresh arena tensor (the caller frees it). */
function performCollective(req: CollectiveRequest, core: TensorCore, comm: Communicator): DeviceTensor {
  const call = layer2Call(req.op, req.params);
  if (!call) throw new Error(`core ${comm.coreId}: ${req.op} is not a data-moving collective`);
  const x = req.inputs[0]!;
  const axes = req.params.axes;
  const out = core.arena.tensor(x.dtype, comm.outputShape(call, x.shape, x.dtype, axes), `${req.op} output`);
  try {
    switch (call.kind) {
      case 'all-reduce':
        comm.allReduce(x, out, axes, call.params.op);
        break;
      case 'all-gather':
        comm.allGather(x, out, axes, call.params);
        break;
      case 'reduce-scatter':
        comm.psumScatter(x, out, axes, call.params);
        break;
      case 'all-to-all':
        comm.allToAll(x, out, axes, call.params);
        break;
      case 'collective-permute':
        comm.ppermute(x, out, axes, call.params.perm);
        break;
      default:
        throw new Error(`core ${comm.coreId}: ${req.op} maps to ${call.kind}, which programs do not use`);
    }
  } catch (e) {
    core.arena.release(out);
    throw e;
  }
  return out;
}

/**
 * Runs `program` on `core` with `inputs` (views of the core's shards); returns host copies of
 * the outputs. `onCollective` is told when the core enters and leaves each collective.
 */
export function runProgramOnCore(
  program: Program,
  inputs: readonly TensorView[],
  core: TensorCore,
  comm: Communicator,
  mesh: DeviceMesh,
  onCollective: (inside: boolean) => void = () => undefined,
): TensorView[] {
  const run = new CoreExecution(program, inputs, core, mesh, comm.coreId);
  for (let req = run.advance(); req; req = run.advance()) {
    let out: DeviceTensor | undefined;
    try {
      onCollective(true);
      try {
        out = performCollective(req, core, comm);
      } finally {
        onCollective(false);
      }
      run.complete({ outputs: [out], seconds: 0 });
    } catch (e) {
      run.dispose();
      throw e;
    } finally {
      if (out) core.arena.release(out);
    }
  }
  return run.results();
}
