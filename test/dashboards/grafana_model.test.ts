/**
 * dashboards/tpusim.json is a Grafana dashboard in the classic JSON model: a uid, a
 * Prometheus datasource variable every query uses, panels on a 24-column grid that do not
 * overlap, a panel for each thing the pod's users watch, and only metric names the
 * coordinator's registry (src/coordinator/metrics.ts) exports.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CoordinatorMetrics } from '../../src/coordinator/metrics.js';
import { FakePod } from '../coordinator/fake_pod.js';

interface Target {
  refId: string;
  expr: string;
  legendFormat: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource: { type: string; uid: string };
  targets: Target[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { type: string; name: string; query: unknown }[] };
}

const dashboard = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'dashboards', 'tpusim.json'), 'utf8')) as Dashboard;
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));

/** Every series name the registry exposes, histograms with their _bucket, _sum and _count. */
async function exportedNames(): Promise<Set<string>> {
  const m = new CoordinatorMetrics(new FakePod(), () => ({ PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, STOPPED: 0 }));
  const names = new Set<string>();
  for (const metric of await m.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${s}`);
  }
  return names;
}

describe('dashboards/tpusim.json', () => {
  it('has a uid, a title, a schema version and a Prometheus datasource variable', () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ds = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(ds).toMatchObject({ name: 'datasource', query: 'prometheus' });
  });

  it('queries only through the datasource variable', () => {
    for (const p of dashboard.panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(new Set(p.targets.map((t) => t.refId)).size, p.title).toBe(p.targets.length);
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) expect((v as unknown as Panel).datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it('lays its panels on the 24-column grid, with unique ids and without overlaps', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const taken = new Set<string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const cell = `${x},${y}`;
          expect(taken.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          taken.add(cell);
        }
      }
    }
  });

  it('has the panels the pod is watched by', () => {
    const find = (pred: (p: Panel) => boolean) => dashboard.panels.filter(pred);
    const uses = (p: Panel, s: string) => p.targets.some((t) => t.expr.includes(s));
    expect(find((p) => /MFU/.test(p.title) && uses(p, 'tpusim_core_mxu_utilization_ratio'))).not.toHaveLength(0);
    // Heatmaps with one row per core.
    expect(find((p) => p.type === 'heatmap' && /per-core/i.test(p.title) && p.targets.every((t) => t.legendFormat === '{{core}}'))).toHaveLength(2);
    expect(find((p) => /HBM/.test(p.title) && uses(p, 'tpusim_core_hbm_used_bytes'))).not.toHaveLength(0);
    expect(find((p) => /Collective time by op/.test(p.title) && uses(p, 'by (op)'))).not.toHaveLength(0);
    const quantiles = find((p) => /step time quantiles/.test(p.title))[0]!;
    expect(quantiles.targets.map((t) => /histogram_quantile\((0\.\d+),/.exec(t.expr)?.[1])).toEqual(['0.5', '0.9', '0.99']);
    expect(find((p) => /Jobs by state/.test(p.title) && uses(p, 'tpusim_jobs{'))).not.toHaveLength(0);
    expect(find((p) => /Emulation speed/.test(p.title) && uses(p, 'tpusim_emulat'))).not.toHaveLength(0);
  });

  it("uses only metric names the coordinator's registry exports", async () => {
    const names = await exportedNames();
    const used = new Set(exprs.flatMap((e) => e.match(/\btpusim_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(10);
    for (const n of used) expect(names.has(n), `${n} is not exported by src/coordinator/metrics.ts`).toBe(true);
  });
});
