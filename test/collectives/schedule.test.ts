import { describe, expect, it } from 'vitest';
import { type Interconnect, chooseAlgorithm, gridInterconnect } from '../../src/collectives/interconnect.js';
import { axisGroups, makeMesh } from '../../src/collectives/mesh.js';
import { planCollective } from '../../src/collectives/plan.js';
import { bitsEqual, integerTensor, opCases, referenceFor, sameStepHazards, simulate } from './helpers.js';

const LINK = { latency: 1e-6, bandwidth: 4.5e10 };

interface Config {
  readonly name: string;
  readonly ic: Interconnect;
  readonly mesh: Record<string, number>;
  readonly axes: readonly string[];
}

const configs: Config[] = [
  ...[2, 4, 8, 16].map((p) => ({ name: `ring ${p}`, ic: gridInterconnect([p], [true], LINK), mesh: { x: p }, axes: ['x'] })),
  { name: 'line 8', ic: gridInterconnect([8], [false], LINK), mesh: { x: 8 }, axes: ['x'] },
  { name: '2x2 torus', ic: gridInterconnect([2, 2], [true, true], LINK), mesh: { x: 4 }, axes: ['x'] },
  { name: '2x4 torus', ic: gridInterconnect([2, 4], [true, true], LINK), mesh: { x: 8 }, axes: ['x'] },
  { name: '4x4 torus', ic: gridInterconnect([4, 4], [true, true], LINK), mesh: { x: 16 }, axes: ['x'] },
  { name: '4x4 no wrap, data x model', ic: gridInterconnect([4, 4], [false, false], LINK), mesh: { data: 4, model: 4 }, axes: ['data', 'model'] },
  { name: '4x4 torus, model x data', ic: gridInterconnect([4, 4], [true, true], LINK), mesh: { data: 4, model: 4 }, axes: ['model', 'data'] },
  { name: '4x4 torus, data only', ic: gridInterconnect([4, 4], [true, true], LINK), mesh: { data: 4, model: 4 }, axes: ['data'] },
  { name: 'axis of size 1', ic: gridInterconnect([4], [true], LINK), mesh: { x: 4, one: 1 }, axes: ['one'] },
  { name: '2x2x2 torus', ic: gridInterconnect([2, 2, 2], [true, true, true], LINK), mesh: { x: 8 }, axes: ['x'] },
  { name: '2x2x4 torus', ic: gridInterconnect([2, 2, 4], [false, false, false], LINK), mesh: { x: 16 }, axes: ['x'] },
  { name: '4x2x2 torus, (b, a) of a 2x8 mesh', ic: gridInterconnect([4, 2, 2], [true, true, true], LINK), mesh: { a: 2, b: 8 }, axes: ['b', 'a'] },
];

describe('schedules, run in random step orders against the reference', () => {
  for (const cfg of configs) {
    for (const choice of ['auto', 'ring'] as const) {
      it(`${cfg.name} (${choice})`, () => {
        const mesh = makeMesh(cfg.mesh);
        for (const members of axisGroups(mesh, cfg.axes)) {
          const p = members.length;
          for (const oc of opCases(p)) {
            const plan = planCollective(oc.c, oc.shape, oc.dtype, members, cfg.ic, choice);
            expect(sameStepHazards(plan), `${oc.name}`).toEqual([]);
            const inputs = members.map((_, r) => integerTensor(oc.dtype, oc.shape, 1000 * r + 7));
            const want = referenceFor(oc.c, inputs);
            for (const seed of [1, 2, 3]) {
              const got = simulate(plan, inputs, seed);
              if (oc.c.kind === 'barrier') continue;
              got.forEach((g, r) => expect(bitsEqual(g, want[r]!), `${oc.name} rank ${r} seed ${seed}`).toBe(true));
            }
          }
        }
      });
    }
  }
});

describe('algorithm choice', () => {
  it('picks a bidirectional ring on a wrapping line, a torus on a grid, a ring otherwise', () => {
    expect(chooseAlgorithm(gridInterconnect([8], [true], LINK), [0, 1, 2, 3, 4, 5, 6, 7]).name).toBe('bidirectional-ring');
    expect(chooseAlgorithm(gridInterconnect([8], [false], LINK), [0, 1, 2, 3, 4, 5, 6, 7]).name).toBe('ring');
    const t = chooseAlgorithm(gridInterconnect([4, 4], [true, true], LINK), [...Array(16).keys()]);
    expect(t.name).toBe('torus');
    expect(t.phases.map((ph) => ph.size)).toEqual([4, 4]);
    expect(t.rankOrdered).toBe(true);
    // A scattered group (a non-contiguous set along a dim) falls back to a ring in rank order.
    expect(chooseAlgorithm(gridInterconnect([8], [true], LINK), [0, 2, 4, 6]).name).toBe('ring');
  });

  it('orders torus phases to keep ranks for reduce-scatter when the mesh axes run the other way', () => {
    const ic = gridInterconnect([4, 2], [true, true], LINK);
    // rank r = (coord1) * 4 + coord0: dim 1 is the major one.
    const members = [0, 2, 4, 6, 1, 3, 5, 7];
    const alg = chooseAlgorithm(ic, members, 'auto', true);
    expect(alg.name).toBe('torus');
    expect(alg.rankOrdered).toBe(true);
    expect(alg.phases[0]!.size).toBe(2);
  });
});
