import { describe, expect, it } from 'vitest';
import { estimatePlugin, runEstimate } from '../../../src/coordinator/estimate/estimator.js';
import { reportText } from '../../../src/coordinator/estimate/report.js';
import type { JobContext } from '../../../src/coordinator/plugin.js';
import { ConfigError } from '../../../src/coordinator/plugin.js';
import { builtinEstimators } from '../../../src/workloads/registry.js';

describe('estimator registry', () => {
  it('resolves a workload, its default mesh and config, and prints a report', () => {
    const r = runEstimate(builtinEstimators, { workload: 'transformer', topology: 'v3-8', config: { layers: 3 } });
    expect(r.mesh).toEqual({ data: 2, model: 4 });
    expect(r.cores).toBe(8);
    expect(r.program.method).toBe('blocks');
    const text = reportText(r);
    for (const part of ['step time', 'MFU', 'tokens/s', 'HBM per core', 'critical path', 'all_gather (ICI)', 'calibration']) expect(text).toContain(part);
  });

  it('names bad input: workload, preset and config fields', () => {
    expect(() => runEstimate(builtinEstimators, { workload: 'nope', topology: 'v3-8' })).toThrow(/unknown workload 'nope'/);
    expect(() => runEstimate(builtinEstimators, { workload: 'transformer', topology: 'v3-8', preset: 'huge' })).toThrow(/no preset 'huge'/);
    expect(() => runEstimate(builtinEstimators, { workload: 'transformer', topology: 'v3-8', config: { layers: -1 } })).toThrow(ConfigError);
    expect(() => runEstimate(builtinEstimators, { workload: 'transformer', topology: 'v3-8', config: { layers: -1 } })).toThrow(/config\.layers/);
  });

  it('runs as a job: the estimate plugin returns the report and reports progress', async () => {
    const logs: string[] = [];
    const progress: Record<string, number>[] = [];
    // The plugin uses only the job's log and progress streams.
    const ctx = { log: (l: string) => logs.push(l), progress: (_s: number, _t: number, m: Record<string, number> = {}) => progress.push(m) } as unknown as JobContext;
    const plugin = estimatePlugin(builtinEstimators);
    const config = plugin.configSchema.parse({ workload: 'moe', topology: 'v3-8', config: { layers: 2 } });
    const report = await plugin.run(ctx, config);
    expect(report.workload).toBe('moe');
    expect(report.breakdown.collectives.all_to_all).toBeGreaterThan(0);
    expect(logs[0]).toContain('moe on v3-8');
    expect(progress[0]!.step_seconds).toBe(report.stepSeconds);
  });
});
