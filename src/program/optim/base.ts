/**
 * optax's core: a GradientTransformation is a pair of pure functions over pytrees of Tensors,
 * `init(params) -> state` and `update(updates, state, params?) -> [updates, state]`. They are
 * built from jnp ops, so they run eagerly and inside jit alike (the state is a pytree, so it
 * can be a jit input and output).
 */
import { type PyTree, treeLeaves, treeMap } from '../pytree.js';
import type { Tensor } from '../tracer.js';
import * as jnp from '../numpy.js';

export type Params = PyTree<Tensor>;
export type Updates = PyTree<Tensor>;
export type OptState = PyTree<Tensor>;

export interface GradientTransformation<S extends OptState = OptState> {
  init(params: Params): S;
  /** `params` is required by transformations that read the parameters (weight decay, adafactor). */
  update(updates: Updates, state: S, params?: Params): [Updates, S];
}

/** A step count (i32 scalar tensor, or a number) to a value (f32 scalar tensor). */
export type Schedule = (count: Tensor | number) => Tensor;
export type ScalarOrSchedule = number | Schedule;

export function mapTree(f: (x: Tensor, ...rest: Tensor[]) => Tensor, tree: PyTree<Tensor>, ...rest: PyTree<Tensor>[]): PyTree<Tensor> {
  return treeMap<Tensor, Tensor>(f, tree, ...rest);
}

export function requireParams(name: string, params: Params | undefined): Params {
  if (params === undefined) throw new TypeError(`${name}: update needs the current params (pass them as the third argument)`);
  return params;
}

/** optax.apply_updates: params + updates, each cast back to its parameter's dtype. */
export function applyUpdates(params: Params, updates: Updates): Params {
  return mapTree((p, u) => jnp.astype(jnp.add(p, u!), p.dtype), params, updates);
}

/** optax.identity: passes updates through, with no state. */
export function identity(): GradientTransformation<PyTree<Tensor>> {
  return { init: () => [], update: (updates, state) => [updates, state] };
}

/** optax.chain: applies transformations in order; the state is the list of their states. */
export function chain(...transforms: GradientTransformation[]): GradientTransformation<OptState[]> {
  return {
    init: (params) => transforms.map((t) => t.init(params)),
    update(updates, state, params) {
      const newState: OptState[] = [];
      let u = updates;
      transforms.forEach((t, i) => {
        const [nu, ns] = t.update(u, (state as OptState[])[i]!, params);
        u = nu;
        newState.push(ns);
      });
      return [u, newState];
    },
  };
}

/** optax.global_norm: the l2 norm of all leaves together. */
export function globalNorm(tree: PyTree<Tensor>): Tensor {
  const leaves = treeLeaves(tree);
  let total: Tensor = jnp.zeros([], 'f32');
  for (const l of leaves) total = jnp.add(total, jnp.sum(jnp.square(jnp.astype(l, 'f32'))));
  return jnp.sqrt(total);
}

/** A step counter incremented without wrapping (optax.safe_increment). */
export function safeIncrement(count: Tensor): Tensor {
  return jnp.where(jnp.less(count, 2147483647), jnp.add(count, 1), count);
}

export function zeroCount(): Tensor {
  return jnp.zeros([], 'i32');
}
