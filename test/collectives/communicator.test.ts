import { afterAll, describe, expect, it } from 'vitest';
import { type Interconnect, gridInterconnect, interconnectOf } from '../../src/collectives/interconnect.js';
import { axisGroups, makeMesh } from '../../src/collectives/mesh.js';
import { parseTopology } from '../../src/tpu/topology.js';
import { type DType, bf16BitsToF32 } from '../../src/tpu/dtype.js';
import type { TensorView } from '../../src/tpu/tensor.js';
import { bitsEqual, floatTensor, integerTensor, opCases, referenceFor } from './helpers.js';
import { type CoreOutcome, type Task, TestPod } from './pod.js';

const LINK = { latency: 1e-6, bandwidth: 4.5e10 };

const WORKER_CASES = [
  'psum f32 uneven',
  'psum bf16',
  'psum scalar',
  'pmin i32',
  'all_gather axis 1 tiled',
  'all_gather axis 1 bf16',
  'psum_scatter dim 1 tiled i32',
  'psum_scatter dim 0 untiled',
  'all_to_all tiled 1->0',
  'all_to_all untiled 0->1',
  'ppermute shift',
  'ppermute partial',
  'broadcast root last',
  'broadcast bf16',
  'barrier',
];

interface Config {
  readonly name: string;
  readonly ic: Interconnect;
  readonly mesh: Record<string, number>;
  /** Axis sets to run every op over. */
  readonly axisSets: readonly (readonly string[])[];
}

const configs: Config[] = [
  ...[2, 4, 8, 16].map((p) => ({ name: `ring of ${p}`, ic: gridInterconnect([p], [true], LINK), mesh: { x: p }, axisSets: [['x']] })),
  { name: '2D torus 2x2', ic: gridInterconnect([2, 2], [true, true], LINK), mesh: { x: 4 }, axisSets: [['x']] },
  { name: '2D torus 2x4', ic: gridInterconnect([2, 4], [true, true], LINK), mesh: { x: 8 }, axisSets: [['x']] },
  {
    name: '2D torus 4x4, mesh data x model',
    ic: gridInterconnect([4, 4], [true, true], LINK),
    mesh: { data: 4, model: 4 },
    axisSets: [['data', 'model'], ['model']],
  },
  { name: '3D torus 2x2x2', ic: gridInterconnect([2, 2, 2], [true, true, true], LINK), mesh: { x: 8 }, axisSets: [['x']] },
  {
    name: 'v4:2x2x2 (16 cores, 2 per chip)',
    ic: interconnectOf(parseTopology('v4:2x2x2')),
    mesh: { x: 16 },
    axisSets: [['x']],
  },
  {
    name: 'v4-8, mesh data x model (model = the two cores of a chip)',
    ic: interconnectOf(parseTopology('v4-8')),
    mesh: { data: 4, model: 2 },
    axisSets: [['data'], ['model'], ['data', 'model']],
  },
];

function asTensor(dtype: DType, shape: readonly number[], data: TensorView['data']): TensorView {
  return { dtype, shape: [...shape], data };
}

function expectDone(o: CoreOutcome, core: number): asserts o is Extract<CoreOutcome, { type: 'done' }> {
  if (o.type !== 'done') throw new Error(`core ${core}: ${o.type === 'error' ? o.error.message : 'exited'}`);
}

const pods: TestPod[] = [];
afterAll(async () => {
  await Promise.all(pods.map((p) => p.close()));
});

describe('collectives between worker threads, against the single-thread reference', () => {
  for (const cfg of configs) {
    it(cfg.name, async () => {
      const mesh = makeMesh(cfg.mesh);
      const numCores = mesh.devices.length;
      const pod = new TestPod(mesh, cfg.ic, numCores, { arenaBytes: 1 << 20, timeoutMs: 20_000, choices: ['auto', 'ring'] });
      pods.push(pod);
      await pod.ready();
      for (const axes of cfg.axisSets) {
        const groups = axisGroups(mesh, axes);
        const p = groups[0]!.length;
        // Two cases of each op, one per communicator ('auto', then 'ring'); the schedule test runs them all.
        const cases = opCases(p).filter((oc) => WORKER_CASES.includes(oc.name));
        // Inputs: by case and core; every core runs every case with both communicators.
        const inputs = cases.map((oc, i) => mesh.devices.map((core) => integerTensor(oc.dtype, oc.shape, 7919 * i + 31 * core + 1)));
        const tasks: Task[][] = mesh.devices.map((core) =>
          cases.map((oc, i) => ({ comm: i % 2, c: oc.c, axes, dtype: oc.dtype, shape: oc.shape, input: inputs[i]![core]!.data })),
        );
        const outcomes = await pod.run(tasks);
        outcomes.forEach((o, core) => expectDone(o, core));
        cases.forEach((oc, i) => {
          if (oc.c.kind === 'barrier') return;
          for (const members of groups) {
            const want = referenceFor(oc.c, members.map((core) => inputs[i]![core]!));
            members.forEach((core, r) => {
              const res = (outcomes[core] as Extract<CoreOutcome, { type: 'done' }>).results[i]!;
              const got = asTensor(oc.dtype, want[r]!.shape, res.out!);
              expect(bitsEqual(got, want[r]!), `${oc.name} over (${axes}) comm ${i % 2} core ${core}`).toBe(true);
            });
          }
        });
        // Scratch and operands were all given back to the arenas.
        outcomes.forEach((o) => expect((o as Extract<CoreOutcome, { type: 'done' }>).bytesInUse).toBe(0));
      }
    });
  }
});

describe('determinism', () => {
  it('every core ends an all-reduce of random floats with the same bits, and a rerun gives them again', async () => {
    const mesh = makeMesh({ x: 8 });
    const pod = new TestPod(mesh, gridInterconnect([2, 4], [true, true], LINK), 8, { arenaBytes: 1 << 22, timeoutMs: 20_000, choices: ['auto', 'ring'] });
    pods.push(pod);
    await pod.ready();
    const shape = [1000, 3];
    for (const dtype of ['f32', 'bf16'] as const) {
      const inputs = mesh.devices.map((core) => floatTensor(dtype, shape, 100 + core));
      const c = { kind: 'all-reduce', params: { op: 'sum' } } as const;
      const tasks: Task[][] = mesh.devices.map((core) =>
        [0, 0, 1, 1].map((comm) => ({ comm, c, axes: ['x'], dtype, shape, input: inputs[core]!.data })),
      );
      const outcomes = await pod.run(tasks);
      outcomes.forEach((o, core) => expectDone(o, core));
      const res = outcomes.map((o) => (o as Extract<CoreOutcome, { type: 'done' }>).results);
      for (const comm of [0, 1]) {
        const first = asTensor(dtype, shape, res[0]![2 * comm]!.out!);
        for (let core = 0; core < 8; core++) {
          for (const rerun of [0, 1]) {
            expect(bitsEqual(asTensor(dtype, shape, res[core]![2 * comm + rerun]!.out!), first), `${dtype} comm ${comm} core ${core} run ${rerun}`).toBe(true);
          }
        }
        // Close to the exact sum (the order differs from rank order, so bits may not).
        const tol = dtype === 'f32' ? 1e-5 : 0.1;
        for (let i = 0; i < first.data.length; i += 97) {
          let exact = 0;
          for (const x of inputs) exact += dtype === 'f32' ? x.data[i]! : bf16BitsToF32(x.data[i]!);
          const got = dtype === 'f32' ? first.data[i]! : bf16BitsToF32(first.data[i]!);
          expect(Math.abs(got - exact)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(exact)) * 8);
        }
      }
    }
  });
});
