import { describe, expect, it } from 'vitest';
import { interconnectOf } from '../../../src/collectives/interconnect.js';
import { blockMismatch, extrapolateBlocks } from '../../../src/coordinator/estimate/repeat.js';
import { walkProgram } from '../../../src/coordinator/estimate/walk.js';
import { psum } from '../../../src/gspmd/lax_parallel.js';
import { createDeviceMesh } from '../../../src/gspmd/mesh.js';
import { P } from '../../../src/gspmd/sharding.js';
import { shardMap } from '../../../src/gspmd/shard_map.js';
import * as jnp from '../../../src/program/numpy.js';
import type { Tensor } from '../../../src/program/tracer.js';
import { parseTopology } from '../../../src/tpu/topology.js';

const topology = parseTopology('v3-8');
const mesh = createDeviceMesh(topology, { data: 2, model: 4 });
const opts = { chip: topology.chip, interconnect: interconnectOf(topology), mesh };

/** `n` residual blocks x += psum(tanh(x) W) over 'model', then a sum; `odd` makes the second block different. */
function program(n: number, odd = false) {
  const f = shardMap(
    (x: Tensor, w: Tensor) => {
      let h = x;
      for (let i = 0; i < n; i++) {
        const y = psum(jnp.matmul(jnp.tanh(h), w), 'model');
        h = jnp.add(h, odd && i === 1 ? jnp.exp(y) : y);
      }
      return [jnp.sum(h)];
    },
    mesh,
    [P('data', null), P(null, null)],
    [P()],
  );
  return f.lower({ shape: [16, 32], dtype: 'f32' }, { shape: [32, 32], dtype: 'f32' }).program;
}

describe('repeated blocks', () => {
  it('extrapolates step time, totals and memory exactly for identical blocks', () => {
    const [w0, w1, w2] = [0, 1, 2].map((n) => walkProgram(program(n), opts));
    expect(blockMismatch(w0!, w1!, w2!)).toEqual([]);
    const direct = walkProgram(program(7), opts);
    const guess = extrapolateBlocks(w0!, w1!, w2!, 7);
    expect(guess.stepSeconds).toBeCloseTo(direct.stepSeconds, 15);
    expect(guess.totals.flops).toBe(direct.totals.flops);
    expect(guess.totals.collectives.psum!.count).toBe(7);
    expect(guess.equations).toBe(direct.equations);
    expect(guess.memory.inputs).toEqual(direct.memory.inputs);
  });

  it('detects blocks that do not partition alike', () => {
    const [w0, w1, w2] = [0, 1, 2].map((n) => walkProgram(program(n, true), opts));
    expect(blockMismatch(w0!, w1!, w2!).some((s) => s.startsWith('exp|'))).toBe(true);
  });
});
