/** optax's building-block transformations: scaling, moments, momentum, weight decay, clipping. */
import { isFloat } from '../../tpu/dtype.js';
import { type PyTree, treeFlatten, treeUnflatten } from '../pytree.js';
import type { Tensor } from '../tracer.js';
import * as jnp from '../numpy.js';
import {
  type GradientTransformation,
  type Params,
  type ScalarOrSchedule,
  globalNorm,
  mapTree,
  requireParams,
  safeIncrement,
  zeroCount,
} from './base.js';
import { asSchedule } from './schedules.js';

/** optax.scale: updates * step. */
export function scale(step: number): GradientTransformation {
  return { init: () => [], update: (u, s) => [mapTree((g) => jnp.multiply(g, step), u), s] };
}

/** optax.scale_by_schedule: updates * schedule(count). */
export function scaleBySchedule(schedule: (count: Tensor) => Tensor): GradientTransformation<{ count: Tensor }> {
  return {
    init: () => ({ count: zeroCount() }),
    update(u, state) {
      const step = schedule(state.count);
      return [mapTree((g) => jnp.multiply(g, jnp.astype(step, g.dtype)), u), { count: safeIncrement(state.count) }];
    },
  };
}

/** optax.scale_by_learning_rate: -lr * updates (flipSign false: +lr). */
export function scaleByLearningRate(learningRate: ScalarOrSchedule, flipSign = true): GradientTransformation {
  const m = flipSign ? -1 : 1;
  if (typeof learningRate === 'number') return scale(m * learningRate);
  const sched = asSchedule(learningRate);
  return scaleBySchedule((count) => jnp.multiply(m, sched(count))) as GradientTransformation;
}

export type TraceState = { trace: PyTree<Tensor> };

/** optax.trace: momentum t <- g + decay t; the update is t, or g + decay t with Nesterov. */
export function trace(decay: number, nesterov = false): GradientTransformation<TraceState> {
  return {
    init: (params) => ({ trace: mapTree((p) => jnp.zerosLike(p), params) }),
    update(updates, state) {
      const f = (g: Tensor, t: Tensor): Tensor => jnp.add(g, jnp.multiply(decay, t));
      const newTrace = mapTree((g, t) => f(g, t!), updates, state.trace);
      const out = nesterov ? mapTree((g, t) => f(g, t!), updates, newTrace) : newTrace;
      return [out, { trace: newTrace }];
    },
  };
}

export type AdamState = { count: Tensor; mu: PyTree<Tensor>; nu: PyTree<Tensor> };

export interface AdamOptions {
  readonly b1?: number;
  readonly b2?: number;
  readonly eps?: number;
  readonly epsRoot?: number;
}

/** Divides a moment by 1 - decay^count (count already incremented). */
function biasCorrection(moment: PyTree<Tensor>, decay: number, count: Tensor): PyTree<Tensor> {
  const correction = jnp.subtract(1, jnp.power(decay, jnp.astype(count, 'f32')));
  return mapTree((t) => jnp.divide(t, jnp.astype(correction, t.dtype)), moment);
}

/** optax.scale_by_adam: mu_hat / (sqrt(nu_hat + eps_root) + eps). */
export function scaleByAdam({ b1 = 0.9, b2 = 0.999, eps = 1e-8, epsRoot = 0 }: AdamOptions = {}): GradientTransformation<AdamState> {
  return {
    init: (params) => ({
      count: zeroCount(),
      mu: mapTree((p) => jnp.zerosLike(p), params),
      nu: mapTree((p) => jnp.zerosLike(p), params),
    }),
    update(updates, state) {
      const mu = mapTree((g, m) => jnp.add(jnp.multiply(1 - b1, g), jnp.multiply(b1, m!)), updates, state.mu);
      const nu = mapTree((g, v) => jnp.add(jnp.multiply(1 - b2, jnp.square(g)), jnp.multiply(b2, v!)), updates, state.nu);
      const count = safeIncrement(state.count);
      const muHat = biasCorrection(mu, b1, count);
      const nuHat = biasCorrection(nu, b2, count);
      const out = mapTree((m, v) => jnp.divide(m, jnp.add(jnp.sqrt(jnp.add(v!, epsRoot)), eps)), muHat, nuHat);
      return [out, { count, mu, nu }];
    },
  };
}

/** Which leaves a transformation applies to: a pytree of booleans with the params' structure, or a function building one. */
export type Mask = PyTree<boolean> | ((params: Params) => PyTree<boolean>);

/** optax.add_decayed_weights: updates + weightDecay * params (on the masked leaves). */
export function addDecayedWeights(weightDecay: number, mask?: Mask): GradientTransformation {
  return {
    init: () => [],
    update(updates, state, params) {
      const p = requireParams('add_decayed_weights', params);
      const m = mask === undefined ? null : typeof mask === 'function' ? mask(p) : mask;
      const { leaves: uLeaves, treedef } = treeFlatten(updates);
      const pLeaves = treeFlatten(p).leaves;
      const mLeaves = m === null ? null : treeFlatten<boolean>(m).leaves;
      if (mLeaves && mLeaves.length !== uLeaves.length) {
        throw new RangeError(`add_decayed_weights: mask has ${mLeaves.length} leaves, the updates ${uLeaves.length}`);
      }
      const out = uLeaves.map((u, i) => (mLeaves && !mLeaves[i] ? u : jnp.add(u, jnp.multiply(weightDecay, pLeaves[i]!))));
      return [treeUnflatten(treedef, out), state];
    },
  };
}

/** optax.clip_by_global_norm: rescales all updates together so their global l2 norm is at most maxNorm. */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation {
  return {
    init: () => [],
    update(updates, state) {
      const g = globalNorm(updates);
      const trigger = jnp.less(g, maxNorm);
      const out = mapTree((t) => jnp.where(trigger, t, jnp.multiply(jnp.divide(t, jnp.astype(g, t.dtype)), maxNorm)), updates);
      return [out, state];
    },
  };
}

/** optax.clip: each element clipped to [-maxDelta, maxDelta]. */
export function clip(maxDelta: number): GradientTransformation {
  return { init: () => [], update: (u, s) => [mapTree((t) => jnp.clip(t, -maxDelta, maxDelta), u), s] };
}

/** optax.clip_by_block_rms: each leaf divided by max(1, rms(leaf) / threshold). */
export function clipByBlockRms(threshold: number): GradientTransformation {
  return {
    init: () => [],
    update(updates, state) {
      const out = mapTree((u) => {
        const denom = jnp.maximum(1, jnp.divide(jnp.sqrt(jnp.mean(jnp.square(u))), threshold));
        return jnp.divide(u, denom);
      }, updates);
      return [out, state];
    },
  };
}

/** optax.scale_by_param_block_rms: each update times max(rms(param), minScale). */
export function scaleByParamBlockRms(minScale = 1e-3): GradientTransformation {
  return {
    init: () => [],
    update(updates, state, params) {
      const p = requireParams('scale_by_param_block_rms', params);
      const out = mapTree((u, w) => jnp.multiply(u, jnp.maximum(jnp.sqrt(jnp.mean(jnp.square(w!))), minScale)), updates, p);
      return [out, state];
    },
  };
}

/** optax.ema: an exponential moving average of the updates (debiased or not). */
export function ema(decay: number, debias = true): GradientTransformation<{ count: Tensor; ema: PyTree<Tensor> }> {
  return {
    init: (params) => ({ count: zeroCount(), ema: mapTree((p) => jnp.zerosLike(p), params) }),
    update(updates, state) {
      const e = mapTree((g, t) => jnp.add(jnp.multiply(1 - decay, g), jnp.multiply(decay, t!)), updates, state.ema);
      const count = safeIncrement(state.count);
      const out = debias ? biasCorrection(e, decay, count) : e;
      return [out, { count, ema: e }];
    },
  };
}

// ---- factored second moments (Adafactor) ------------------------------------------------------

/**
 * optax's _factored_dims: for rank >= 2 whose second-largest dim is at least the threshold,
 * the dims [d1, d0] of the second-largest and largest sizes (ties: the later dim is larger,
 * as numpy's stable argsort orders them).
 */
export function factoredDims(shape: readonly number[], factored: boolean, minDimSizeToFactor: number): [number, number] | null {
  if (!factored || shape.length < 2) return null;
  const sorted = shape.map((d, i) => [d, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const second = sorted[sorted.length - 2]!;
  const largest = sorted[sorted.length - 1]!;
  if (second[0] < minDimSizeToFactor) return null;
  return [second[1], largest[1]];
}

export type FactoredRmsState = { count: Tensor; vRow: PyTree<Tensor>; vCol: PyTree<Tensor>; v: PyTree<Tensor> };

export interface FactoredRmsOptions {
  readonly factored?: boolean;
  readonly decayRate?: number;
  readonly stepOffset?: number;
  readonly minDimSizeToFactor?: number;
  readonly epsilon?: number;
}

/**
 * optax.scale_by_factored_rms (Adafactor, Shazeer & Stern 2018): for factored leaves keeps
 * row and column means of g^2 + eps and scales by rsqrt of their outer product over the row
 * mean; other leaves keep a full second moment. Decay at step t is 1 - (t + 1)^-decayRate.
 */
export function scaleByFactoredRms({
  factored = true,
  decayRate = 0.8,
  stepOffset = 0,
  minDimSizeToFactor = 128,
  epsilon = 1e-30,
}: FactoredRmsOptions = {}): GradientTransformation<FactoredRmsState> {
  const dimsOf = (p: Tensor): [number, number] | null => factoredDims(p.shape, factored, minDimSizeToFactor);
  // optax keeps a [1]-shaped zero in the moment slots a leaf does not use, so every state tree has the params structure.
  const unusedSlot = (p: Tensor): Tensor => jnp.zeros([1], p.dtype);
  return {
    init(params) {
      return {
        count: zeroCount(),
        vRow: mapTree((p) => {
          const d = dimsOf(p);
          return d ? jnp.zeros(p.shape.filter((_, i) => i !== d[1]), p.dtype) : unusedSlot(p);
        }, params),
        vCol: mapTree((p) => {
          const d = dimsOf(p);
          return d ? jnp.zeros(p.shape.filter((_, i) => i !== d[0]), p.dtype) : unusedSlot(p);
        }, params),
        v: mapTree((p) => (dimsOf(p) ? unusedSlot(p) : jnp.zerosLike(p)), params),
      };
    },
    update(updates, state, params) {
      const p = requireParams('scale_by_factored_rms', params);
      const t = jnp.astype(jnp.subtract(state.count, stepOffset), 'f32');
      const decay = jnp.subtract(1, jnp.power(jnp.add(t, 1), -decayRate));
      const { leaves: grads, treedef } = treeFlatten(updates);
      const pl = treeFlatten(p).leaves;
      const rows = treeFlatten(state.vRow).leaves;
      const cols = treeFlatten(state.vCol).leaves;
      const vs = treeFlatten(state.v).leaves;
      const out: Tensor[] = [];
      const newRows: Tensor[] = [];
      const newCols: Tensor[] = [];
      const newVs: Tensor[] = [];
      grads.forEach((g, i) => {
        const param = pl[i]!;
        const dtype = param.dtype;
        const dec = jnp.astype(decay, isFloat(dtype) ? dtype : 'f32');
        const gradSqr = jnp.add(jnp.square(g), epsilon);
        const dims = dimsOf(param);
        if (dims) {
          const [d1, d0] = dims;
          const vRow = jnp.astype(jnp.add(jnp.multiply(dec, rows[i]!), jnp.multiply(jnp.subtract(1, dec), jnp.mean(gradSqr, { axis: d0 }))), dtype);
          const vCol = jnp.astype(jnp.add(jnp.multiply(dec, cols[i]!), jnp.multiply(jnp.subtract(1, dec), jnp.mean(gradSqr, { axis: d1 }))), dtype);
          const reducedD1 = d1 > d0 ? d1 - 1 : d1;
          const rowColMean = jnp.mean(vRow, { axis: reducedD1, keepdims: true });
          const rowFactor = jnp.rsqrt(jnp.divide(vRow, rowColMean));
          const colFactor = jnp.rsqrt(vCol);
          out.push(jnp.multiply(jnp.multiply(g, jnp.expandDims(rowFactor, d0)), jnp.expandDims(colFactor, d1)));
          newRows.push(vRow);
          newCols.push(vCol);
          newVs.push(unusedSlot(param));
        } else {
          const v = jnp.astype(jnp.add(jnp.multiply(dec, vs[i]!), jnp.multiply(jnp.subtract(1, dec), gradSqr)), dtype);
          out.push(jnp.multiply(g, jnp.rsqrt(v)));
          newRows.push(unusedSlot(param));
          newCols.push(unusedSlot(param));
          newVs.push(v);
        }
      });
      return [
        treeUnflatten(treedef, out),
        {
          count: safeIncrement(state.count),
          vRow: treeUnflatten(treedef, newRows),
          vCol: treeUnflatten(treedef, newCols),
          v: treeUnflatten(treedef, newVs),
        },
      ];
    },
  };
}
