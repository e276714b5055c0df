/**
 * Output helpers of the CLI: JSON for scripts, aligned tables, durations, a progress bar,
 * and the usage error that makes a command exit with 2.
 */
import type { JobDetail, JobSummary } from '../coordinator/protocol.js';

export const EXIT_OK = 0;
export const EXIT_JOB_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad arguments: the dispatcher prints it with the command's help and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** JSON with typed arrays as arrays and bigints as numbers (results may hold both). */
export function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === 'bigint') return Number(v);
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
      return v;
    },
    indent,
  );
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s - m * 60)}s`;
  return `${Math.floor(m / 60)}h${m % 60}m`;
}

export function formatTime(ms: number | null): string {
  if (ms === null) return '-';
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A number in a metrics line: short, with an SI-ish exponent when tiny or huge. */
export function formatNumber(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e9) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(3);
  return x.toPrecision(4).replace(/\.?0+$/, '');
}

export function jobsTable(jobs: readonly JobSummary[], now = Date.now()): string {
  return table(
    ['JOB', 'NAME', 'WORKLOAD', 'STATE', 'STEP', 'SUBMITTED', 'DURATION', 'ERROR'],
    jobs.map((j) => [
      j.jobId,
      j.name ?? '-',
      j.workload,
      j.state,
      j.step === null ? '-' : `${j.step}/${j.total}`,
      formatTime(j.submittedAt),
      j.startedAt === null ? '-' : formatDuration((j.finishedAt ?? now) - j.startedAt),
      j.error ? `${j.error.code}: ${j.error.message}`.slice(0, 80) : '',
    ]),
  );
}

export function jobDetailText(j: JobDetail, now = Date.now()): string {
  const lines = [
    `job       ${j.jobId}${j.name ? ` (${j.name})` : ''}`,
    `workload  ${j.workload}`,
    `state     ${j.state}`,
    `submitted ${formatTime(j.submittedAt)}`,
    `started   ${formatTime(j.startedAt)}`,
    `finished  ${formatTime(j.finishedAt)}`,
  ];
  if (j.startedAt !== null) lines.push(`duration  ${formatDuration((j.finishedAt ?? now) - j.startedAt)}`);
  if (j.step !== null) lines.push(`progress  step ${j.step} of ${j.total}`);
  if (j.mesh) lines.push(`mesh      ${meshText(j.mesh)}`);
  lines.push(`config    ${JSON.stringify(j.config)}`);
  if (j.metrics && Object.keys(j.metrics).length) lines.push(`metrics   ${metricsText(j.metrics)}`);
  if (j.error) lines.push(`error     ${j.error.code}: ${j.error.message}${j.error.field ? ` (field ${j.error.field})` : ''}`);
  return lines.join('\n');
}

export function meshText(mesh: Readonly<Record<string, number>>): string {
  return Object.entries(mesh)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export function metricsText(m: Readonly<Record<string, number>>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k}=${formatNumber(v)}`)
    .join(' ');
}

const RESULT_LINE_LIMIT = 240;

/** A result as `key: value` lines; nested values as compact JSON, long arrays summarized. */
export function resultText(result: unknown): string {
  if (result === null || typeof result !== 'object' || Array.isArray(result) || ArrayBuffer.isView(result)) return toJson(result, 0);
  return Object.entries(result as Record<string, unknown>)
    .map(([k, v]) => {
      if (typeof v === 'number') return `${k}: ${formatNumber(v)}`;
      const arr = Array.isArray(v) ? v : ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : undefined;
      const item = (x: unknown) => (typeof x === 'number' ? formatNumber(x) : toJson(x, 0));
      const line =
        arr && arr.length > 8
          ? `${k}: [${arr.slice(0, 8).map(item).join(', ')}, … ${arr.length} items]`
          : arr
            ? `${k}: [${arr.map(item).join(', ')}]`
            : `${k}: ${toJson(v, 0)}`;
      // A value too long for a line (per-batch records, say) is left to --json.
      if (line.length <= RESULT_LINE_LIMIT) return line;
      return `${k}: ${arr ? `${arr.length} items` : 'an object'} (--json shows it)`;
    })
    .join('\n');
}

/** `[#########.........]  12/40  30%` */
export function progressBar(step: number, total: number, width = 30): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, step / total)) : 0;
  const filled = Math.round(frac * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(step).padStart(String(total).length)}/${total} ${String(Math.floor(frac * 100)).padStart(3)}%`;
}

/** Parses `data=4,model=2`. */
export function parseMesh(text: string): Record<string, number> {
  const mesh: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^\s*([A-Za-z_][\w-]*)\s*=\s*(\d+)\s*$/.exec(part);
    if (!m || Number(m[2]) < 1) throw new UsageError(`--mesh: expected axis=size[,axis=size...], e.g. data=4,model=2; got ${JSON.stringify(text)}`);
    if (m[1]! in mesh) throw new UsageError(`--mesh: axis ${m[1]} given twice`);
    mesh[m[1]!] = Number(m[2]);
  }
  return mesh;
}

/**
 * Applies `--set key=value` pairs to a config. The value is JSON when it parses as JSON
 * (numbers, booleans, lists), else a string; a dotted key sets a nested field.
 */
export function applySets(config: Record<string, unknown>, sets: readonly string[]): Record<string, unknown> {
  for (const s of sets) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: expected key=value, got ${JSON.stringify(s)}`);
    const path = s.slice(0, eq).split('.');
    const raw = s.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // not JSON: the string itself
    }
    let obj = config;
    for (const key of path.slice(0, -1)) {
      if (key === '' || key === '__proto__') throw new UsageError(`--set: bad key ${JSON.stringify(s.slice(0, eq))}`);
      const next = obj[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) obj[key] = {};
      obj = obj[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (last === '' || last === '__proto__') throw new UsageError(`--set: bad key ${JSON.stringify(s.slice(0, eq))}`);
    obj[last] = value;
  }
  return config;
}
