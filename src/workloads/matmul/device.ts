/**
 * The benchmark's per-core step (a device function, run on every core at once): the local
 * dot of this core's shards on its TensorCore, priced by the cost model, then psum of the
 * partial products over the sharded axes, so every core ends with the full product.
 */
import type { DeviceContext } from '../../worker/device_context.js';
import { checksum } from './data.js';

export interface MatmulStepArgs {
  /** Array ids of A (sharded [None, axes]) and B (sharded [axes, None]). */
  readonly a: string;
  readonly b: string;
  /** The mesh axes the contracting dim is split over. */
  readonly axes: readonly string[];
  /** Keep the product as the call's output 'c'. */
  readonly keep: boolean;
}

export interface MatmulStepResult {
  /** Sum of this core's copy of the product, read back from its arena. */
  readonly checksum: number;
}

export function matmulStep(dev: DeviceContext, args: MatmulStepArgs): MatmulStepResult {
  const a = dev.array(args.a);
  const b = dev.array(args.b);
  const [partial] = dev.execute(
    'dot_general',
    { contractingDims: [[1], [0]], batchDims: [[], []], preferredElementType: 'f32' },
    [a, b],
  );
  const c = dev.psum(partial!, args.axes);
  dev.release(partial!);
  const sum = checksum(c.data);
  if (args.keep) dev.output('c', c);
  return { checksum: sum };
}
