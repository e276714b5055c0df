/** Losses in the manner of optax: per-example values (reduce with jnp.mean yourself, as in optax). */
import type { Tensor } from '../tracer.js';
import { type ArrayLike, asarray } from '../numpy/dtypes.js';
import * as jnp from '../numpy.js';
import { logSigmoid, logSoftmax } from './activations.js';

/** optax.softmax_cross_entropy: -sum(labels * log_softmax(logits)) over the last axis; labels are probabilities (e.g. one-hot). */
export function softmaxCrossEntropy(logits: Tensor, labels: ArrayLike): Tensor {
  const l = asarray(labels);
  if (l.ndim !== logits.ndim || l.shape.some((d, i) => d !== logits.shape[i])) {
    throw new RangeError(`softmax_cross_entropy: labels ${l} must have the shape of logits ${logits}`);
  }
  return jnp.negative(jnp.sum(jnp.multiply(l, logSoftmax(logits)), { axis: -1 }));
}

/**
 * optax.softmax_cross_entropy_with_integer_labels: labels are class ids of shape
 * logits.shape[:-1]. Picks the label's log-probability with a one-hot mask.
 */
export function softmaxCrossEntropyWithIntegerLabels(logits: Tensor, labels: ArrayLike): Tensor {
  const l = asarray(labels);
  const batch = logits.shape.slice(0, -1);
  if (l.dtype !== 'i32' || l.ndim !== batch.length || l.shape.some((d, i) => d !== batch[i])) {
    throw new RangeError(`softmax_cross_entropy_with_integer_labels: labels ${l} must be i32 of shape [${batch.join(',')}] for logits ${logits}`);
  }
  const numClasses = logits.shape[logits.ndim - 1]!;
  const mask = jnp.oneHot(l, numClasses, { dtype: logits.dtype });
  return jnp.negative(jnp.sum(jnp.multiply(mask, logSoftmax(logits)), { axis: -1 }));
}

/** optax.sigmoid_binary_cross_entropy on logits, labels in [0, 1]. */
export function sigmoidBinaryCrossEntropy(logits: Tensor, labels: ArrayLike): Tensor {
  const logP = logSigmoid(logits);
  const logNotP = logSigmoid(jnp.negative(logits));
  return jnp.negative(jnp.add(jnp.multiply(labels, logP), jnp.multiply(jnp.subtract(1, labels), logNotP)));
}

/** optax.l2_loss: 0.5 (predictions - targets)^2, element-wise. */
export function l2Loss(predictions: Tensor, targets: ArrayLike): Tensor {
  return jnp.multiply(0.5, jnp.square(jnp.subtract(predictions, targets)));
}

/** Element-wise squared error (optax.squared_error). */
export function squaredError(predictions: Tensor, targets: ArrayLike): Tensor {
  return jnp.square(jnp.subtract(predictions, targets));
}

/** The mean squared error over every element: a scalar. */
export function mse(predictions: Tensor, targets: ArrayLike): Tensor {
  return jnp.mean(squaredError(predictions, targets));
}
