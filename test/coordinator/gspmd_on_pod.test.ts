/**
 * GSPMD on the pod: ctx.jit with in/out shardings traces on global shapes, partitions with
 * layer 4 and runs the per-core program on the actors, collectives through the
 * SharedArrayBuffer communicator. An MLP training step under data-parallel and
 * Megatron-style shardings must give the single-device interpreter's numbers; the job's
 * per-core programs land in its data dir.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layer2Call } from '../../src/collectives/ops.js';
import { Pod } from '../../src/coordinator/pod.js';
import type { DeviceArray, JobContext, SpecLike } from '../../src/coordinator/plugin.js';
import { listPrograms, readProgram } from '../../src/coordinator/programs.js';
import { toPartitionSpec } from '../../src/coordinator/sharding.js';
import { jit as gspmdJit } from '../../src/gspmd/api.js';
import { Mesh } from '../../src/gspmd/mesh.js';
import { NamedSharding, P } from '../../src/gspmd/sharding.js';
import { valueAndGrad } from '../../src/program/autodiff/api.js';
import { isCollectiveEquation } from '../../src/program/ir.js';
import * as jnp from '../../src/program/numpy.js';
import { type Tensor, trace } from '../../src/program/tracer.js';
import type { TensorView } from '../../src/tpu/tensor.js';
import { toNumbers } from '../../src/tpu/tensor.js';
import { randomTensor, runOracle } from '../gspmd/partitioner/helpers.js';
import { ensureBuilt, hooks, scriptPlugin } from './helpers.js';

const MIB = 1024 ** 2;
const LR = 0.1;

function mlpLoss(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, t: Tensor): Tensor {
  const h = jnp.maximum(jnp.add(jnp.matmul(x, w1), b1), 0);
  return jnp.mean(jnp.square(jnp.subtract(jnp.matmul(h, w2), t)));
}

/** One SGD step: the per-example predictions, the loss, and the updated parameters. */
function trainStep(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, t: Tensor): Tensor[] {
  const pred = jnp.matmul(jnp.maximum(jnp.add(jnp.matmul(x, w1), b1), 0), w2);
  const [loss, grads] = valueAndGrad(mlpLoss, { argnums: [1, 2, 3] })(x, w1, b1, w2, t) as [Tensor, Tensor[]];
  const params = [w1, b1, w2].map((p, i) => jnp.subtract(p, jnp.multiply(grads[i]!, LR)));
  return [pred, loss, ...params];
}

interface Case {
  readonly name: string;
  readonly mesh: Record<string, number>;
  /** Shapes of x, w1, b1, w2, t. */
  readonly shapes: readonly (readonly number[])[];
  readonly inSpecs: readonly SpecLike[];
  /** Out shardings of pred, loss, w1, b1, w2 (null: left to propagation). */
  readonly outSpecs: readonly (SpecLike | null)[];
  /** Only the batch is split: the per-example predictions keep every float operation's order. */
  readonly batchOnly?: boolean;
}

const mlpShapes = (batch: number, hidden: number) => [[batch, 6], [6, hidden], [hidden], [hidden, 4], [batch, 4]];

const CASES: Case[] = [
  {
    name: 'data parallel over 8 cores',
    mesh: { data: 8 },
    shapes: mlpShapes(16, 12),
    inSpecs: [P('data', null), P(), P(), P(), P('data', null)],
    outSpecs: [P('data', null), P(), P(), P(), P()],
    batchOnly: true,
  },
  {
    name: 'Megatron on a 2x4 mesh (hidden split over model, batch over data)',
    mesh: { data: 2, model: 4 },
    shapes: mlpShapes(8, 12),
    inSpecs: [['data', null], [null, 'model'], ['model'], ['model', null], ['data', null]],
    outSpecs: [null, null, [null, 'model'], ['model'], ['model', null]],
  },
  {
    name: 'Megatron on a 2x4 mesh with uneven batch and hidden (padded shards)',
    mesh: { data: 2, model: 4 },
    shapes: mlpShapes(7, 10),
    inSpecs: [['data', null], [null, 'model'], ['model'], ['model', null], ['data', null]],
    outSpecs: [['data', null], [], [null, 'model'], ['model'], ['model', null]],
  },
];

function inputsFor(shapes: Case['shapes']): TensorView[] {
  return shapes.map((s, i) => randomTensor(s, 77 + 13 * i));
}

/** The single-device interpreter's outputs of the training step. */
function oracle(inputs: readonly TensorView[]): TensorView[] {
  const { program } = trace((...xs: Tensor[]) => trainStep(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!), inputs);
  return runOracle(program, inputs);
}

function expectClose(got: TensorView, want: TensorView, rtol: number): void {
  expect(got.shape).toEqual(want.shape);
  const g = toNumbers(got);
  const w = toNumbers(want);
  let scale = 0;
  for (const v of w) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < w.length; i++) expect(Math.abs(g[i]! - w[i]!)).toBeLessThanOrEqual(rtol * Math.max(scale, 1e-30));
}

/** Data-moving collectives of a mesh's partitioned step, by layer-2 kind, per core. */
function collectivesPerCore(c: Case, inputs: readonly TensorView[]): Record<string, number> {
  const mesh = Mesh.fromAxes(c.mesh);
  const named = (s: SpecLike | null) => (s === null ? null : new NamedSharding(mesh, P(...toPartitionSpec(s, mesh))));
  const compiled = gspmdJit((...xs: Tensor[]) => trainStep(xs[0]!, xs[1]!, xs[2]!, xs[3]!, xs[4]!), {
    mesh,
    inShardings: c.inSpecs.map(named),
    outShardings: c.outSpecs.map(named),
  }).compile(...inputs);
  const counts: Record<string, number> = {};
  for (const eq of compiled.partitioned.program.equations) {
    if (!isCollectiveEquation(eq)) continue;
    const call = layer2Call(eq.op, eq.params);
    if (call) counts[call.kind] = (counts[call.kind] ?? 0) + 1;
  }
  return counts;
}

describe('GSPMD-partitioned programs on the pod (v4-8)', () => {
  let pod: Pod;
  let job = 0;

  beforeAll(async () => {
    ensureBuilt();
    pod = await Pod.start({ topology: 'v4-8', mesh: { data: 8 }, hbmBytesPerCore: 8 * MIB });
  });
  afterAll(async () => {
    await pod?.close();
  });

  for (const c of CASES) {
    it(`${c.name}: equals the single-device interpreter, and the cores' clocks and collective counters advance`, async () => {
      const inputs = inputsFor(c.shapes);
      const want = oracle(inputs);
      const before = pod.stats();
      const h = hooks();
      const result = (await pod.runJob(
        {
          id: `gspmd${job++}`,
          plugin: scriptPlugin('gspmd-mlp', async (ctx: JobContext) => {
            const step = ctx.jit(trainStep, { inShardings: c.inSpecs, outShardings: c.outSpecs, name: 'mlp_step' });
            const args = await Promise.all(inputs.map((x, i) => ctx.put(x, c.inSpecs[i], `arg${i}`)));
            const outs = await step(...args);
            const again = await step(...args); // the cached partitioned program
            return {
              outs: await Promise.all(outs.map((o) => ctx.get(o))),
              again: await ctx.get(again[1]!),
              arrays: outs.map((o: DeviceArray) => ({ shape: o.shape, localShape: o.localShape, spec: o.spec })),
              argLocal: args.map((a) => a.localShape),
            };
          }),
          config: {},
          mesh: c.mesh,
        },
        h,
      )) as { outs: TensorView[]; again: TensorView; arrays: { shape: number[]; localShape: number[]; spec: unknown[] }[]; argLocal: number[][] };

      // Numbers: the per-example predictions of a batch-only split are bitwise; sums over a split dim within 1e-5.
      expect(result.outs).toHaveLength(want.length);
      if (c.batchOnly) {
        expect(Array.from(toNumbers(result.outs[0]!))).toEqual(Array.from(toNumbers(want[0]!)));
      }
      result.outs.forEach((got, i) => expectClose(got, want[i]!, 1e-5));
      expect(Array.from(toNumbers(result.again))).toEqual(Array.from(toNumbers(result.outs[1]!)));
      result.arrays.forEach((a, i) => expect(a.shape).toEqual(want[i]!.shape));

      // Uneven dims are put as the partitioner's padded tiles: ceil(n / shards).
      const podMesh = Mesh.fromAxes(c.mesh);
      const axisSize = (s: SpecLike, d: number): number => {
        const e = toPartitionSpec(s, podMesh)[d];
        return e ? c.mesh[e as string]! : 1;
      };
      result.argLocal.forEach((local, i) => expect(local).toEqual(c.shapes[i]!.map((n, d) => Math.ceil(n / axisSize(c.inSpecs[i]!, d)))));

      // Every core ran: its clock advanced, and it took part in each of the program's collectives.
      const after = pod.stats();
      after.cores.forEach((core, i) => expect(core.busySeconds).toBeGreaterThan(before.cores[i]!.busySeconds));
      const perCore = collectivesPerCore(c, inputs);
      expect(Object.values(perCore).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      for (const [kind, n] of Object.entries(perCore)) {
        const k = kind as keyof typeof after.collectives;
        // Two runs of the step on 8 cores.
        expect(after.collectives[k].calls - before.collectives[k].calls).toBe(2 * 8 * n);
      }

      // The per-core program is in the job's data dir, named in the log, once per signature.
      expect(await listPrograms(h.jobDir)).toEqual([{ name: 'mlp_step', cores: [0, 1, 2, 3, 4, 5, 6, 7] }]);
      expect(h.logs.filter((l) => l.includes('compiled mlp_step'))).toHaveLength(1);
      expect(h.logs.find((l) => l.includes('compiled mlp_step'))).toContain('programs/mlp_step.core<N>.txt');
      const dump = await readProgram(h.jobDir, { core: 5 });
      expect(dump.name).toBe('mlp_step');
      expect(dump.text).toContain('// core 5:');
      expect(dump.text).toMatch(/psum|all_gather|psum_scatter/);
      const local = `f32[${result.argLocal[0]!.join(',')}]`;
      expect(dump.text).toContain(local);
      expect(await readFile(join(h.jobDir, 'programs', 'mlp_step.core5.txt'), 'utf8')).toBe(dump.text);
      await rm(h.jobDir, { recursive: true, force: true });
    });
  }

  it('rejects an argument put with another sharding than its inShardings entry', async () => {
    const x = randomTensor([8, 6], 1);
    const err = await pod
      .runJob(
        {
          id: `gspmd${job++}`,
          plugin: scriptPlugin('gspmd-wrong-spec', async (ctx) => {
            const f = ctx.jit((t: Tensor) => jnp.multiply(t, 2), { inShardings: [P('data', null)] });
            return f(await ctx.put(x, [null, 'data'], 'x'));
          }),
          config: {},
          mesh: { data: 2 },
        },
        hooks(),
      )
      .catch((e: Error) => e.message);
    expect(err).toMatch(/argument 0 is sharded PartitionSpec\(None, 'data'\), inShardings\[0\] is PartitionSpec\('data', None\); put it with that spec/);
  });
});
