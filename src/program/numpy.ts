/**
 * `jax.numpy` for tpusim (import as `jnp`): arrays with shape and dtype, numpy broadcasting
 * and promotion (JS numbers are weakly typed scalars), contractions, reductions, indexing.
 * Everything is built from `bind` calls of layer-1 primitives, so it works eagerly, under
 * `jit` and under `grad` alike.
 */
export { Tensor } from './tracer.js';
export type { ArrayLike } from './numpy/dtypes.js';
export { asarray, resultType, scalar } from './numpy/dtypes.js';
export { broadcastShapes, broadcastTo } from './numpy/axes.js';
export * from './numpy/creation.js';
export * from './numpy/elementwise.js';
export * from './numpy/shape.js';
export * from './numpy/reductions.js';
export * from './numpy/linalg.js';
export * from './numpy/indexing.js';
export * from './numpy/sorting.js';
