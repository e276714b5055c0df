/**
 * The oracle test: programs partitioned under many shardings, on meshes 1x2, 2x2, 2x4, 4x2
 * and 8, run on every core in lockstep, must give the single-device interpreter's outputs.
 * Bitwise where the partitioning leaves the order of every float operation unchanged
 * (batch-only splits, element-wise work, gathers); else within a relative 1e-5, because a
 * psum adds per-core partial sums in another order than one core's loop does.
 */
import { describe, it } from 'vitest';
import type { ShardingArg } from '../../../src/gspmd/api.js';
import { Mesh } from '../../../src/gspmd/mesh.js';
import { P } from '../../../src/gspmd/sharding.js';
import { valueAndGrad } from '../../../src/program/autodiff/api.js';
import * as lax from '../../../src/program/lax.js';
import * as nn from '../../../src/program/nn.js';
import * as jnp from '../../../src/program/numpy.js';
import type { Tensor } from '../../../src/program/tracer.js';
import type { DType } from '../../../src/tpu/dtype.js';
import type { AbstractValue, TensorView } from '../../../src/tpu/tensor.js';
import { type OracleOptions, expectMatchesOracle, partitionFn, randomTensor } from './helpers.js';

type Fn = (...args: Tensor[]) => Tensor | readonly Tensor[];

const MESHES = {
  '1x2': Mesh.fromAxes({ data: 1, model: 2 }),
  '2x2': Mesh.fromAxes({ data: 2, model: 2 }),
  '2x4': Mesh.fromAxes({ data: 2, model: 4 }),
  '4x2': Mesh.fromAxes({ data: 4, model: 2 }),
  '8': Mesh.fromAxes({ data: 8 }),
} as const;
type MeshName = keyof typeof MESHES;
const MESH_2D: MeshName[] = ['1x2', '2x2', '2x4', '4x2'];

interface Case {
  readonly name: string;
  readonly meshes: readonly MeshName[];
  readonly shardings: readonly ShardingArg[];
  readonly outShardings?: readonly ShardingArg[];
  readonly opts?: OracleOptions;
}

function aval(shape: number[], dtype: DType = 'f32'): AbstractValue {
  return { shape, dtype };
}

function inputsFor(avals: readonly AbstractValue[], intRanges: readonly number[] = []): TensorView[] {
  return avals.map((a, i) => randomTensor(a.shape, 1000 + 17 * i, a.dtype, intRanges[i] ?? 10));
}

function runCases(fn: Fn, avals: readonly AbstractValue[], cases: readonly Case[], intRanges: readonly number[] = []): void {
  const inputs = inputsFor(avals, intRanges);
  for (const c of cases) {
    for (const m of c.meshes) {
      it(`${c.name} on ${m}`, () => {
        const p = partitionFn(fn, avals, MESHES[m], c.shardings, c.outShardings);
        expectMatchesOracle(p, inputs, c.opts);
      });
    }
  }
}

// ---- MLP forward and backward ---------------------------------------------------------------

function mlpLoss(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, t: Tensor): Tensor {
  const h = jnp.maximum(jnp.add(jnp.matmul(x, w1), b1), 0);
  return jnp.mean(jnp.square(jnp.subtract(jnp.matmul(h, w2), t)));
}
const mlpForward: Fn = (x, w1, b1, w2) => jnp.matmul(jnp.maximum(jnp.add(jnp.matmul(x!, w1!), b1!), 0), w2!);
const mlpTrain: Fn = (x, w1, b1, w2, t) => {
  const [loss, grads] = valueAndGrad(mlpLoss, { argnums: [0, 1, 2, 3] })(x, w1, b1, w2, t) as [Tensor, Tensor[]];
  return [loss, ...grads];
};

describe('oracle: MLP forward', () => {
  // Batch 8 splits evenly on 2, 4 and 8; hidden 12 splits unevenly on 8 (and 4 of 12 evenly).
  const avals = [aval([8, 6]), aval([6, 12]), aval([12]), aval([12, 5])];
  runCases(mlpForward, avals, [
    { name: 'data parallel (bitwise)', meshes: [...MESH_2D, '8'], shardings: [P('data', null), null, null, null], opts: { bitwise: true } },
    { name: 'megatron', meshes: MESH_2D, shardings: [null, P(null, 'model'), P('model'), P('model', null)] },
    { name: 'megatron + data', meshes: MESH_2D, shardings: [P('data', null), P(null, 'model'), P('model'), P('model', null)] },
    { name: 'contracting dim of x split', meshes: MESH_2D, shardings: [P(null, 'model'), P('model', null), null, null] },
    { name: 'hidden split 8 ways (uneven)', meshes: ['8'], shardings: [null, P(null, 'data'), P('data'), P('data', null)] },
    { name: 'output sharded on model', meshes: MESH_2D, shardings: [P('data', null), null, null, null], outShardings: [P('data', 'model')] },
  ]);
});

describe('oracle: MLP forward, uneven batch and hidden', () => {
  // Batch 6 and hidden 10 are uneven on 4 and 8 tiles: padding is masked before reductions.
  const avals = [aval([6, 4]), aval([4, 10]), aval([10]), aval([10, 3])];
  runCases(mlpForward, avals, [
    { name: 'data parallel', meshes: ['4x2', '8'], shardings: [P('data', null), null, null, null], opts: { bitwise: true } },
    { name: 'megatron', meshes: ['2x4', '4x2'], shardings: [P('data', null), P(null, 'model'), P('model'), P('model', null)] },
    { name: 'hidden on data', meshes: ['8'], shardings: [null, P(null, 'data'), P('data'), P('data', null)] },
  ]);
});

describe('oracle: MLP forward and backward', () => {
  const avals = [aval([8, 6]), aval([6, 12]), aval([12]), aval([12, 4]), aval([8, 4])];
  runCases(mlpTrain, avals, [
    { name: 'data parallel', meshes: [...MESH_2D, '8'], shardings: [P('data', null), null, null, null, P('data', null)] },
    { name: 'megatron', meshes: MESH_2D, shardings: [null, P(null, 'model'), P('model'), P('model', null), null] },
    {
      name: 'megatron + data',
      meshes: MESH_2D,
      shardings: [P('data', null), P(null, 'model'), P('model'), P('model', null), P('data', null)],
    },
    { name: 'batch 8 ways, hidden replicated', meshes: ['8'], shardings: [P('data', null), null, null, null, P('data', null)] },
  ]);
  const uneven = [aval([6, 5]), aval([5, 10]), aval([10]), aval([10, 3]), aval([6, 3])];
  runCases(mlpTrain, uneven, [
    { name: 'uneven data parallel', meshes: ['4x2', '8'], shardings: [P('data', null), null, null, null, P('data', null)] },
    { name: 'uneven megatron', meshes: ['2x4', '4x2'], shardings: [P('data', null), P(null, 'model'), P('model'), P('model', null), P('data', null)] },
  ]);
});

// ---- attention block ------------------------------------------------------------------------

const HEADS = 4;
const attention: Fn = (x, wq, wk, wv, wo) => {
  const [b, s] = x!.shape as [number, number];
  const dh = wq!.shape[1]! / HEADS;
  const heads = (w: Tensor) => jnp.reshape(jnp.matmul(x!, w), [b, s, HEADS, dh]);
  const q = heads(wq!);
  const k = heads(wk!);
  const v = heads(wv!);
  const logits = jnp.multiply(jnp.einsum('bqhd,bkhd->bhqk', q, k), 1 / Math.sqrt(dh));
  const weights = nn.softmax(logits, -1);
  const out = jnp.reshape(jnp.einsum('bhqk,bkhd->bqhd', weights, v), [b, s, HEADS * dh]);
  return jnp.add(x!, jnp.matmul(out, wo!));
};

describe('oracle: attention block', () => {
  const avals = [aval([4, 6, 8]), aval([8, 16]), aval([8, 16]), aval([8, 16]), aval([16, 8])];
  runCases(attention, avals, [
    { name: 'batch (bitwise)', meshes: ['2x2', '4x2'], shardings: [P('data', null, null), null, null, null, null], opts: { bitwise: true } },
    {
      name: 'heads on model',
      meshes: ['1x2', '2x2', '4x2'],
      shardings: [P('data', null, null), P(null, 'model'), P(null, 'model'), P(null, 'model'), P('model', null)],
    },
    { name: 'sequence on model', meshes: ['2x2', '2x4'], shardings: [P('data', 'model', null), null, null, null, null] },
    { name: 'embed dim on data', meshes: ['8'], shardings: [P(null, null, 'data'), P('data', null), P('data', null), P('data', null), P(null, 'data')] },
  ]);
});

// ---- conv net with spatial sharding -----------------------------------------------------------

const convNet: Fn = (x, k1, k2) => {
  const y = jnp.maximum(lax.convGeneralDilated(x!, k1!, { windowStrides: [1, 1], padding: 'SAME', dimensionNumbers: ['NHWC', 'HWIO', 'NHWC'] }), 0);
  const pooled = nn.maxPool(y, [2, 2], { strides: [2, 2] });
  const z = lax.convGeneralDilated(pooled, k2!, { windowStrides: [1, 1], padding: 'SAME', dimensionNumbers: ['NHWC', 'HWIO', 'NHWC'] });
  return [z, nn.avgPool(z, [3, 3], { strides: [1, 1], padding: 'SAME' })];
};
const convGrad: Fn = (x, k1, k2) => {
  const loss = (a: Tensor, b: Tensor) => jnp.sum(jnp.square((convNet(x!, a, b) as Tensor[])[0]!));
  const [value, grads] = valueAndGrad(loss, { argnums: [0, 1] })(k1, k2) as [Tensor, Tensor[]];
  return [value, ...grads];
};

describe('oracle: conv net with spatial sharding', () => {
  const avals = [aval([2, 16, 16, 3]), aval([3, 3, 3, 4]), aval([3, 3, 4, 4])];
  runCases(convNet, avals, [
    { name: 'batch (bitwise)', meshes: ['2x2'], shardings: [P('data', null, null, null), null, null], opts: { bitwise: true } },
    { name: 'height (halo, bitwise)', meshes: ['1x2', '2x4', '8'], shardings: [P(null, 'data', null, null), null, null], opts: { bitwise: true } },
    { name: 'height and width', meshes: ['2x2', '4x2'], shardings: [P(null, 'data', 'model', null), null, null], opts: { bitwise: true } },
    { name: 'batch and height', meshes: ['2x4'], shardings: [P('data', 'model', null, null), null, null], opts: { bitwise: true } },
    { name: 'output channels', meshes: ['2x2'], shardings: [P('data', null, null, null), P(null, null, null, 'model'), P(null, null, 'model', null)] },
  ]);
  const uneven = [aval([2, 10, 6, 3]), aval([3, 3, 3, 4]), aval([3, 3, 4, 4])];
  runCases(convNet, uneven, [{ name: 'uneven height', meshes: ['4x2'], shardings: [P(null, 'data', null, null), null, null] }]);
  runCases(convGrad, avals, [
    { name: 'backward, height split', meshes: ['2x2'], shardings: [P(null, 'data', null, null), null, null] },
    { name: 'backward, batch split', meshes: ['4x2'], shardings: [P('data', null, null, null), null, null] },
  ]);
});

// ---- layer norm -------------------------------------------------------------------------------

const layerNorm: Fn = (x, scale, bias) => nn.layerNorm.apply({ scale: scale!, bias: bias! }, x!);
const layerNormGrad: Fn = (x, scale, bias) => {
  const loss = (a: Tensor, s: Tensor) => jnp.sum(jnp.square(nn.layerNorm.apply({ scale: s, bias: bias! }, a)));
  const [value, grads] = valueAndGrad(loss, { argnums: [0, 1] })(x, scale) as [Tensor, Tensor[]];
  return [value, ...grads];
};

describe('oracle: layer norm', () => {
  const avals = [aval([4, 6, 12]), aval([12]), aval([12])];
  runCases(layerNorm, avals, [
    { name: 'batch (bitwise)', meshes: ['2x2', '8'], shardings: [P('data', null, null), null, null], opts: { bitwise: true } },
    { name: 'features (reduction over a split dim)', meshes: MESH_2D, shardings: [P('data', null, 'model'), P('model'), P('model')] },
    { name: 'features 8 ways (uneven)', meshes: ['8'], shardings: [P(null, null, 'data'), P('data'), P('data')] },
  ]);
  runCases(layerNormGrad, avals, [
    { name: 'backward, features split', meshes: ['2x2', '2x4'], shardings: [P('data', null, 'model'), P('model'), null] },
  ]);
});

// ---- softmax cross-entropy ------------------------------------------------------------------------

const xentOneHot: Fn = (logits, labels) => jnp.mean(nn.softmaxCrossEntropy(logits!, labels!));
const xentInt: Fn = (logits, labels) => jnp.mean(nn.softmaxCrossEntropyWithIntegerLabels(logits!, labels!));
const xentGrad: Fn = (logits, labels) => {
  const [value, g] = valueAndGrad((l: Tensor) => jnp.mean(nn.softmaxCrossEntropyWithIntegerLabels(l, labels!)))(logits) as [Tensor, Tensor];
  return [value, g];
};

describe('oracle: softmax cross-entropy', () => {
  const avals = [aval([8, 12]), aval([8, 12])];
  runCases(xentOneHot, avals, [
    { name: 'vocab on model', meshes: MESH_2D, shardings: [P('data', 'model'), P('data', 'model')] },
    { name: 'vocab 8 ways (uneven)', meshes: ['8'], shardings: [P(null, 'data'), P(null, 'data')] },
  ]);
  const intAvals = [aval([8, 12]), aval([8], 'i32')];
  runCases(
    xentInt,
    intAvals,
    [
      { name: 'integer labels, vocab on model', meshes: ['2x2', '2x4'], shardings: [P('data', 'model'), P('data')] },
      { name: 'integer labels, batch', meshes: ['8'], shardings: [P('data', null), P('data')] },
    ],
    [0, 12],
  );
  runCases(xentGrad, intAvals, [{ name: 'gradient, vocab on model', meshes: ['2x2', '4x2'], shardings: [P('data', 'model'), P('data')] }], [0, 12]);
});

// ---- embedding lookup ---------------------------------------------------------------------------------

const embed: Fn = (table, ids) => nn.embedding.apply({ embedding: table! }, ids!);
const embedGrad: Fn = (table, ids) => {
  const [value, g] = valueAndGrad((t: Tensor) => jnp.sum(jnp.square(nn.embedding.apply({ embedding: t }, ids!))))(table) as [Tensor, Tensor];
  return [value, g];
};

describe('oracle: embedding lookup', () => {
  const avals = [aval([13, 8]), aval([4, 6], 'i32')];
  runCases(
    embed,
    avals,
    [
      { name: 'table on vocab (masked psum, bitwise)', meshes: MESH_2D, shardings: [P('model', null), P('data', null)], opts: { bitwise: true } },
      { name: 'table on vocab 8 ways (uneven)', meshes: ['8'], shardings: [P('data', null), null], opts: { bitwise: true } },
      { name: 'table on model dim', meshes: MESH_2D, shardings: [P(null, 'model'), P('data', null)], opts: { bitwise: true } },
    ],
    [0, 13],
  );
  runCases(embedGrad, avals, [{ name: 'gradient, table on vocab', meshes: ['2x2', '4x2'], shardings: [P('model', null), P('data', null)] }], [0, 13]);
});

// ---- top-k ----------------------------------------------------------------------------------------------

const topK: Fn = (x) => lax.topK(x!, 3);
const approxTopK: Fn = (x) => lax.approxMaxK(x!, 4, { recallTarget: 0.95 });
const approxMinK: Fn = (x) => lax.approxMinK(x!, 4, { recallTarget: 0.95 });

describe('oracle: top-k', () => {
  const avals = [aval([4, 30])];
  runCases(topK, avals, [
    { name: 'reduction dim split (bitwise)', meshes: ['1x2', '2x4', '8'], shardings: [P(null, 'data')], opts: { bitwise: true } },
    { name: 'reduction dim on model, rows on data', meshes: ['2x2', '4x2'], shardings: [P('data', 'model')], opts: { bitwise: true } },
  ]);
  // 64 columns: XLA's rule does no reduction (n <= 128), so approx top-k is exact and comparable.
  runCases(approxTopK, [aval([4, 64])], [{ name: 'approx_max_k over a split dim', meshes: ['2x4', '8'], shardings: [P(null, 'data')], opts: { bitwise: true } }]);
  runCases(approxMinK, [aval([4, 64])], [{ name: 'approx_min_k over a split dim', meshes: ['2x2'], shardings: [P(null, 'model')], opts: { bitwise: true } }]);
});
