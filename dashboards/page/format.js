/** Number formatting for the live page: SI prefixes, percentages, simulated durations. */

const SI = [
  [1e18, 'E'],
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** 1.23e12 -> "1.23 T" (with the unit appended). */
export function si(x, unit = '') {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  for (const [scale, prefix] of SI) {
    if (a >= scale) return `${(x / scale).toPrecision(3)} ${prefix}${unit}`;
  }
  return `${a >= 1 || a === 0 ? x.toFixed(a === 0 ? 0 : 1) : x.toPrecision(3)} ${unit}`.trim();
}

/** Bytes in binary units: 1536 -> "1.50 KiB". */
export function bytes(x) {
  if (!Number.isFinite(x)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = x;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v.toFixed(0) : v.toFixed(2)} ${units[i]}`;
}

/** A ratio 0..1 as a percentage: 0.1234 -> "12.3%"; tiny non-zero values keep two digits. */
export function percent(x) {
  if (!Number.isFinite(x)) return '–';
  const p = x * 100;
  if (p !== 0 && Math.abs(p) < 0.1) return `${p.toPrecision(2)}%`;
  return `${p.toFixed(1)}%`;
}

/** Simulated seconds with a fitting unit: 3.2e-6 -> "3.20 µs". */
export function seconds(x) {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  if (a === 0) return '0 s';
  if (a < 1e-6) return `${(x * 1e9).toFixed(2)} ns`;
  if (a < 1e-3) return `${(x * 1e6).toFixed(2)} µs`;
  if (a < 1) return `${(x * 1e3).toFixed(2)} ms`;
  if (a < 120) return `${x.toFixed(2)} s`;
  if (a < 7200) return `${(x / 60).toFixed(1)} min`;
  return `${(x / 3600).toFixed(1)} h`;
}

/** A wall-clock timestamp (ms since the epoch) as local time of day. */
export function clock(ms) {
  if (ms == null) return '–';
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** Wall-clock duration between two timestamps in ms, as "12.3 s". */
export function wallDuration(fromMs, toMs) {
  if (fromMs == null || toMs == null) return '–';
  return seconds((toMs - fromMs) / 1000);
}
