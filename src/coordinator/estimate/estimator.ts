/**
 * How estimate mode knows workloads: an Estimator turns a workload's config, a topology
 * and a mesh into an EstimateRequest (its compile function and model FLOPs). The CLI's
 * `tpusim estimate` and the `estimate` job both take a registry of them, as the
 * coordinator takes the registry of plugins: the coordinator never imports a workload.
 */
import { z } from 'zod';
import { type Topology, parseTopology } from '../../tpu/topology.js';
import type { JobContext, WorkloadPlugin } from '../plugin.js';
import { ConfigError } from '../plugin.js';
import { type EstimateReport, type EstimateRequest, estimate } from './estimate.js';

export interface Estimator<C = any> {
  readonly name: string;
  readonly description: string;
  /** The workload's config schema (every field defaulted). */
  readonly configSchema: z.ZodType<C>;
  /** Named configs (e.g. the paper's model sizes); --set fields apply on top. */
  readonly presets?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The mesh to use when none is given. */
  defaultMesh(config: C, topology: Topology): Record<string, number>;
  request(config: C, topology: Topology, meshAxes: Readonly<Record<string, number>>): EstimateRequest;
}

export type EstimatorRegistry = ReadonlyMap<string, Estimator>;

export function makeEstimatorRegistry(estimators: readonly Estimator[]): EstimatorRegistry {
  const m = new Map<string, Estimator>();
  for (const e of estimators) {
    if (m.has(e.name)) throw new Error(`estimator registry: two estimators are named '${e.name}'`);
    m.set(e.name, e);
  }
  return m;
}

export interface EstimateArgs {
  readonly workload: string;
  readonly topology: string;
  /** Mesh axes; default: the estimator's for the topology. */
  readonly mesh?: Readonly<Record<string, number>>;
  readonly preset?: string;
  /** Config fields, over the preset's. */
  readonly config?: Readonly<Record<string, unknown>>;
}

function parseWith<C>(e: Estimator<C>, raw: unknown): C {
  const r = e.configSchema.safeParse(raw);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `config${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`);
  throw new ConfigError(`${e.name}: invalid config: ${issues.join('; ')}`);
}

/** Resolves the workload, preset, config, topology and mesh, and runs the estimate. */
export function runEstimate(registry: EstimatorRegistry, args: EstimateArgs): EstimateReport {
  const e = registry.get(args.workload);
  if (!e) throw new ConfigError(`estimate: unknown workload '${args.workload}'; estimable: ${[...registry.keys()].join(', ')}`);
  let base: Readonly<Record<string, unknown>> = {};
  if (args.preset !== undefined) {
    const p = e.presets?.[args.preset];
    if (!p) throw new ConfigError(`estimate: ${e.name} has no preset '${args.preset}'; presets: ${Object.keys(e.presets ?? {}).join(', ') || 'none'}`);
    base = p;
  }
  const config = parseWith(e, { ...base, ...(args.config ?? {}) });
  const topology = parseTopology(args.topology);
  const mesh = args.mesh ?? e.defaultMesh(config, topology);
  return estimate(e.request(config, topology, mesh));
}

export const estimateJobConfigSchema = z
  .object({
    workload: z.string().default('transformer'),
    topology: z.string().default('v3-128'),
    mesh: z.record(z.string(), z.number().int().positive()).optional(),
    preset: z.string().optional(),
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type EstimateJobConfig = z.infer<typeof estimateJobConfigSchema>;

/**
 * Estimate mode as a job over the websocket: submit workload 'estimate' with
 * {workload, topology, mesh?, preset?, config}; the result is the EstimateReport. It runs on
 * the coordinator and uses no cores of the pod (the topology it prices is its own).
 */
export function estimatePlugin(registry: EstimatorRegistry): WorkloadPlugin<EstimateJobConfig, EstimateReport> {
  return {
    name: 'estimate',
    description: `estimate mode: price a workload's step on any topology without running it (${[...registry.keys()].join(', ')})`,
    configSchema: estimateJobConfigSchema,
    async run(ctx: JobContext, c: EstimateJobConfig): Promise<EstimateReport> {
      ctx.log(`estimating ${c.workload} on ${c.topology}${c.mesh ? ` mesh ${JSON.stringify(c.mesh)}` : ''}`);
      const report = runEstimate(registry, {
        workload: c.workload,
        topology: c.topology,
        config: c.config,
        ...(c.mesh ? { mesh: c.mesh } : {}),
        ...(c.preset !== undefined ? { preset: c.preset } : {}),
      });
      ctx.progress(1, 1, { step_seconds: report.stepSeconds, mfu: report.mfu, peak_hbm_bytes: report.memory.peakBytes });
      return report;
    },
  };
}
