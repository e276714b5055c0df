import { describe, expect, it } from 'vitest';
import { withShardingConstraint } from '../../src/gspmd/annotations.js';
import { jit } from '../../src/gspmd/api.js';
import { Mesh } from '../../src/gspmd/mesh.js';
import { propagateShardings } from '../../src/gspmd/propagation.js';
import { HloSharding, NamedSharding, P } from '../../src/gspmd/sharding.js';
import { SHARDING_RULES } from '../../src/gspmd/sharding_rules.js';
import { isMoreSpecific, mergeShardings, reshapeSharding } from '../../src/gspmd/sharding_util.js';
import { add, broadcastInDim, cumsum, dot, max, reduceSum, reshape, tanh, transpose } from '../../src/program/lax.js';
import { Tensor, trace } from '../../src/program/tracer.js';
import { PRIMITIVES } from '../../src/tpu/ops.js';
import { tensorFrom } from '../../src/tpu/tensor.js';

const mesh = Mesh.fromAxes({ data: 2, model: 2 });
const named = (...spec: Parameters<typeof P>) => new NamedSharding(mesh, P(...spec));
const f32 = (...shape: number[]) => ({ shape, dtype: 'f32' as const });

describe('sharding rule table', () => {
  it('has a rule for every primitive', () => {
    for (const p of PRIMITIVES) expect(typeof SHARDING_RULES[p], p).toBe('function');
    expect(Object.keys(SHARDING_RULES).sort()).toEqual([...PRIMITIVES].sort());
  });
});

describe('sharding utilities', () => {
  it('merges compatible partial shardings and rejects conflicts', () => {
    const rows = named('data', null).toHloSharding(2);
    const cols = named(null, 'model').toHloSharding(2);
    expect(mergeShardings(rows, cols)!.equals(named('data', 'model').toHloSharding(2))).toBe(true);
    const colsByData = named(null, 'data').toHloSharding(2);
    expect(mergeShardings(rows, colsByData)).toBeUndefined();
    expect(mergeShardings(rows, HloSharding.replicate())).toBe(rows);
  });

  it('orders shardings as XLA does', () => {
    const rows = named('data', null).toHloSharding(2);
    const both = named('data', 'model').toHloSharding(2);
    expect(isMoreSpecific(both, rows)).toBe(true);
    expect(isMoreSpecific(rows, both)).toBe(false);
    expect(isMoreSpecific(rows, HloSharding.replicate())).toBe(true);
    expect(isMoreSpecific(HloSharding.maximal(0), HloSharding.replicate())).toBe(true);
    expect(isMoreSpecific(HloSharding.manual(), HloSharding.replicate())).toBe(true);
  });

  it('carries a tiling through reshapes that split or merge dims', () => {
    const s = HloSharding.tile([4, 1], [0, 1, 2, 3]);
    expect(reshapeSharding(s, [8, 6], [2, 4, 6])!.toString()).toBe('{devices=[2,2,1]0,1,2,3}');
    expect(reshapeSharding(s, [8, 6], [48])!.toString()).toBe('{devices=[4]0,1,2,3}');
    expect(reshapeSharding(HloSharding.tile([4], [0, 1, 2, 3]), [48], [8, 6])!.toString()).toBe('{devices=[4,1]0,1,2,3}');
    // Splitting the minor dim of a merged run is not a tiling of the flat order: replicated.
    expect(reshapeSharding(HloSharding.tile([1, 4], [0, 1, 2, 3]), [8, 8], [64])!.isReplicated).toBe(true);
  });
});

/** A 2-layer MLP: x[B,D] -> tanh(x W1 + b1) -> W2, returning every activation. */
function mlp(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor): Tensor[] {
  const h = dot(x, w1);
  const hb = add(h, broadcastInDim(b1, h.shape, [1]));
  const a = tanh(hb);
  const zero = broadcastInDim(Tensor.concrete(tensorFrom('f32', [], [0])), a.shape, []);
  const r = max(a, zero);
  const out = dot(r, w2);
  return [h, hb, a, r, out];
}

describe('propagation', () => {
  it('one annotation on the input batch dim reaches every activation of an MLP', () => {
    const batch = named('data', null).toHloSharding(2);
    const lowered = jit(mlp, { mesh, inShardings: [P('data', null), null, null, null] }).lower(f32(8, 4), f32(4, 16), f32(16), f32(16, 2));
    for (const o of lowered.outShardings) expect(o.toString()).toBe(batch.toString());
    // Every equation output of rank 2 with the batch dim is batch-sharded.
    for (const eq of lowered.program.equations) {
      for (const v of eq.outputs) {
        if (v.aval.shape[0] === 8) expect(lowered.propagation.shardingOf(v).equals(batch), `${eq.op}`).toBe(true);
      }
    }
    // Weights take no sharding from the batch: their dims are not the batch dim.
    expect(lowered.inShardings[1]!.isReplicated).toBe(true);
    expect(lowered.inShardings[2]!.isReplicated).toBe(true);
    const text = lowered.asText();
    expect(text).toContain('dot_general(%0, %1)');
    expect(text).toMatch(/tanh\(%\d+\), sharding=\{devices=\[2,1,2\]0,1,2,3 last_tile_dim_replicate\}/);
  });

  it('dot maps batch and free dims from both operands and back', () => {
    const lowered = jit((x: Tensor, w: Tensor) => dot(x, w), { mesh, inShardings: [P('data', null), P(null, 'model')] }).lower(f32(8, 4), f32(4, 6));
    expect(lowered.outShardings[0]!.equals(named('data', 'model').toHloSharding(2))).toBe(true);
    // Backward: the output's sharding reaches an unannotated operand.
    const back = jit((x: Tensor, w: Tensor) => dot(x, w), { mesh, outShardings: [P('data', 'model')] }).lower(f32(8, 4), f32(4, 6));
    expect(back.inShardings[0]!.equals(named('data', null).toHloSharding(2))).toBe(true);
    expect(back.inShardings[1]!.equals(named(null, 'model').toHloSharding(2))).toBe(true);
  });

  it('transpose permutes, reduce drops dims, scans never shard the scanned dim', () => {
    const lowered = jit((x: Tensor) => [transpose(x, [1, 0]), reduceSum(x, [0]), cumsum(x, 1)], { mesh, inShardings: [P('data', 'model')] }).lower(f32(4, 6));
    const [t, r, c] = lowered.outShardings;
    expect(t!.equals(named('model', 'data').toHloSharding(2))).toBe(true);
    expect(r!.equals(named('model').toHloSharding(1))).toBe(true);
    expect(c!.equals(named('data', null).toHloSharding(2))).toBe(true);
  });

  it('reshape carries the batch sharding when the factorization allows', () => {
    const lowered = jit((x: Tensor) => reshape(x, [2, 4, 6]), { mesh, inShardings: [P('data', null)] }).lower(f32(8, 6));
    expect(lowered.outShardings[0]!.equals(named('data', null, null).toHloSharding(3))).toBe(true);
  });

  it('annotated values keep their sharding; others take the most specific compatible one', () => {
    // x is batch-sharded, the output is pinned to column sharding: the output keeps it.
    const lowered = jit((x: Tensor) => tanh(x), { mesh, inShardings: [P('data', null)], outShardings: [P(null, 'model')] }).lower(f32(4, 4));
    expect(lowered.inShardings[0]!.equals(named('data', null).toHloSharding(2))).toBe(true);
    expect(lowered.outShardings[0]!.equals(named(null, 'model').toHloSharding(2))).toBe(true);
  });

  it('conflicting operands: compatible ones merge, else more tiles win, else the first operand', () => {
    const sum = (x: Tensor, y: Tensor) => add(x, y);
    const merged = jit(sum, { mesh, inShardings: [P('data', null), P(null, 'model')] }).lower(f32(4, 4), f32(4, 4));
    expect(merged.outShardings[0]!.equals(named('data', 'model').toHloSharding(2))).toBe(true);

    const moreTiles = jit(sum, { mesh, inShardings: [P('data', null), P(null, ['data', 'model'])] }).lower(f32(4, 4), f32(4, 4));
    expect(moreTiles.outShardings[0]!.equals(named(null, ['data', 'model']).toHloSharding(2))).toBe(true);

    const tie = jit(sum, { mesh, inShardings: [P('data', null), P(null, 'data')] }).lower(f32(4, 4), f32(4, 4));
    expect(tie.outShardings[0]!.equals(named('data', null).toHloSharding(2))).toBe(true);
    const tieSwapped = jit(sum, { mesh, inShardings: [P(null, 'data'), P('data', null)] }).lower(f32(4, 4), f32(4, 4));
    expect(tieSwapped.outShardings[0]!.equals(named(null, 'data').toHloSharding(2))).toBe(true);
  });

  it('withShardingConstraint pins an intermediate and propagates from it both ways', () => {
    const { program } = trace((x) => {
      const h = tanh(x);
      withShardingConstraint(h, named(null, 'model'));
      return [add(h, h)];
    }, [f32(4, 4)]);
    expect([...program.annotations!.values()][0]!.text).toBe(named(null, 'model').toHloSharding(2).toString());
    const res = propagateShardings(program);
    const col = named(null, 'model').toHloSharding(2);
    expect(res.shardingOf(program.inputs[0]!).equals(col)).toBe(true);
    expect(res.shardingOf(program.outputs[0]!).equals(col)).toBe(true);
    // Outside a trace it is the identity.
    const t = Tensor.concrete(tensorFrom('f32', [2], [1, 2]));
    expect(withShardingConstraint(t, named(null))).toBe(t);
  });

  it('broadcast propagates backward, and forward only at the last level', () => {
    // b is broadcast to [8, 16] and added to a batch-sharded x: the sum takes x's sharding,
    // and b (rank 1, along the unsharded dim) stays replicated.
    const lowered = jit((x: Tensor, b: Tensor) => add(x, broadcastInDim(b, [8, 16], [1])), { mesh, inShardings: [P('data', null), undefined] }).lower(
      f32(8, 16),
      f32(16),
    );
    expect(lowered.outShardings[0]!.equals(named('data', null).toHloSharding(2))).toBe(true);
    expect(lowered.inShardings[1]!.isReplicated).toBe(true);
    // A sharded b reaches the broadcast output when nothing else shards it.
    const fwd = jit((b: Tensor) => broadcastInDim(b, [8, 16], [1]), { mesh, inShardings: [P('model')] }).lower(f32(16));
    expect(fwd.outShardings[0]!.equals(named(null, 'model').toHloSharding(2))).toBe(true);
  });

  it('rejects shardings of the wrong rank and PartitionSpecs without a mesh', () => {
    expect(() => jit((x: Tensor) => x, { inShardings: [P('data')] }).lower(f32(4))).toThrow(/needs the mesh option/);
    expect(() => jit((x: Tensor) => x, { inShardings: [HloSharding.tile([2, 1], [0, 1])] }).lower(f32(4))).toThrow(/rank 2/);
  });
});
