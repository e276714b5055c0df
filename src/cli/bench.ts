/**
 * `tpusim bench <name> [args]`: runs one of the benchmarks in bench/ (compiled beside the
 * CLI under dist/). Each prints its figures beside a baseline measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from './format.js';
import type { Command } from './main.js';

const BENCHES: Readonly<Record<string, string>> = {
  kernels: 'fast dot and conv GFLOP/s per backend, vs the reference kernel and numpy (1 thread); --quick',
  collectives: 'NCCL-tests-style algbw/busbw per op and core count, vs a postMessage all-reduce and memcpy; --cores 2,4,8 --max 256M --ops all_reduce,...',
  knn: 'emulated QPS and recall of approx top-k search, vs numpy argpartition and the exact mode; --quick',
};

function usage(): string {
  const width = Math.max(...Object.keys(BENCHES).map((n) => n.length));
  return [
    'usage: tpusim bench <name> [args]',
    '',
    'Runs a benchmark on this machine; the arguments after the name go to it.',
    '',
    'benchmarks:',
    ...Object.entries(BENCHES).map(([n, what]) => `  ${n.padEnd(width)}  ${what}`),
  ].join('\n');
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'run a benchmark (kernels, collectives, knn) beside its baselines',
  run(argv) {
    const [name, ...rest] = argv;
    if (name === undefined || name === '--help' || name === '-h') {
      console.log(usage());
      return name === undefined ? EXIT_USAGE : EXIT_OK;
    }
    if (!(name in BENCHES)) throw new UsageError(`unknown benchmark ${JSON.stringify(name)}; one of ${Object.keys(BENCHES).join(', ')}`);
    const script = fileURLToPath(new URL(`../../bench/${name}.js`, import.meta.url));
    if (!existsSync(script)) {
      console.error(`tpusim bench: ${script} is missing; run 'npm run build' first`);
      return EXIT_JOB_FAILED;
    }
    const r = spawnSync(process.execPath, [script, ...rest], { stdio: 'inherit' });
    return r.status ?? EXIT_JOB_FAILED;
  },
};
