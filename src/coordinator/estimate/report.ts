/** The estimate report as text: what `tpusim estimate` prints without --json. */
import type { EstimateReport } from './estimate.js';

function seconds(s: number): string {
  if (s === 0) return '0 s';
  if (s >= 1) return `${s.toFixed(3)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(3)} ms`;
  return `${(s * 1e6).toFixed(3)} µs`;
}

function bytes(b: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = b;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${x.toFixed(u === 0 ? 0 : 2)} ${units[u]}`;
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function shareOf(part: number, whole: number): string {
  return whole > 0 ? percent(part / whole) : '-';
}

export function reportText(r: EstimateReport): string {
  const step = r.stepSeconds;
  const mesh = Object.entries(r.mesh).map(([a, n]) => `${a}=${n}`).join(',');
  const lines: string[] = [];
  lines.push(`${r.workload} on ${r.topology} (${r.cores} ${r.chip} cores, mesh ${mesh})`);
  lines.push('');
  lines.push(`step time        ${seconds(step)}`);
  lines.push(`MFU              ${percent(r.mfu)}   (model FLOPs ${r.modelFlopsPerStep.toExponential(3)} per step)`);
  lines.push(`HFU              ${percent(r.hardwareFlopsUtilization)}   (FLOPs the cores compute)`);
  if (r.tokensPerSecond !== undefined) lines.push(`tokens/s         ${r.tokensPerSecond.toFixed(0)}`);
  lines.push('');
  lines.push('step time by what bounds it');
  const rows: [string, number][] = [
    ['MXU', r.breakdown.mxu],
    ['VPU', r.breakdown.vpu],
    ['HBM', r.breakdown.hbm],
    ['per-op overhead', r.breakdown.overhead],
    ...Object.entries(r.breakdown.collectives).map(([op, s]): [string, number] => [`${op} (ICI)`, s]),
  ];
  if (r.breakdown.waiting > 0) rows.push(['waiting for peers', r.breakdown.waiting]);
  for (const [name, s] of rows) lines.push(`  ${name.padEnd(22)} ${seconds(s).padStart(14)}  ${shareOf(s, step).padStart(6)}`);
  lines.push('');
  lines.push('collectives');
  for (const [op, c] of Object.entries(r.collectiveCalls)) {
    lines.push(`  ${op.padEnd(14)} ${String(c.count).padStart(7)} calls  ${bytes(c.bytesPerCore).padStart(12)} per core  ${seconds(c.seconds).padStart(14)}`);
  }
  lines.push('');
  const m = r.memory;
  lines.push(`HBM per core (of ${bytes(m.hbmBytesPerCore)})`);
  lines.push(`  parameters       ${bytes(m.paramsBytes)}`);
  lines.push(`  optimizer state  ${bytes(m.optimizerBytes)}`);
  lines.push(`  data             ${bytes(m.dataBytes)}`);
  lines.push(`  activations      ${bytes(m.activationsBytes)}   (at the peak)`);
  lines.push(`  peak             ${bytes(m.peakBytes)}`);
  lines.push(`  ${m.verdict}`);
  lines.push('');
  lines.push('critical path (ops by total time)');
  for (const c of r.criticalPath) {
    const sig = c.signature.split('|');
    const shapes = `${sig[2] ?? ''} -> ${sig[3] ?? ''}`;
    lines.push(`  ${shareOf(c.seconds, step).padStart(6)}  ${seconds(c.seconds).padStart(12)}  ${String(c.count).padStart(5)}x ${c.op.padEnd(14)} ${c.binding.padEnd(8)} ${shapes}`);
  }
  lines.push('');
  const p = r.program;
  lines.push(
    `program: ${p.equationsPerCore} equations per core, ${p.distinctSignatures} distinct; ` +
      (p.method === 'blocks' ? `${p.blocks} identical blocks, compiled with 0, 1 and 2 and extrapolated` : 'compiled whole') +
      `; ${p.coreClasses} class(es) of cores, representative core ${p.representativeCore}`,
  );
  const cal = r.calibration;
  lines.push(
    `calibration (chip table): MXU efficiency ${cal.mxuEfficiency}, per-op overhead ${seconds(cal.opOverheadSeconds)}, ` +
      `ICI hop latency ${seconds(cal.iciHopLatencySeconds)}, transcendental = ${cal.transcendentalVpuOps} VPU ops`,
  );
  lines.push(`estimated in ${r.wallSeconds.toFixed(2)} s wall, ${r.cpuSeconds.toFixed(2)} s CPU`);
  return lines.join('\n');
}
