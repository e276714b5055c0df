/**
 * Runs a per-core SPMD program on every core of a mesh in one process, in lockstep: each
 * core runs its equations in order (CoreExecution, the same code path as the pod's actors)
 * until it reaches a collective; when every core of a group has reached it, the group's
 * operands are combined with the reference semantics (src/collectives/ops.ts) and each
 * core resumes. For tests, and as the numerical check of anything partitioned.
 *
 * It is priced: every core is a TensorCore with its own clock, and a collective costs what
 * layer 2's alpha-beta model says for the group on the interconnect. A group starts when
 * its last member arrives, so earlier arrivals wait (their clocks jump to the common end).
 */
import { type Interconnect, gridInterconnect, iciLink, interconnectOf } from '../collectives/interconnect.js';
import type { DeviceMesh } from '../collectives/mesh.js';
import { layer2Call, referenceCollective } from '../collectives/ops.js';
import { priceCollective } from '../collectives/plan.js';
import type { Program } from '../program/ir.js';
import { type ChipSpec, chipSpec } from '../tpu/chips.js';
import { TensorCore } from '../tpu/core.js';
import type { TensorView } from '../tpu/tensor.js';
import { type Topology, parseTopology } from '../tpu/topology.js';
import { type CollectiveRequest, CoreExecution, SpmdExecutionError } from './executor.js';
import { assembleShards, shardOf } from './shard_data.js';
import type { SpmdProgram } from './spmd_program.js';

export interface LockstepOptions {
  /** The slice the mesh's core ids live on: gives the chip and the interconnect. */
  readonly topology?: Topology | string;
  /** The chip when no topology is given (default v4); the mesh is then taken as its own torus. */
  readonly chip?: ChipSpec;
  /** Arena bytes per core (default 64 MiB: tests run many cores in one process). */
  readonly hbmBytes?: number;
  /** Use these cores (one per mesh device, in mesh.devices order) instead of making them. */
  readonly cores?: readonly TensorCore[];
}

export interface LockstepResult {
  /** Outputs per core, in mesh.devices order. */
  readonly outputs: TensorView[][];
  /** The cores, in mesh.devices order: their clocks and stats hold the run's price. */
  readonly cores: readonly TensorCore[];
}

const DEFAULT_TEST_HBM_BYTES = 64 * 1024 * 1024;

function interconnectFor(mesh: DeviceMesh, opts: LockstepOptions): { ic: Interconnect; chip: ChipSpec } {
  if (opts.topology !== undefined) {
    const topo = typeof opts.topology === 'string' ? parseTopology(opts.topology) : opts.topology;
    for (const d of mesh.devices) {
      if (d >= topo.numCores) throw new SpmdExecutionError(`mesh device ${d} is not a core of ${topo.name} (${topo.numCores} cores)`);
    }
    return { ic: interconnectOf(topo), chip: topo.chip };
  }
  const chip = opts.chip ?? chipSpec('v4');
  const n = mesh.devices.length;
  for (const d of mesh.devices) {
    if (d >= n) throw new SpmdExecutionError(`mesh device ${d}: without a topology, core ids must be 0..${n - 1}`);
  }
  return { ic: gridInterconnect(mesh.shape, mesh.shape.map(() => true), iciLink(chip)), chip };
}

/** Runs `program` on every core of `mesh`; `inputs[i]` are the inputs of core mesh.devices[i]. */
export function runLockstep(
  program: Program,
  mesh: DeviceMesh,
  inputs: readonly (readonly TensorView[])[],
  opts: LockstepOptions = {},
): LockstepResult {
  const devices = mesh.devices;
  if (inputs.length !== devices.length) throw new SpmdExecutionError(`runLockstep: inputs for ${inputs.length} cores, the mesh has ${devices.length}`);
  const { ic, chip } = interconnectFor(mesh, opts);
  const cores =
    opts.cores ?? devices.map((coreId) => new TensorCore({ chip, coreId, hbmBytes: opts.hbmBytes ?? DEFAULT_TEST_HBM_BYTES }));
  if (cores.length !== devices.length) throw new SpmdExecutionError(`runLockstep: ${cores.length} cores for ${devices.length} mesh devices`);
  const runs: CoreExecution[] = [];
  try {
    devices.forEach((d, i) => runs.push(new CoreExecution(program, inputs[i]!, cores[i]!, mesh, d)));
    const position = new Map(devices.map((d, i) => [d, i]));
    let pending = runs.map((r) => r.advance());
    while (pending.some((p) => p !== null)) {
      if (pending.some((p) => p === null)) {
        const stuck = pending.findIndex((p) => p !== null);
        throw new SpmdExecutionError(`core ${devices[stuck]} waits in ${pending[stuck]!.op} but other cores have finished the program`);
      }
      const reqs = pending as CollectiveRequest[];
      const done = new Set<number>();
      reqs.forEach((req, i) => {
        if (done.has(i)) return;
        const members = req.group.members.map((m) => position.get(m)!);
        const group = members.map((j) => reqs[j]!);
        for (const g of group) {
          if (g.equation !== req.equation) {
            throw new SpmdExecutionError(`cores ${devices[i]} and ${devices[members[group.indexOf(g)]!]} reached different collectives`);
          }
        }
        const outs = referenceCollective(req.op, req.params, group.map((g) => g.inputs));
        const x = req.inputs[0]!;
        const { cost } = priceCollective(layer2Call(req.op, req.params)!, x.shape, x.dtype, req.group.members, ic);
        const start = Math.max(...members.map((j) => cores[j]!.now));
        members.forEach((j, rank) => {
          runs[j]!.complete({ outputs: outs[rank]!, seconds: start + cost.seconds - cores[j]!.now });
          done.add(j);
        });
      });
      pending = runs.map((r) => r.advance());
    }
    return { outputs: runs.map((r) => r.results()), cores };
  } finally {
    for (const r of runs) r.dispose();
  }
}

/**
 * Runs an SpmdProgram on global values: splits each input by its sharding, runs every core
 * in lockstep, and assembles each output from the cores' shards by its sharding.
 */
export function runSpmd(
  spmd: SpmdProgram,
  globalInputs: readonly TensorView[],
  opts: LockstepOptions = {},
): { outputs: TensorView[]; cores: readonly TensorCore[] } {
  if (globalInputs.length !== spmd.inShardings.length) {
    throw new SpmdExecutionError(`runSpmd: ${globalInputs.length} inputs for a program of ${spmd.inShardings.length}`);
  }
  const devices = spmd.mesh.devices;
  const perCore = devices.map((d) => globalInputs.map((x, i) => shardOf(x, spmd.inShardings[i]!, d)));
  const { outputs, cores } = runLockstep(spmd.program, spmd.mesh, perCore, opts);
  const globals = spmd.outShardings.map((s, k) =>
    assembleShards(
      outputs.map((o) => o[k]!),
      devices,
      s,
      spmd.globalOutAvals[k]!.shape,
    ),
  );
  return { outputs: globals, cores };
}
