/**
 * `tpusim estimate <workload>`: estimate mode. The workload's step is traced, partitioned
 * by GSPMD and priced on abstract values for the given topology and mesh, on this machine,
 * however many cores the topology has. Prints step time by unit and by collective, MFU,
 * tokens/s, HBM per core with an out-of-memory verdict, and the critical path.
 */
import { type EstimatorRegistry, runEstimate } from '../coordinator/estimate/estimator.js';
import { reportText } from '../coordinator/estimate/report.js';
import { builtinEstimators } from '../workloads/registry.js';
import { parseCommand } from './args.js';
import { EXIT_JOB_FAILED, EXIT_OK, applySets, parseMesh, toJson } from './format.js';
import type { Command } from './main.js';

function help(registry: EstimatorRegistry): string {
  const workloads = [...registry.values()]
    .map((e) => `  ${e.name.padEnd(12)} ${e.description}${e.presets ? `\n  ${''.padEnd(12)} presets: ${Object.keys(e.presets).join(', ')}` : ''}`)
    .join('\n');
  return `usage: tpusim estimate <workload> [options]

Prices one training step of a workload on a topology of any size without running it: the
same tracing, GSPMD partitioning and cost model as execution, on shapes only.

workloads:
${workloads}

options:
  --topology NAME  the slice to price, e.g. v3-128, v3-2048, v4-512 (default v3-128)
  --mesh AXES      mesh axes over its cores, e.g. data=8,model=16 (default: the workload's)
  --preset NAME    start from a named config
  --set KEY=VALUE  set a config field (repeatable); VALUE is JSON when it parses, else a string
  --json           print the report as JSON

examples:
  tpusim estimate transformer --preset 128b --topology v3-128 --mesh data=8,model=16
  tpusim estimate transformer --preset 1t --topology v3-512 --set sharding=megatron

exit codes: 0 estimated (an out-of-memory verdict included), 1 the estimate failed, 2 usage`;
}

export function makeEstimateCommand(registry: EstimatorRegistry): Command {
  return {
    name: 'estimate',
    summary: 'price a workload step on any topology without running it (estimate mode)',
    run(argv) {
      const p = parseCommand(
        argv,
        {
          topology: { type: 'string' },
          mesh: { type: 'string' },
          preset: { type: 'string' },
          set: { type: 'string', multiple: true },
          json: { type: 'boolean' },
        },
        { min: 1, max: 1, names: '<workload>' },
      );
      if (p.help) {
        console.log(help(registry));
        return EXIT_OK;
      }
      const meshText = p.str('mesh');
      const preset = p.str('preset');
      const report = runEstimate(registry, {
        workload: p.positionals[0]!,
        topology: p.str('topology') ?? 'v3-128',
        config: applySets({}, p.strs('set')),
        ...(meshText !== undefined ? { mesh: parseMesh(meshText) } : {}),
        ...(preset !== undefined ? { preset } : {}),
      });
      console.log(p.bool('json') ? toJson(report) : reportText(report));
      return report.stepSeconds > 0 ? EXIT_OK : EXIT_JOB_FAILED;
    },
  };
}

export const estimateCommand: Command = makeEstimateCommand(builtinEstimators);
