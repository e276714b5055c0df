import type { PrimitiveName, PrimitiveParams } from '../ops.js';
import type { TensorView } from '../tensor.js';

/**
 * A fast-path kernel: same contract as the reference kernel (writes into preallocated
 * outputs, views into the arena), but it must not allocate per call in its hot loop.
 * Returns false when it does not handle this case (dtype, layout, rank), and the caller
 * then runs the reference kernel. It must not have written anything when it returns false.
 */
export type FastKernel<N extends PrimitiveName> = (
  inputs: readonly TensorView[],
  outputs: readonly TensorView[],
  params: PrimitiveParams[N],
) => boolean;

export type FastKernelTable = { readonly [N in PrimitiveName]?: FastKernel<N> };

/** Which implementation the fast path runs on this host. */
export type FastBackend = 'native-avx512' | 'native-avx2' | 'native-generic' | 'wasm-simd' | 'js';
