/**
 * Where the dense LM's tensors live on a 2-axis mesh (batch axis X, model axis Y), per
 * strategy:
 *
 * - '2d' (GSPMD paper §5.1, the dense LM): every weight is split on both axes, one dim on
 *   X and the other on Y, so weights, gradients and optimizer state take 1/(X·Y) of a
 *   core each; activations keep batch on X and their model-sized dim (M, H, heads, vocab)
 *   on Y. The partitioner then all-gathers a weight along X before its einsum and
 *   reduce-scatters its gradient back, and all-gathers or reduce-scatters activations
 *   along Y around each einsum.
 * - 'megatron' (Shoeybi et al. 2019): batch on X; heads and FFN hidden split on Y, weights
 *   split on Y only (replicated along X), the residual stream [B,S,M] not split on Y.
 * - 'data': the batch over every core, weights replicated.
 */
import { NamedSharding, P, type PartitionSpec } from '../../gspmd/sharding.js';
import type { Mesh } from '../../gspmd/mesh.js';
import { withShardingConstraint } from '../../gspmd/annotations.js';
import type { Tensor } from '../../program/tracer.js';
import type { ShardingStrategy } from './config.js';

/** Kinds of weights, by their dims. */
export type WeightKind =
  | 'embedding' // [V, M]
  | 'softmax' // [M, V]
  | 'qkv' // [M, N, D]
  | 'attnOut' // [N, D, M]
  | 'ffnIn' // [M, H]
  | 'ffnOut' // [H, M]
  | 'norm'; // [M]

/** Kinds of activations, by their dims. */
export type ActivationKind =
  | 'residual' // [B, S, M]
  | 'hidden' // [B, S, H]
  | 'heads' // [B, S, N, D]
  | 'scores' // [B, N, S, S]
  | 'logits' // [B, S, V]
  | 'tokens'; // [B, S]

export interface ShardingPlan {
  readonly strategy: ShardingStrategy;
  readonly mesh: Mesh;
  weight(kind: WeightKind): PartitionSpec;
  activation(kind: ActivationKind): PartitionSpec;
  /** Annotates `x` (inside a trace) with the activation layout; identity outside one. */
  constrain(x: Tensor, kind: ActivationKind): Tensor;
}

type SpecTable<K extends string> = { readonly [k in K]: PartitionSpec };

function tables(strategy: ShardingStrategy, x: string, y: string): { weights: SpecTable<WeightKind>; activations: SpecTable<ActivationKind> } {
  switch (strategy) {
    case '2d':
      return {
        weights: {
          embedding: P(y, x),
          softmax: P(x, y),
          qkv: P(x, y, null),
          attnOut: P(y, null, x),
          ffnIn: P(x, y),
          ffnOut: P(y, x),
          norm: P(y),
        },
        activations: {
          residual: P(x, null, y),
          hidden: P(x, null, y),
          heads: P(x, null, y, null),
          scores: P(x, y, null, null),
          logits: P(x, null, y),
          tokens: P(x, null),
        },
      };
    case 'megatron':
      return {
        weights: {
          embedding: P(y, null),
          softmax: P(null, y),
          qkv: P(null, y, null),
          attnOut: P(y, null, null),
          ffnIn: P(null, y),
          ffnOut: P(y, null),
          norm: P(null),
        },
        activations: {
          residual: P(x, null, null),
          hidden: P(x, null, y),
          heads: P(x, null, y, null),
          scores: P(x, y, null, null),
          logits: P(x, null, y),
          tokens: P(x, null),
        },
      };
    case 'data':
      return dataTables([x, y]);
  }
}

/** Weights replicated, the batch split over `all` (major first). */
function dataTables(all: readonly string[]): { weights: SpecTable<WeightKind>; activations: SpecTable<ActivationKind> } {
  return {
    weights: {
      embedding: P(null, null),
      softmax: P(null, null),
      qkv: P(null, null, null),
      attnOut: P(null, null, null),
      ffnIn: P(null, null),
      ffnOut: P(null, null),
      norm: P(null),
    },
    activations: {
      residual: P([...all], null, null),
      hidden: P([...all], null, null),
      heads: P([...all], null, null, null),
      scores: P([...all], null, null, null),
      logits: P([...all], null, null),
      tokens: P([...all], null),
    },
  };
}

function planOf(strategy: ShardingStrategy, mesh: Mesh, t: { weights: SpecTable<WeightKind>; activations: SpecTable<ActivationKind> }): ShardingPlan {
  const named = new Map<ActivationKind, NamedSharding>();
  const sharding = (k: ActivationKind): NamedSharding => {
    let n = named.get(k);
    if (!n) named.set(k, (n = new NamedSharding(mesh, t.activations[k])));
    return n;
  };
  return {
    strategy,
    mesh,
    weight: (k) => t.weights[k],
    activation: (k) => t.activations[k],
    constrain: (x, k) => withShardingConstraint(x, sharding(k)),
  };
}

/** Data parallelism over `axes` of `mesh` (each must exist): weights replicated, the batch split. */
export function dataParallelPlan(mesh: Mesh, axes: readonly string[]): ShardingPlan {
  for (const a of axes) if (!mesh.axisNames.includes(a)) throw new Error(`data parallel plan: the mesh has no axis '${a}' (axes: ${mesh.axisNames.join(', ')})`);
  return planOf('data', mesh, dataTables(axes));
}

export function shardingPlan(strategy: ShardingStrategy, mesh: Mesh, batchAxis: string, modelAxis: string): ShardingPlan {
  for (const a of [batchAxis, modelAxis]) {
    if (!mesh.axisNames.includes(a)) {
      throw new Error(`transformer: sharding '${strategy}' needs mesh axis '${a}'; the mesh has (${mesh.axisNames.join(', ')})`);
    }
  }
  if (batchAxis === modelAxis) throw new Error(`transformer: batchAxis and modelAxis must differ, both are '${batchAxis}'`);
  return planOf(strategy, mesh, tables(strategy, batchAxis, modelAxis));
}
