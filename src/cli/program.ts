/**
 * `tpusim program <job id>`: prints the partitioned (per-core SPMD) program a job compiled,
 * as one core sees it: local shapes, shardings and collectives. The job context records
 * each sharded jit's per-core dumps in the job's data dir when it compiles them, so this
 * reads files (it works while the job runs, after it ended, and with the coordinator down).
 */
import { jobDirOf, listPrograms, readProgram } from '../coordinator/programs.js';
import { intFlag, parseCommand } from './args.js';
import { dataDirOf, openStore } from './endpoint.js';
import { EXIT_OK, toJson } from './format.js';
import type { Command } from './main.js';

export const programCommand: Command = {
  name: 'program',
  summary: "a job's partitioned program as one core runs it (--core N, --name NAME)",
  async run(argv) {
    const p = parseCommand(
      argv,
      { core: { type: 'string' }, name: { type: 'string' }, list: { type: 'boolean' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' } },
      { min: 1, max: 1, names: '<job id>' },
    );
    if (p.help) {
      console.log(`usage: tpusim program <job id> [--core N] [--name NAME] [--list]

Prints the SPMD program GSPMD partitioned for a job (a ctx.jit with in/out shardings), as
core N runs it: every op with its local (per-core) shape, the shardings and global shapes
of the values that stand for the original program's, and the collectives with their mesh
axes. Recorded when the job compiles it, so it can be read while the job runs.

options:
  --core N         the core to show (default: the job's first core)
  --name NAME      the program to show, when the job compiled several
  --list           list the job's programs and their cores instead
  --json           {name, core, text}, or with --list [{name, cores}]
  --data-dir DIR   the coordinator's data dir (default $TPUSIM_DATA_DIR or ~/.tpusim)`);
      return EXIT_OK;
    }
    const id = p.positionals[0]!;
    const core = p.str('core') === undefined ? undefined : intFlag('--core', p.str('core'), 0, true);
    const store = openStore({ 'data-dir': p.str('data-dir') });
    try {
      if (!store.get(id)) throw new Error(`no job ${JSON.stringify(id)} in the job store`);
    } finally {
      store.close();
    }
    const jobDir = jobDirOf(dataDirOf({ 'data-dir': p.str('data-dir') }), id);
    if (p.bool('list')) {
      const programs = await listPrograms(jobDir);
      if (p.bool('json')) console.log(toJson(programs));
      else console.log(programs.length ? programs.map((x) => `${x.name}\tcores ${x.cores.join(',')}`).join('\n') : `job ${id} has compiled no sharded program`);
      return EXIT_OK;
    }
    const name = p.str('name');
    const dump = await readProgram(jobDir, { ...(name !== undefined ? { name } : {}), ...(core !== undefined ? { core } : {}) });
    console.log(p.bool('json') ? toJson(dump) : dump.text.trimEnd());
    return EXIT_OK;
  },
};
