/**
 * Moving data between a global tensor and its per-device shards under an HloSharding:
 * what `ctx.put(data, sharding)` writes to each core, and how per-core results are put
 * back together. Uneven dims give padded shards (zeros past the valid extent).
 */
import { type TensorView, hostTensor, sizeOf, stridesOf } from '../tpu/tensor.js';
import { ShardingError } from './errors.js';
import type { HloSharding, ShardRegion } from './sharding.js';

/** Copies the `region` box between a global tensor and a shard of shape region.paddedShape. */
function copyBox(global: TensorView, shard: TensorView, region: ShardRegion, toShard: boolean): void {
  const valid = region.validShape;
  if (sizeOf(valid) === 0) return;
  const gs = stridesOf(global.shape);
  const ss = stridesOf(shard.shape);
  const rank = valid.length;
  const idx = new Array<number>(rank).fill(0);
  const n = sizeOf(valid);
  for (let k = 0; k < n; k++) {
    let g = 0;
    let s = 0;
    for (let d = 0; d < rank; d++) {
      g += (idx[d]! + region.offset[d]!) * gs[d]!;
      s += idx[d]! * ss[d]!;
    }
    if (toShard) shard.data[s] = global.data[g]!;
    else global.data[g] = shard.data[s]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < valid[d]!) break;
      idx[d] = 0;
    }
  }
}

/** `device`'s shard of `global` (a fresh host tensor of the padded tile shape). */
export function shardOf(global: TensorView, sharding: HloSharding, device: number): TensorView {
  if (sharding.isManual) throw new ShardingError('shardOf: a manual sharding has no global layout');
  const region = sharding.shardOffset(device, global.shape);
  const shard = hostTensor(global.dtype, region.paddedShape);
  copyBox(global, shard, region, true);
  return shard;
}

/**
 * The global tensor from per-device shards (`shards[i]` belongs to `devices[i]`). Each
 * element is read from the first device (in `devices` order) whose tile holds it, so
 * replicas are not cross-checked here.
 */
export function assembleShards(
  shards: readonly TensorView[],
  devices: readonly number[],
  sharding: HloSharding,
  globalShape: readonly number[],
): TensorView {
  if (shards.length !== devices.length) throw new ShardingError(`assembleShards: ${shards.length} shards for ${devices.length} devices`);
  if (shards.length === 0) throw new ShardingError('assembleShards: no shards');
  const out = hostTensor(shards[0]!.dtype, globalShape);
  for (let i = devices.length - 1; i >= 0; i--) {
    // Reverse order so the first device holding a tile writes last and wins.
    const region = sharding.shardOffset(devices[i]!, globalShape);
    const expected = region.paddedShape.join(',');
    if (shards[i]!.shape.join(',') !== expected) {
      throw new ShardingError(`assembleShards: shard of device ${devices[i]} has shape [${shards[i]!.shape}], expected [${expected}]`);
    }
    copyBox(out, shards[i]!, region, false);
  }
  return out;
}
