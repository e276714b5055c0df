/**
 * The jobs side of the page: what the page knows of each job (from `list`, `status` and the
 * pushed events), the job table, one panel per active or recent job, and the detail view.
 */
import { clock, percent, seconds, wallDuration } from './format.js';

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'STOPPED']);
const RECENT_PANELS = 4;
const MAX_STEPS_KEPT = 5000;

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  parent?.appendChild(e);
  return e;
}

/** JSON for display: typed arrays as arrays, long arrays cut to their first elements. */
export function displayJson(value, maxItems = 32) {
  return JSON.stringify(
    value,
    (_k, v) => {
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) v = Array.from(v);
      if (Array.isArray(v) && v.length > maxItems) return [...v.slice(0, maxItems), `… ${v.length - maxItems} more`];
      if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
      return v;
    },
    2,
  );
}

/** A job's figures for its panel: the workload's own metrics where it reports them, else measured from pod frames. */
export function jobFigures(job, peakFlopsPerCore, numCores) {
  const m = job.metrics ?? {};
  const d = job.derived;
  const sim = d ? d.sim - d.sim0 : 0;
  const steps = d && job.step != null ? job.step - d.step0 : 0;
  const derivedStep = d && steps > 0 ? sim / steps : undefined;
  const derivedMfu = d && sim > 0 && peakFlopsPerCore > 0 ? (d.flops - d.flops0) / (sim * peakFlopsPerCore * numCores) : undefined;
  const busy = d ? d.busy - d.busy0 : 0;
  const derivedShare = d && busy > 0 ? (d.coll - d.coll0) / busy : undefined;
  return {
    stepSeconds: m.step_seconds ?? derivedStep,
    mfu: m.mfu ?? derivedMfu,
    collectiveShare: m.collective_share ?? derivedShare,
  };
}

export class JobBoard {
  constructor({ table, panels, onSelect }) {
    this.jobs = new Map();
    this.table = table;
    this.panels = panels;
    this.onSelect = onSelect;
    this.pod = undefined;
    this.scheduled = false;
  }

  setPod(pod) {
    this.pod = pod;
  }

  /** Adds or refreshes jobs from a `jobs` or `job` reply. */
  upsert(summary) {
    const job = this.jobs.get(summary.jobId) ?? { steps: new Map() };
    Object.assign(job, summary);
    if (summary.metrics) job.metrics = summary.metrics;
    this.jobs.set(summary.jobId, job);
    this.render();
    return job;
  }

  get(jobId) {
    return this.jobs.get(jobId);
  }

  /** Applies a pushed job event; returns true if the job was unknown (the caller fetches it). */
  event(e) {
    let job = this.jobs.get(e.jobId);
    const unknown = !job;
    if (!job) {
      job = { jobId: e.jobId, name: null, workload: '…', state: 'PENDING', steps: new Map() };
      this.jobs.set(e.jobId, job);
    }
    switch (e.type) {
      case 'state':
        job.state = e.state;
        if (e.state === 'PENDING') job.submittedAt ??= e.at;
        if (e.state === 'RUNNING') job.startedAt = e.at;
        if (TERMINAL.has(e.state)) job.finishedAt = e.at;
        break;
      case 'progress':
        job.step = e.step;
        job.total = e.total;
        job.metrics = e.metrics;
        job.steps.set(e.step, e.metrics);
        if (job.steps.size > MAX_STEPS_KEPT) job.steps.delete(job.steps.keys().next().value);
        break;
      case 'result':
        job.result = e.result;
        job.hasResult = true;
        break;
      case 'error':
        job.error = { code: e.code, message: e.message, field: e.field };
        break;
    }
    this.render();
    return unknown;
  }

  /** Feeds a pod frame to the running job's measured figures. */
  frame(f) {
    if (!f.running) return;
    const job = this.jobs.get(f.running);
    if (!job) return;
    const coll = Object.values(f.collectiveSeconds).reduce((s, x) => s + x, 0);
    const busy = f.cores.busySeconds.reduce((s, x) => s + x, 0);
    if (!job.derived) {
      job.derived = { sim0: f.simulatedSeconds, flops0: f.emulatedFlops, coll0: coll, busy0: busy, step0: job.step ?? 0 };
    }
    Object.assign(job.derived, { sim: f.simulatedSeconds, flops: f.emulatedFlops, coll, busy });
    this.render();
  }

  /** Re-renders at the next animation frame (many events in a burst render once). */
  render() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.renderTable();
      this.renderPanels();
    });
  }

  sorted() {
    return [...this.jobs.values()].sort((a, b) => (b.submittedAt ?? 0) - (a.submittedAt ?? 0));
  }

  renderTable() {
    const body = this.table.tBodies[0];
    const rows = this.sorted().map((job) => {
      const tr = el('tr');
      tr.dataset.jobId = job.jobId;
      tr.tabIndex = 0;
      el('td', 'mono', tr, job.jobId);
      el('td', '', tr, job.name ?? '');
      el('td', '', tr, job.workload);
      const st = el('td', 'state', tr);
      el('span', `badge ${job.state}`, st, job.state);
      el('td', 'num', tr, job.total ? `${job.step ?? 0} / ${job.total}` : '');
      el('td', 'num', tr, clock(job.submittedAt));
      el('td', 'num', tr, job.startedAt ? wallDuration(job.startedAt, job.finishedAt ?? Date.now()) : '');
      el('td', 'error-text', tr, job.error ? `${job.error.code}: ${job.error.message}` : '');
      const open = () => this.onSelect(job.jobId);
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') open();
      });
      return tr;
    });
    body.replaceChildren(...rows);
    this.table.classList.toggle('empty', rows.length === 0);
  }

  renderPanels() {
    const active = this.sorted().filter((j) => !TERMINAL.has(j.state));
    const recent = this.sorted()
      .filter((j) => TERMINAL.has(j.state))
      .slice(0, RECENT_PANELS);
    const peak = this.pod?.peakFlopsPerCore ?? 0;
    const cores = this.pod?.numCores ?? 1;
    const cards = [...active, ...recent].map((job) => {
      const card = el('article', 'job-panel');
      card.dataset.jobId = job.jobId;
      const head = el('header', '', card);
      el('span', 'job-title', head, job.name ? `${job.name} (${job.jobId})` : job.jobId);
      el('span', `badge state ${job.state}`, head, job.state);
      el('div', 'job-workload', card, job.workload);
      const frac = job.total ? Math.min(1, (job.step ?? 0) / job.total) : TERMINAL.has(job.state) && job.state === 'SUCCEEDED' ? 1 : 0;
      const bar = el('div', 'progress', card);
      el('div', 'progress-fill', bar).style.width = `${(frac * 100).toFixed(1)}%`;
      el('div', 'progress-text', card, job.total ? `step ${job.step ?? 0} of ${job.total}` : 'no steps yet');
      const f = jobFigures(job, peak, cores);
      const dl = el('dl', 'figures', card);
      const item = (name, value, title) => {
        const dt = el('dt', '', dl, name);
        dt.title = title;
        el('dd', '', dl, value);
      };
      item('step time', f.stepSeconds === undefined ? '–' : seconds(f.stepSeconds), 'simulated seconds of the latest step');
      item('MFU', f.mfu === undefined ? '–' : percent(f.mfu), 'model FLOPs utilization: useful FLOPs / (simulated time × peak × cores)');
      item('collectives', f.collectiveShare === undefined ? '–' : percent(f.collectiveShare), 'share of the step spent in collectives');
      if (job.error) el('div', 'error-text', card, `${job.error.code}: ${job.error.message}`);
      card.addEventListener('click', () => this.onSelect(job.jobId));
      return card;
    });
    if (cards.length === 0) cards.push(el('p', 'muted', undefined, 'No jobs yet: submit one below, or with `tpusim submit`.'));
    this.panels.replaceChildren(...cards);
  }
}
