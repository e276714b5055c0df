/**
 * A job's detail view: its config and mesh, its log (replayed, then streamed), its result or
 * error, and its metrics over steps as small multiples, one chart per metric.
 */
import { ApiError } from './api.js';
import { SeriesChart } from './charts.js';
import { clock, percent, seconds, si } from './format.js';
import { TERMINAL, displayJson } from './jobs.js';

const MAX_LOG_LINES = 2000;

/** How a metric's values read: ratios as percentages, *_seconds as durations. */
function metricFormat(name) {
  if (/(_ratio|utilization|share|mfu)$/.test(name)) return percent;
  if (/seconds$/.test(name)) return seconds;
  return (v) => si(v);
}

export class JobDetailView {
  constructor(root, { api, board }) {
    this.root = root;
    this.api = api;
    this.board = board;
    this.jobId = undefined;
    this.charts = [];
    this.chartKeys = '';
    this.logLines = [];
    this.lastSeq = 0;
    root.querySelector('#detail-close').addEventListener('click', () => this.close());
    root.querySelector('#detail-cancel').addEventListener('click', () => this.cancel());
  }

  setApi(api) {
    this.api = api;
  }

  q(sel) {
    return this.root.querySelector(sel);
  }

  async open(jobId) {
    if (this.jobId && this.jobId !== jobId) this.api.request('unsubscribe', { jobId: this.jobId }).catch(() => undefined);
    this.jobId = jobId;
    this.logLines = [];
    this.lastSeq = 0;
    this.destroyCharts();
    this.root.hidden = false;
    this.q('#detail-title').textContent = jobId;
    this.q('#detail-log').textContent = '';
    this.q('#detail-result').textContent = '';
    this.q('#detail-error').textContent = '';
    this.q('#detail-status').textContent = 'loading…';
    try {
      const [{ job }, { steps }] = await Promise.all([this.api.request('status', { jobId }), this.api.request('steps', { jobId })]);
      if (this.jobId !== jobId) return;
      const known = this.board.upsert(job);
      for (const s of steps) known.steps.set(s.step, s.metrics);
      if (job.state === 'SUCCEEDED') {
        known.result = job.result;
        known.hasResult = true;
      }
      this.q('#detail-config').textContent = displayJson({ workload: job.workload, name: job.name, mesh: job.mesh, config: job.config });
      await this.api.request('subscribe', { jobId });
      this.render();
      this.root.scrollIntoView({ behavior: 'smooth', block: 'start' });
    } catch (e) {
      this.q('#detail-status').textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e.message ?? e);
    }
  }

  close() {
    if (this.jobId) this.api.request('unsubscribe', { jobId: this.jobId }).catch(() => undefined);
    this.jobId = undefined;
    this.destroyCharts();
    this.root.hidden = true;
  }

  async cancel() {
    if (!this.jobId) return;
    try {
      const r = await this.api.request('cancel', { jobId: this.jobId });
      this.q('#detail-status').textContent = `cancel requested: ${r.state}`;
    } catch (e) {
      this.q('#detail-status').textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e.message ?? e);
    }
  }

  /** A pushed message; log lines of the shown job are appended, anything about it re-renders. */
  message(m) {
    if (!this.jobId || m.jobId !== this.jobId) return;
    if (m.type === 'log') {
      if (m.seq <= this.lastSeq) return;
      this.lastSeq = m.seq;
      this.logLines.push(`${clock(m.at)}  ${m.line}`);
      if (this.logLines.length > MAX_LOG_LINES) this.logLines.splice(0, this.logLines.length - MAX_LOG_LINES);
      const pre = this.q('#detail-log');
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = this.logLines.join('\n');
      if (atEnd) pre.scrollTop = pre.scrollHeight;
      return;
    }
    this.render();
  }

  render() {
    const job = this.jobId && this.board.get(this.jobId);
    if (!job) return;
    this.q('#detail-title').textContent = job.name ? `${job.name} (${job.jobId})` : job.jobId;
    const status = this.q('#detail-status');
    status.textContent = `${job.state}${job.total ? `, step ${job.step ?? 0} of ${job.total}` : ''}`;
    status.className = `badge ${job.state}`;
    this.q('#detail-cancel').hidden = TERMINAL.has(job.state);
    this.q('#detail-result').textContent = job.hasResult ? displayJson(job.result) : TERMINAL.has(job.state) ? '(no result)' : '(running)';
    this.q('#detail-error').textContent = job.error ? `${job.error.code}: ${job.error.message}${job.error.field ? ` (${job.error.field})` : ''}` : '';
    this.renderCharts(job);
  }

  renderCharts(job) {
    const steps = [...job.steps.keys()].sort((a, b) => a - b);
    const names = [...new Set(steps.flatMap((s) => Object.keys(job.steps.get(s) ?? {})))].sort();
    const box = this.q('#detail-charts');
    const keys = names.join(',');
    if (keys !== this.chartKeys) {
      this.destroyCharts();
      this.chartKeys = keys;
      box.replaceChildren();
      if (names.length === 0) box.textContent = 'No per-step metrics yet.';
      this.charts = names.map((name) => {
        const cell = document.createElement('div');
        cell.className = 'mini-chart';
        box.appendChild(cell);
        return {
          name,
          chart: new SeriesChart(cell, { title: name, series: [{ label: name }], time: false, xLabel: 'step', height: 150, points: true, yFormat: metricFormat(name), ...(metricFormat(name) === percent ? { yMax: 1 } : {}), maxPoints: 100_000 }),
        };
      });
    }
    for (const { name, chart } of this.charts) chart.set(steps, [steps.map((s) => job.steps.get(s)?.[name] ?? null)]);
  }

  destroyCharts() {
    for (const { chart } of this.charts) chart.destroy();
    this.charts = [];
    this.chartKeys = '';
  }
}
