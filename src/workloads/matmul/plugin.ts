/**
 * matmul: a data-parallel matmul + all-reduce benchmark, the pod's first workload.
 *
 * C[m, n] = A[m, k] · B[k, n] with the contracting dim k split over the mesh axes (A as
 * PartitionSpec(None, axes), B as PartitionSpec(axes, None)): each core computes the real
 * dot of its shards on its own TensorCore, and psum over the axes sums the partial
 * products, so every core ends with the whole of C. The operands are small integers, so C
 * is exact and its checksum must equal a single-core reference bit for bit; a step also
 * checks that every core's checksum agrees.
 *
 * Reported per step, in simulated time: the step's duration, MXU utilization (MXU FLOPs,
 * padding included, over step time x peak x cores), MFU (the model's 2mkn FLOPs over the
 * same), and the collective's share of the step.
 */
import { z } from 'zod';
import { itemsize } from '../../tpu/dtype.js';
import { compiledModuleUrl } from '../../coordinator/module_url.js';
import type { DeviceArray, DeviceFunctionRef, JobContext, PodInfo, WorkloadPlugin } from '../../coordinator/plugin.js';
import { checksum, matmulOperands } from './data.js';
import type { MatmulStepArgs, MatmulStepResult } from './device.js';

export const matmulConfigSchema = z
  .object({
    m: z.number().int().positive().default(256),
    k: z.number().int().positive().default(1024),
    n: z.number().int().positive().default(256),
    dtype: z.enum(['f32', 'bf16']).default('f32'),
    steps: z.number().int().positive().max(10_000).default(5),
    seed: z.number().int().nonnegative().default(0),
    /** Mesh axes to split k over; default: every axis of the job's mesh. */
    axes: z.array(z.string()).min(1).optional(),
  })
  .strict();

export type MatmulConfig = z.infer<typeof matmulConfigSchema>;

export interface MatmulResult {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly dtype: 'f32' | 'bf16';
  readonly steps: number;
  readonly axes: readonly string[];
  /** Cores the contracting dim is split over. */
  readonly shards: number;
  /** Sum of C's elements (the same on every core, and read back whole from the pod). */
  readonly checksum: number;
  /** 2·m·k·n. */
  readonly flopsPerStep: number;
  readonly stepSeconds: readonly number[];
  readonly meanStepSeconds: number;
  readonly mxuUtilization: number;
  readonly mfu: number;
  readonly collectiveShare: number;
}

interface Checkpoint {
  /** The config the steps were run with: a checkpoint of another config is not resumed. */
  readonly config: string;
  readonly step: number;
  readonly stepSeconds: number[];
  readonly mxuFlops: number;
  readonly collectiveSeconds: number;
  readonly checksum: number;
}

function stepFunction(): DeviceFunctionRef {
  return { module: compiledModuleUrl('./device.js', import.meta.url), name: 'matmulStep' };
}

function product(xs: readonly number[]): number {
  return xs.reduce((p, x) => p * x, 1);
}

async function run(ctx: JobContext, config: MatmulConfig): Promise<MatmulResult> {
  const { m, k, n, dtype, steps, seed } = config;
  const axes = config.axes ?? [...ctx.mesh.axisNames];
  for (const a of axes) {
    if (!ctx.mesh.axisNames.includes(a)) throw new Error(`matmul: config.axes names '${a}', the mesh has (${ctx.mesh.axisNames.join(', ')})`);
  }
  const p = product(axes.map((a) => ctx.mesh.shape[ctx.mesh.axisNames.indexOf(a)]!));
  if (k % p !== 0) throw new Error(`matmul: config.k = ${k} must be divisible by the ${p} shards over (${axes.join(', ')})`);

  const key = JSON.stringify({ m, k, n, dtype, seed, axes });
  let saved = (await ctx.restore()) as Checkpoint | undefined;
  if (saved && (saved.config !== key || saved.step >= steps)) {
    ctx.log('matmul: ignoring a checkpoint of another config');
    saved = undefined;
  }
  let done: Checkpoint = saved ?? { config: key, step: 0, stepSeconds: [], mxuFlops: 0, collectiveSeconds: 0, checksum: 0 };
  if (saved) ctx.log(`matmul: resuming after step ${saved.step} of ${steps}`);

  const operands = matmulOperands(dtype, m, k, n, seed);
  const a = await ctx.put(operands.a, [null, axes], 'A');
  const b = await ctx.put(operands.b, [axes, null], 'B');
  ctx.log(`matmul: A ${dtype}[${m},${k}] and B ${dtype}[${k},${n}] split ${p} ways over (${axes.join(', ')})`);

  const fn = stepFunction();
  const flopsPerStep = 2 * m * k * n;
  const peak = ctx.pod.peakFlopsPerCore;
  let c: DeviceArray | undefined;
  for (let step = done.step + 1; step <= steps; step++) {
    ctx.throwIfCancelled();
    const last = step === steps;
    const args: MatmulStepArgs = { a: a.id, b: b.id, axes, keep: last };
    const r = await ctx.runOnCores<MatmulStepResult>(fn, args, last ? { outputs: { c: [] } } : {});
    const sums = r.cores.map((x) => x.value.checksum);
    if (sums.some((s) => s !== sums[0])) {
      throw new Error(`matmul: step ${step}: the cores' checksums differ: ${r.cores.map((x) => `core ${x.coreId}=${x.value.checksum}`).join(', ')}`);
    }
    const seconds = r.simulatedSeconds;
    const mxuFlops = r.cores.reduce((s, x) => s + x.mxuFlops, 0);
    const collective = Math.max(...r.cores.map((x) => x.collectiveSeconds));
    done = {
      config: key,
      step,
      stepSeconds: [...done.stepSeconds, seconds],
      mxuFlops: done.mxuFlops + mxuFlops,
      collectiveSeconds: done.collectiveSeconds + collective,
      checksum: sums[0]!,
    };
    ctx.progress(step, steps, {
      step_seconds: seconds,
      mxu_utilization: seconds > 0 ? mxuFlops / (seconds * peak * p) : 0,
      mfu: seconds > 0 ? flopsPerStep / (seconds * peak * p) : 0,
      collective_share: seconds > 0 ? collective / seconds : 0,
      checksum: sums[0]!,
    });
    if (last) c = r.outputs.c;
    else await ctx.checkpoint(done);
  }

  let total = done.checksum;
  if (c) {
    // Read C back whole from the pod: its sum must be what the cores reported.
    total = checksum((await ctx.get(c)).data);
    if (total !== done.checksum) throw new Error(`matmul: C read back sums to ${total}, the cores reported ${done.checksum}`);
  }
  const time = done.stepSeconds.reduce((s, x) => s + x, 0);
  const ran = done.stepSeconds.length;
  return {
    m,
    k,
    n,
    dtype,
    steps,
    axes,
    shards: p,
    checksum: total,
    flopsPerStep,
    stepSeconds: done.stepSeconds,
    meanStepSeconds: ran > 0 ? time / ran : 0,
    mxuUtilization: time > 0 ? done.mxuFlops / (time * peak * p) : 0,
    mfu: time > 0 ? (flopsPerStep * ran) / (time * peak * p) : 0,
    collectiveShare: time > 0 ? done.collectiveSeconds / time : 0,
  };
}

export const matmulPlugin: WorkloadPlugin<MatmulConfig, MatmulResult> = {
  name: 'matmul',
  description: 'Data-parallel matmul + psum benchmark: each core dots its shard of k, psum sums the partials; reports step time, MXU utilization, MFU and collective share',
  configSchema: matmulConfigSchema,
  resources(config: MatmulConfig, pod: PodInfo) {
    const p = Math.min(pod.numCores, product(Object.values(pod.defaultMesh)));
    const size = itemsize(config.dtype);
    // A and B shards, the partial product and the psum output (f32), and the psum's scratch.
    const bytes = ((config.m * config.k + config.k * config.n) / p) * size + 3 * config.m * config.n * 4;
    return { cores: 1, hbmBytesPerCore: Math.ceil(bytes) };
  },
  run,
};
