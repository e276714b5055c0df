import { describe, expect, it } from 'vitest';
import { interconnectOf } from '../../../src/collectives/interconnect.js';
import { memoryProfile } from '../../../src/coordinator/estimate/memory.js';
import { PriceBook } from '../../../src/coordinator/estimate/pricing.js';
import { walkProgram } from '../../../src/coordinator/estimate/walk.js';
import { allGather, ppermute, psum, psumScatter } from '../../../src/gspmd/lax_parallel.js';
import { createDeviceMesh } from '../../../src/gspmd/mesh.js';
import { P } from '../../../src/gspmd/sharding.js';
import { shardMap } from '../../../src/gspmd/shard_map.js';
import { runSpmd } from '../../../src/gspmd/spmd_interpreter.js';
import * as jnp from '../../../src/program/numpy.js';
import { type Tensor, trace } from '../../../src/program/tracer.js';
import { TensorCore } from '../../../src/tpu/core.js';
import { type TensorView, hostTensor } from '../../../src/tpu/tensor.js';
import { parseTopology } from '../../../src/tpu/topology.js';

const topology = parseTopology('v3-8');
const mesh = createDeviceMesh(topology, { data: 2, model: 4 });

function filled(shape: number[], seed: number): TensorView {
  const t = hostTensor('f32', shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = ((i * 7 + seed) % 13) / 13 - 0.5;
  return t;
}

/** A manual-SPMD step with every kind of collective: a Megatron-style MLP plus a halo exchange. */
function body(x: Tensor, w1: Tensor, w2: Tensor): Tensor[] {
  const h = jnp.tanh(jnp.matmul(x, w1));
  const y = psum(jnp.matmul(h, w2), 'model');
  const scattered = psumScatter(y, 'data', { scatterDimension: 1, tiled: true });
  const gathered = allGather(scattered, 'data', { axis: 1, tiled: true });
  const shifted = ppermute(gathered, 'model', [[0, 1], [1, 2], [2, 3], [3, 0]]);
  return [jnp.add(gathered, shifted)];
}

describe('estimate walk', () => {
  const f = shardMap(body, mesh, [P('data', null), P(null, 'model'), P('model', null)], [P('data', null)]);
  const avals = [
    { shape: [16, 32], dtype: 'f32' as const },
    { shape: [32, 64], dtype: 'f32' as const },
    { shape: [64, 32], dtype: 'f32' as const },
  ];
  const spmd = f.lower(...avals);

  it('prices a step exactly as the lockstep interpreter runs it', () => {
    const { cores } = runSpmd(spmd, avals.map((a, i) => filled([...a.shape], i)), { topology });
    const executed = Math.max(...cores.map((c) => c.now));
    const w = walkProgram(spmd.program, { chip: topology.chip, interconnect: interconnectOf(topology), mesh });
    expect(w.stepSeconds).toBeGreaterThan(0);
    expect(Math.abs(w.stepSeconds - executed) / executed).toBeLessThan(1e-9);
    // Compute is the same on every core: the ICI-free part of a core's clock.
    const ici = cores[0]!.stats().busySeconds.ici;
    expect(w.totals.computeSeconds).toBeCloseTo(cores[0]!.now - ici, 12);
    expect(Object.keys(w.totals.collectives).sort()).toEqual(['all_gather', 'ppermute', 'psum', 'psum_scatter']);
    expect(w.coreClasses).toBe(1);
  });

  it('prices a primitive with the cost path TensorCore.execute uses', () => {
    const { program } = trace((a, b) => [jnp.matmul(a, b)], [avals[0]!, avals[1]!]);
    const book = new PriceBook(topology.chip, interconnectOf(topology), mesh);
    const priced = book.price(program.equations[0]!);
    const core = new TensorCore({ chip: topology.chip, hbmBytes: 1 << 20 });
    core.execute('dot_general', program.equations[0]!.params as never, [filled([16, 32], 0), filled([32, 64], 1)]);
    expect(priced.kind).toBe('primitive');
    if (priced.kind === 'primitive') expect(priced.time.seconds).toBe(core.now);
    // Priced once per signature.
    book.price(program.equations[0]!);
    expect(book.distinctSignatures).toBe(1);
  });

  it('accounts HBM by liveness, by role, with broadcasts fused into their readers', () => {
    const { program } = trace(
      (p, d) => {
        const big = jnp.multiply(p, 2); // 4 KiB, live until the last add
        const bcast = jnp.broadcastTo(jnp.sum(d), [32, 32]); // never materialized
        return [jnp.add(jnp.add(big, bcast), p)];
      },
      [{ shape: [32, 32], dtype: 'f32' }, { shape: [8], dtype: 'f32' }],
    );
    const m = memoryProfile(program, ['params', 'data']);
    expect(m.inputs).toEqual({ params: 4096, optimizer: 0, data: 32, activations: 0 });
    // Peak: p (4096) + big (4096) + sum scalar (4) + first add (4096); d is freed after the sum, the broadcast costs nothing.
    expect(m.peakBytes).toBe(3 * 4096 + 4);
    expect(m.atPeak.params).toBe(4096);
    expect(m.atPeak.activations).toBe(2 * 4096 + 4);
  });
});
