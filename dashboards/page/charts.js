/**
 * Time-series and per-step charts, drawn with uPlot (a small canvas chart library). Each
 * chart keeps a bounded window of points and resizes with its container.
 */
import uPlot from '/vendor/uPlot.esm.js';

const PALETTE = ['#2a7ab9', '#e8772e', '#3a9a4a', '#c2409a', '#8a6bd1', '#b8962e'];

function widthOf(el) {
  return Math.max(240, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 480));
}

/**
 * The y range: from 0 (or below, for negative data) to a little above the largest value, so
 * small values stay readable; at most `cap` (1 for ratios) when given.
 */
export function yRange(min, max, cap) {
  const lo = Number.isFinite(min) ? Math.min(0, min) : 0;
  // Constant data sits mid-chart; otherwise leave a little headroom above the largest value.
  let hi = Number.isFinite(max) && max > lo ? max * (max === min ? 2 : 1.15) : lo === 0 ? 1 : Math.abs(lo);
  if (Number.isFinite(max) && max === 0 && cap !== undefined) hi = cap;
  if (cap !== undefined) hi = Math.min(cap, hi);
  return [lo, hi > lo ? hi : lo + 1];
}

/** A chart of named series against an x axis, with a fixed-length rolling window. */
export class SeriesChart {
  /**
   * @param el container element
   * @param opts { title, series: [{ label, format?: (v) => string }], yMax?: number, time?: boolean,
   *   xLabel?, maxPoints?, height?, yFormat?: (v) => string }
   */
  constructor(el, opts) {
    this.el = el;
    this.maxPoints = opts.maxPoints ?? 600;
    this.data = [[], ...opts.series.map(() => [])];
    const yFormat = opts.yFormat ?? ((v) => String(v));
    const plotOpts = {
      title: opts.title,
      width: widthOf(el),
      height: opts.height ?? 200,
      scales: {
        x: { time: opts.time ?? true },
        y: { range: (_u, min, max) => yRange(min, max, opts.yMax) },
      },
      axes: [
        { label: opts.xLabel, stroke: '#555', grid: { stroke: '#eee' } },
        { stroke: '#555', grid: { stroke: '#eee' }, size: 74, values: (_u, ticks) => ticks.map(yFormat) },
      ],
      series: [
        { label: opts.xLabel ?? 'time' },
        ...opts.series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? PALETTE[i % PALETTE.length],
          width: 2,
          points: { show: opts.points ?? false },
          value: (_u, v) => (v == null ? '–' : (s.format ?? yFormat)(v)),
        })),
      ],
      legend: { live: true },
    };
    this.plot = new uPlot(plotOpts, this.data, el);
    this.resize = new ResizeObserver(() => this.plot.setSize({ width: widthOf(el), height: plotOpts.height }));
    this.resize.observe(el);
  }

  /** Appends one point (x, then one y per series); drops the oldest past the window. */
  push(x, ys) {
    this.data[0].push(x);
    ys.forEach((y, i) => this.data[i + 1].push(y));
    if (this.data[0].length > this.maxPoints) for (const col of this.data) col.shift();
    this.plot.setData(this.data);
  }

  /** Replaces every point. */
  set(xs, columns) {
    this.data = [xs, ...columns];
    this.plot.setData(this.data);
  }

  destroy() {
    this.resize.disconnect();
    this.plot.destroy();
  }
}
