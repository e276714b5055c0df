/**
 * `shardMap(fn, mesh, inSpecs, outSpecs)`: manual SPMD, as JAX's shard_map. `fn` is traced
 * once on the per-shard shapes with the mesh's axis names bound, so the collectives of
 * ./lax_parallel.ts (psum, allGather, psumScatter, allToAll, ppermute, axisIndex) work
 * inside; the result is a per-core SPMD program (an SpmdProgram) that every core runs on
 * its own shards.
 *
 * - An input dim split over mesh axes must divide evenly by their sizes (as JAX requires).
 * - An output spec that does not name a mesh axis asserts the value is the same along it
 *   (JAX's out_specs replication); the global output is read from the first core of each
 *   tile. Not checked at run time.
 * - Called on concrete tensors, the program runs on every core in lockstep in this process
 *   (spmd_interpreter.ts), priced per core. The pod runs the same SpmdProgram on its actors.
 */
import type { DeviceMesh } from '../collectives/mesh.js';
import { Tensor, isTracing, trace } from '../program/tracer.js';
import type { AbstractValue } from '../tpu/tensor.js';
import { withAxisEnv } from './axis_env.js';
import { ShardingError } from './errors.js';
import { Mesh } from './mesh.js';
import { NamedSharding, type PartitionSpec } from './sharding.js';
import { type LockstepOptions, runSpmd } from './spmd_interpreter.js';
import type { SpmdProgram } from './spmd_program.js';
import type { TensorCore } from '../tpu/core.js';

type Out = Tensor | readonly Tensor[];

export interface ShardMapped<R extends Out> {
  /** Runs on global tensors: shards, runs every core in lockstep, assembles the outputs. */
  (...args: Tensor[]): R;
  /** The SPMD program for inputs of these global shapes and dtypes. */
  lower(...args: (Tensor | AbstractValue)[]): SpmdProgram;
  /** The cores of the most recent eager call (their clocks hold its simulated time). */
  readonly lastCores: readonly TensorCore[] | undefined;
}

function specAxisProduct(mesh: Mesh, spec: PartitionSpec, d: number): number {
  return (spec.dims[d] ?? []).reduce((p, a) => p * mesh.axisSize(a), 1);
}

function localAval(mesh: Mesh, spec: PartitionSpec, aval: AbstractValue, what: string): AbstractValue {
  if (spec.length > aval.shape.length) {
    throw new ShardingError(`shard_map: ${what} has rank ${aval.shape.length} but its spec ${spec.toString()} has ${spec.length} entries`);
  }
  const shape = aval.shape.map((n, d) => {
    const k = specAxisProduct(mesh, spec, d);
    if (n % k !== 0) {
      throw new ShardingError(`shard_map: ${what} dim ${d} of size ${n} is not divisible by ${k} (mesh axes ${(spec.dims[d] ?? []).join(', ')})`);
    }
    return n / k;
  });
  return { shape, dtype: aval.dtype };
}

export function shardMap<R extends Out>(
  fn: (...args: Tensor[]) => R,
  mesh: DeviceMesh,
  inSpecs: readonly PartitionSpec[],
  outSpecs: PartitionSpec | readonly PartitionSpec[],
  opts: LockstepOptions = {},
): ShardMapped<R> {
  const m = Mesh.fromDeviceMesh(mesh);
  const single = !Array.isArray(outSpecs);
  const outList: readonly PartitionSpec[] = single ? [outSpecs as PartitionSpec] : (outSpecs as readonly PartitionSpec[]);
  for (const spec of [...inSpecs, ...outList]) for (const a of spec.axes) m.axisIndex(a);
  let lastCores: readonly TensorCore[] | undefined;

  const lower = (...args: (Tensor | AbstractValue)[]): SpmdProgram => {
    if (args.length !== inSpecs.length) throw new ShardingError(`shard_map: ${args.length} arguments for ${inSpecs.length} in_specs`);
    const globalIn = args.map((a) => ({ shape: [...a.shape], dtype: a.dtype }));
    const localIn = globalIn.map((a, i) => localAval(m, inSpecs[i]!, a, `argument ${i}`));
    let localOut: AbstractValue[] = [];
    const { program, captured } = withAxisEnv(m, () =>
      trace((...locals: Tensor[]) => {
        const r = fn(...locals);
        const outs: readonly Tensor[] = r instanceof Tensor ? [r] : r;
        if (single !== r instanceof Tensor) {
          throw new ShardingError(`shard_map: out_specs is ${single ? 'one spec' : 'a list'} but fn returned ${r instanceof Tensor ? 'one tensor' : 'a list'}`);
        }
        if (outs.length !== outList.length) throw new ShardingError(`shard_map: fn returned ${outs.length} outputs for ${outList.length} out_specs`);
        localOut = outs.map((o) => o.aval);
        return outs;
      }, localIn),
    );
    if (captured.length > 0) {
      throw new ShardingError('shard_map: the body closes over values of an enclosing trace; pass them as arguments instead');
    }
    const globalOut = localOut.map((a, k) => {
      const spec = outList[k]!;
      if (spec.length > a.shape.length) throw new ShardingError(`shard_map: output ${k} has rank ${a.shape.length} but its spec ${spec.toString()} has ${spec.length} entries`);
      return { shape: a.shape.map((n, d) => n * specAxisProduct(m, spec, d)), dtype: a.dtype };
    });
    return {
      program,
      mesh: m,
      inShardings: inSpecs.map((s, i) => new NamedSharding(m, s).toHloSharding(globalIn[i]!.shape.length)),
      outShardings: outList.map((s, k) => new NamedSharding(m, s).toHloSharding(globalOut[k]!.shape.length)),
      globalInAvals: globalIn,
      globalOutAvals: globalOut,
    };
  };

  const call = (...args: Tensor[]): R => {
    if (isTracing()) {
      throw new ShardingError('shard_map: calling a shard_map inside jit or grad is not supported; call it on concrete tensors');
    }
    const spmd = lower(...args);
    const { outputs, cores } = runSpmd(
      spmd,
      args.map((a) => a.value()),
      opts,
    );
    lastCores = cores;
    const outs = outputs.map(Tensor.concrete);
    return (single ? outs[0]! : outs) as unknown as R;
  };

  Object.defineProperties(call, {
    lower: { value: lower },
    lastCores: { get: () => lastCores },
  });
  return call as ShardMapped<R>;
}
