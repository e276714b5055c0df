/** Optimizers in the manner of optax: pure GradientTransformations over pytrees, and schedules. */
export * from './optim/base.js';
export * from './optim/schedules.js';
export * from './optim/transforms.js';
export * from './optim/alias.js';
