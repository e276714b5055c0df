/**
 * The axis environment (JAX's axis env): the mesh whose axis names collectives may use.
 * shard_map binds its mesh while tracing the body, so `psum(x, 'data')` knows the size of
 * 'data' and records it in the op's params.
 */
import type { DeviceMesh } from '../collectives/mesh.js';
import { ShardingError } from './errors.js';

const stack: DeviceMesh[] = [];

/** Runs `f` with `mesh`'s axes bound. */
export function withAxisEnv<T>(mesh: DeviceMesh, f: () => T): T {
  stack.push(mesh);
  try {
    return f();
  } finally {
    stack.pop();
  }
}

/** Sizes of `axes` in the innermost bound mesh; throws naming the unbound axis. */
export function boundAxisSizes(op: string, axes: readonly string[]): number[] {
  const mesh = stack[stack.length - 1];
  if (!mesh) throw new ShardingError(`${op}: axis name '${axes.join("', '")}' is not bound; collectives run inside shard_map`);
  return axes.map((a) => {
    const i = mesh.axisNames.indexOf(a);
    if (i < 0) throw new ShardingError(`${op}: unbound axis name '${a}'; the mesh has (${mesh.axisNames.join(', ')})`);
    return mesh.shape[i]!;
  });
}
