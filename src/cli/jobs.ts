/**
 * The job commands: `jobs`, `status`, `logs`, `result` read the job store in the data dir
 * (so they work while the coordinator is down); `logs --follow` and `cancel` talk to the
 * coordinator; `workloads` reads the built-in registry.
 */
import { JOB_STATES, type JobState, isTerminal } from '../coordinator/protocol.js';
import type { JobStore } from '../coordinator/store.js';
import { builtinWorkloads } from '../workloads/registry.js';
import { intFlag, parseCommand } from './args.js';
import { ENDPOINT_HELP, connectClient, endpointOptions, openStore } from './endpoint.js';
import { EXIT_JOB_FAILED, EXIT_OK, UsageError, jobDetailText, jobsTable, resultText, toJson } from './format.js';
import type { Command } from './main.js';

const STORE_HELP = `  --data-dir DIR   the coordinator's data dir (default $TPUSIM_DATA_DIR or ~/.tpusim)`;

function withStore<T>(dataDir: string | undefined, fn: (store: JobStore) => T): T {
  const store = openStore({ 'data-dir': dataDir });
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

function notFound(id: string): never {
  throw new Error(`no job ${JSON.stringify(id)} in the job store`);
}

export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'list jobs, newest first',
  run(argv) {
    const p = parseCommand(argv, { state: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, 'data-dir': { type: 'string' } }, { min: 0, max: 0, names: '' });
    if (p.help) {
      console.log(`usage: tpusim jobs [--state STATE] [--limit N] [--json]

Lists the jobs in the job store, newest first.

options:
  --state STATE    only jobs in STATE (${JOB_STATES.join(', ')})
  --limit N        at most N jobs (default 50)
  --json           a JSON array
${STORE_HELP}`);
      return EXIT_OK;
    }
    const state = p.str('state')?.toUpperCase();
    if (state !== undefined && !(JOB_STATES as readonly string[]).includes(state)) throw new UsageError(`--state: one of ${JOB_STATES.join(', ')}`);
    const limit = intFlag('--limit', p.str('limit'), 50);
    const jobs = withStore(p.str('data-dir'), (s) => s.list({ ...(state ? { state: state as JobState } : {}), limit }));
    console.log(p.bool('json') ? toJson(jobs) : jobs.length ? jobsTable(jobs) : 'no jobs');
    return EXIT_OK;
  },
};

export const statusCommand: Command = {
  name: 'status',
  summary: "a job's state, config, progress and error",
  run(argv) {
    const p = parseCommand(argv, { json: { type: 'boolean' }, 'data-dir': { type: 'string' } }, { min: 1, max: 1, names: '<job id>' });
    if (p.help) {
      console.log(`usage: tpusim status <job id> [--json]

Shows a job's state, timestamps, config, last progress and error. Exit 1 if it FAILED or was STOPPED.

options:
  --json           the job as JSON (without its result: see 'tpusim result')
${STORE_HELP}`);
      return EXIT_OK;
    }
    const id = p.positionals[0]!;
    const job = withStore(p.str('data-dir'), (s) => s.get(id)) ?? notFound(id);
    const { result: _result, ...rest } = job;
    console.log(p.bool('json') ? toJson(rest) : jobDetailText(job));
    return job.state === 'FAILED' || job.state === 'STOPPED' ? EXIT_JOB_FAILED : EXIT_OK;
  },
};

export const resultCommand: Command = {
  name: 'result',
  summary: "a job's result",
  run(argv) {
    const p = parseCommand(argv, { json: { type: 'boolean' }, 'data-dir': { type: 'string' } }, { min: 1, max: 1, names: '<job id>' });
    if (p.help) {
      console.log(`usage: tpusim result <job id> [--json]

Prints a SUCCEEDED job's result. Exit 1 if the job FAILED or was STOPPED (its error is
printed), or has not ended yet.

options:
  --json           the result as JSON
${STORE_HELP}`);
      return EXIT_OK;
    }
    const id = p.positionals[0]!;
    const job = withStore(p.str('data-dir'), (s) => s.get(id)) ?? notFound(id);
    if (job.state !== 'SUCCEEDED') {
      const why = job.error ? `: ${job.error.code}: ${job.error.message}` : '';
      if (p.bool('json')) console.log(toJson({ jobId: job.jobId, state: job.state, error: job.error }));
      else console.error(`job ${job.jobId} is ${job.state}${why}${isTerminal(job.state) ? '' : '; it has no result yet'}`);
      return EXIT_JOB_FAILED;
    }
    console.log(p.bool('json') ? toJson(job.result) : resultText(job.result));
    return EXIT_OK;
  },
};

export const logsCommand: Command = {
  name: 'logs',
  summary: "a job's log lines (--follow to stream them)",
  async run(argv) {
    const p = parseCommand(argv, { follow: { type: 'boolean', short: 'f' }, ...endpointOptions }, { min: 1, max: 1, names: '<job id>' });
    if (p.help) {
      console.log(`usage: tpusim logs <job id> [--follow]

Prints a job's log lines from the job store; with --follow, keeps streaming them from the
coordinator until the job ends (exit 1 if it FAILED or was STOPPED).

options:
  -f, --follow     stream new lines until the job ends
${ENDPOINT_HELP}`);
      return EXIT_OK;
    }
    const id = p.positionals[0]!;
    const dataDir = p.str('data-dir');
    const past = withStore(dataDir, (s) => {
      const job = s.get(id) ?? notFound(id);
      return { job, lines: s.logs(id) };
    });
    let last = 0;
    for (const l of past.lines) {
      console.log(l.line);
      last = l.seq;
    }
    if (!p.bool('follow')) return EXIT_OK;
    const ended = (state: JobState, error: { message: string } | null | undefined): number => {
      if (state !== 'SUCCEEDED') console.error(`job ${id} ${state}${error ? `: ${error.message}` : ''}`);
      return state === 'SUCCEEDED' ? EXIT_OK : EXIT_JOB_FAILED;
    };
    if (isTerminal(past.job.state)) return ended(past.job.state, past.job.error);
    const client = await connectClient({ 'data-dir': dataDir, url: p.str('url'), token: p.str('token') });
    try {
      const outcome = await client.waitForEnd(
        id,
        (e) => {
          if (e.type !== 'log' || e.seq <= last) return;
          last = e.seq;
          console.log(e.line);
        },
        { subscribe: true },
      );
      return ended(outcome.state, outcome.error);
    } finally {
      await client.close();
    }
  },
};

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'cancel a job (a running one stops at its next step boundary)',
  async run(argv) {
    const p = parseCommand(argv, { wait: { type: 'boolean' }, json: { type: 'boolean' }, ...endpointOptions }, { min: 1, max: 1, names: '<job id>' });
    if (p.help) {
      console.log(`usage: tpusim cancel <job id> [--wait]

Cancels a job: a PENDING one is STOPPED at once, a RUNNING one at its next step boundary.

options:
  --wait           wait until the job has stopped
  --json           print {jobId, state}
${ENDPOINT_HELP}`);
      return EXIT_OK;
    }
    const id = p.positionals[0]!;
    const client = await connectClient({ 'data-dir': p.str('data-dir'), url: p.str('url'), token: p.str('token') });
    try {
      const ended = p.bool('wait') ? client.waitForEnd(id, undefined, { subscribe: true }) : undefined;
      let state = await client.cancel(id);
      if (ended) state = (await ended).state;
      console.log(p.bool('json') ? toJson({ jobId: id, state }, 0) : `${id}\t${state}${state === 'RUNNING' ? '\t(stops at its next step boundary)' : ''}`);
      return EXIT_OK;
    } finally {
      await client.close();
    }
  },
};

export const workloadsCommand: Command = {
  name: 'workloads',
  summary: 'list the workloads with their descriptions and config defaults',
  run(argv) {
    const p = parseCommand(argv, { json: { type: 'boolean' } }, { min: 0, max: 0, names: '' });
    if (p.help) {
      console.log(`usage: tpusim workloads [--json]

Lists each built-in workload with its description and config defaults (a submit with no
--set gets these).`);
      return EXIT_OK;
    }
    const list = [...builtinWorkloads.values()].map((w) => {
      const d = w.configSchema.safeParse({});
      return { name: w.name, description: w.description, defaults: d.success ? (d.data as Record<string, unknown>) : {} };
    });
    if (p.bool('json')) {
      console.log(toJson(list));
      return EXIT_OK;
    }
    console.log(
      list
        .map((w) => {
          const defaults = Object.entries(w.defaults).map(([k, v]) => `    ${k} = ${toJson(v, 0)}`);
          return [`${w.name}`, `  ${w.description}`, '  config defaults:', ...defaults].join('\n');
        })
        .join('\n\n'),
    );
    return EXIT_OK;
  },
};
