/**
 * Learning-rate schedules (optax): functions from the step count to a scalar. They are jnp
 * expressions, so the count may be a traced tensor (the optimizer state's count under jit).
 */
import type { Tensor } from '../tracer.js';
import * as jnp from '../numpy.js';
import type { Schedule } from './base.js';

function countF32(count: Tensor | number): Tensor {
  return jnp.astype(jnp.asarray(count), 'f32');
}

/** optax.constant_schedule. */
export function constantSchedule(value: number): Schedule {
  return () => jnp.full([], value, 'f32');
}

/** optax.polynomial_schedule: from init to end over transitionSteps (after transitionBegin), with `power`. */
export function polynomialSchedule(initValue: number, endValue: number, power: number, transitionSteps: number, transitionBegin = 0): Schedule {
  if (transitionSteps <= 0) return constantSchedule(initValue);
  return (count) => {
    const c = jnp.clip(jnp.subtract(countF32(count), transitionBegin), 0, transitionSteps);
    const frac = jnp.subtract(1, jnp.divide(c, transitionSteps));
    return jnp.add(jnp.multiply(initValue - endValue, jnp.power(frac, power)), endValue);
  };
}

/** optax.linear_schedule: e.g. a linear warmup from 0 to the peak rate. */
export function linearSchedule(initValue: number, endValue: number, transitionSteps: number, transitionBegin = 0): Schedule {
  return polynomialSchedule(initValue, endValue, 1, transitionSteps, transitionBegin);
}

/** optax.cosine_decay_schedule: init * ((1 - alpha) * (0.5 (1 + cos(pi t / T)))^exponent + alpha), t clipped at T. */
export function cosineDecaySchedule(initValue: number, decaySteps: number, alpha = 0, exponent = 1): Schedule {
  if (!(decaySteps > 0)) throw new RangeError(`cosine_decay_schedule: decaySteps must be positive, got ${decaySteps}`);
  return (count) => {
    const c = jnp.minimum(countF32(count), decaySteps);
    const cosine = jnp.multiply(0.5, jnp.add(1, jnp.cos(jnp.multiply(Math.PI / decaySteps, c))));
    return jnp.multiply(initValue, jnp.add(jnp.multiply(1 - alpha, jnp.power(cosine, exponent)), alpha));
  };
}

/** optax.join_schedules: schedules[i] runs from boundaries[i - 1], fed the count minus that boundary. */
export function joinSchedules(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  if (schedules.length !== boundaries.length + 1) {
    throw new RangeError(`join_schedules: ${schedules.length} schedules need ${schedules.length - 1} boundaries, got ${boundaries.length}`);
  }
  return (count) => {
    const c = jnp.asarray(count);
    let out = schedules[0]!(c);
    boundaries.forEach((b, i) => {
      out = jnp.where(jnp.less(c, b), out, schedules[i + 1]!(jnp.subtract(c, b)));
    });
    return out;
  };
}

/** optax.warmup_cosine_decay_schedule: linear warmup to the peak, then cosine decay to endValue by decaySteps. */
export function warmupCosineDecaySchedule(
  initValue: number,
  peakValue: number,
  warmupSteps: number,
  decaySteps: number,
  endValue = 0,
  exponent = 1,
): Schedule {
  const alpha = peakValue === 0 ? 0 : endValue / peakValue;
  return joinSchedules(
    [linearSchedule(initValue, peakValue, warmupSteps), cosineDecaySchedule(peakValue, Math.max(decaySteps - warmupSteps, 1), alpha, exponent)],
    [warmupSteps],
  );
}

/**
 * A cyclic (triangular) schedule, Smith's cyclical learning rates: rises linearly from
 * baseValue to maxValue over stepSize steps and falls back over the next stepSize.
 * 'triangular2' halves the amplitude every cycle.
 */
export function cyclicSchedule(baseValue: number, maxValue: number, stepSize: number, mode: 'triangular' | 'triangular2' = 'triangular'): Schedule {
  if (!(stepSize > 0)) throw new RangeError(`cyclic schedule: stepSize must be positive, got ${stepSize}`);
  return (count) => {
    const c = countF32(count);
    const cycle = jnp.floor(jnp.add(1, jnp.divide(c, 2 * stepSize)));
    const x = jnp.abs(jnp.add(jnp.subtract(jnp.divide(c, stepSize), jnp.multiply(2, cycle)), 1));
    let amplitude = jnp.multiply(maxValue - baseValue, jnp.maximum(0, jnp.subtract(1, x)));
    if (mode === 'triangular2') amplitude = jnp.divide(amplitude, jnp.power(2, jnp.subtract(cycle, 1)));
    return jnp.add(baseValue, amplitude);
  };
}

/** A schedule from a number (constant) or a schedule. */
export function asSchedule(value: number | Schedule): Schedule {
  return typeof value === 'number' ? constantSchedule(value) : value;
}
