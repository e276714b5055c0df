/**
 * Neural-network building blocks (jax.nn + flax.linen in functional form, optax losses):
 * activations, losses, initializers, and layers as `init` / `apply` pairs over pytrees.
 */
export * from './nn/activations.js';
export * from './nn/losses.js';
export * as initializers from './nn/initializers.js';
export * from './nn/layers.js';
export * from './nn/normalization.js';
export * from './nn/pooling.js';
export * from './nn/attention.js';
