/** Optimizers as optax composes them from transformations: sgd, adam, adamw, adafactor. */
import { type GradientTransformation, type ScalarOrSchedule, chain, identity } from './base.js';
import {
  type AdamOptions,
  type Mask,
  addDecayedWeights,
  clipByBlockRms,
  ema,
  scale,
  scaleByAdam,
  scaleByFactoredRms,
  scaleByLearningRate,
  scaleByParamBlockRms,
  trace,
} from './transforms.js';

/** optax.sgd: plain, with momentum (heavy ball), or Nesterov momentum. */
export function sgd(learningRate: ScalarOrSchedule, { momentum, nesterov = false }: { momentum?: number; nesterov?: boolean } = {}): GradientTransformation {
  return chain(momentum === undefined ? identity() : trace(momentum, nesterov), scaleByLearningRate(learningRate)) as GradientTransformation;
}

/** optax.adam (b1 0.9, b2 0.999, eps 1e-8). */
export function adam(learningRate: ScalarOrSchedule, options: AdamOptions = {}): GradientTransformation {
  return chain(scaleByAdam(options), scaleByLearningRate(learningRate)) as GradientTransformation;
}

/** optax.adamw: Adam with decoupled weight decay (default 1e-4), applied before the learning rate. */
export function adamw(
  learningRate: ScalarOrSchedule,
  { weightDecay = 1e-4, mask, ...adamOptions }: AdamOptions & { weightDecay?: number; mask?: Mask } = {},
): GradientTransformation {
  return chain(scaleByAdam(adamOptions), addDecayedWeights(weightDecay, mask), scaleByLearningRate(learningRate)) as GradientTransformation;
}

export interface AdafactorOptions {
  readonly minDimSizeToFactor?: number;
  readonly decayRate?: number;
  readonly decayOffset?: number;
  readonly multiplyByParameterScale?: boolean;
  /** null disables update clipping. */
  readonly clippingThreshold?: number | null;
  readonly momentum?: number;
  readonly weightDecayRate?: number;
  readonly eps?: number;
  readonly factored?: boolean;
  readonly weightDecayMask?: Mask;
}

/**
 * optax.adafactor with its defaults (decay_rate 0.8, clipping_threshold 1.0,
 * multiply_by_parameter_scale, eps 1e-30, min_dim_size_to_factor 128): factored second
 * moments, block-RMS update clipping, relative step size by parameter scale.
 */
export function adafactor(learningRate?: ScalarOrSchedule | null, o: AdafactorOptions = {}): GradientTransformation {
  const tx: GradientTransformation[] = [
    scaleByFactoredRms({
      factored: o.factored ?? true,
      decayRate: o.decayRate ?? 0.8,
      stepOffset: o.decayOffset ?? 0,
      minDimSizeToFactor: o.minDimSizeToFactor ?? 128,
      epsilon: o.eps ?? 1e-30,
    }) as GradientTransformation,
  ];
  const clipping = o.clippingThreshold === undefined ? 1.0 : o.clippingThreshold;
  if (clipping !== null) tx.push(clipByBlockRms(clipping));
  if (learningRate !== undefined && learningRate !== null) tx.push(scaleByLearningRate(learningRate, false));
  if (o.multiplyByParameterScale ?? true) tx.push(scaleByParamBlockRms());
  if (o.momentum !== undefined) tx.push(ema(o.momentum, false) as GradientTransformation);
  if (o.weightDecayRate !== undefined) tx.push(addDecayedWeights(o.weightDecayRate, o.weightDecayMask));
  // Descent follows the negative gradient.
  tx.push(scale(-1));
  return chain(...tx) as GradientTransformation;
}
