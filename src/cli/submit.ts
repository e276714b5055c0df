/**
 * `tpusim submit <workload>`: sends a job over the websocket API; with --wait, shows a
 * progress bar until it ends and prints its result. Exit 0 when it was accepted (or, with
 * --wait, SUCCEEDED), 1 when it was rejected or FAILED or STOPPED, 2 on bad arguments.
 */
import { readFileSync } from 'node:fs';
import type { JobClient, JobEventMessage, JobOutcome } from '../coordinator/client.js';
import { JobApiError } from '../coordinator/client.js';
import { parseCommand } from './args.js';
import { ENDPOINT_HELP, connectClient, endpointOptions } from './endpoint.js';
import { EXIT_JOB_FAILED, EXIT_OK, UsageError, applySets, formatNumber, parseMesh, progressBar, resultText, toJson } from './format.js';
import type { Command } from './main.js';

const HELP = `usage: tpusim submit <workload> [options]

Submits a job to the running coordinator ('tpusim workloads' lists the workloads and their
config defaults; omitted fields take the defaults).

options:
  --set KEY=VALUE  set a config field (repeatable); VALUE is JSON when it parses, else a string
  --config FILE    config fields from a JSON file (--set applies on top)
  --mesh AXES      the job's mesh, e.g. data=4,model=2 (default: the pod's)
  --name NAME      a name for the job
  --wait           follow the job: progress bar, log lines (--logs), then the result
  --logs           with --wait, print the job's log lines as they come
  --json           print JSON: {jobId, state} (with --wait: {jobId, state, result, error})
${ENDPOINT_HELP}

exit codes: 0 accepted (with --wait: SUCCEEDED), 1 rejected, FAILED or STOPPED, 2 usage`;

export const submitCommand: Command = {
  name: 'submit',
  summary: 'submit a job (--wait to follow it to its result)',
  async run(argv) {
    const p = parseCommand(
      argv,
      {
        set: { type: 'string', multiple: true },
        config: { type: 'string' },
        mesh: { type: 'string' },
        name: { type: 'string' },
        wait: { type: 'boolean' },
        logs: { type: 'boolean' },
        json: { type: 'boolean' },
        ...endpointOptions,
      },
      { min: 1, max: 1, names: '<workload>' },
    );
    if (p.help) {
      console.log(HELP);
      return EXIT_OK;
    }
    const workload = p.positionals[0]!;
    let config: Record<string, unknown> = {};
    const file = p.str('config');
    if (file) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new UsageError(`--config ${file}: ${(e as Error).message}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--config ${file}: expected a JSON object`);
      config = parsed as Record<string, unknown>;
    }
    applySets(config, p.strs('set'));
    const mesh = p.str('mesh');
    const name = p.str('name');
    const json = p.bool('json');

    const client = await connectClient({ 'data-dir': p.str('data-dir'), url: p.str('url'), token: p.str('token') });
    try {
      let accepted: { jobId: string };
      try {
        accepted = await client.submit({ workload, config, ...(mesh ? { mesh: parseMesh(mesh) } : {}), ...(name ? { name } : {}), subscribe: p.bool('wait') });
      } catch (e) {
        if (!(e instanceof JobApiError)) throw e;
        if (json) console.log(toJson({ rejected: { code: e.code, message: e.message, field: e.field ?? null } }, 0));
        else console.error(`tpusim submit: rejected: ${e.code}: ${e.message}`);
        return EXIT_JOB_FAILED;
      }
      if (!p.bool('wait')) {
        if (json) console.log(toJson({ jobId: accepted.jobId, state: 'PENDING' }, 0));
        else console.log(`${accepted.jobId}\tPENDING\t(follow it: tpusim logs ${accepted.jobId} --follow; its result: tpusim result ${accepted.jobId})`);
        return EXIT_OK;
      }
      if (!json) console.error(`tpusim: job ${accepted.jobId} submitted (${workload})`);
      const outcome = await follow(client, accepted.jobId, { json, logs: p.bool('logs') });
      if (json) {
        console.log(toJson({ jobId: outcome.jobId, state: outcome.state, result: outcome.result ?? null, error: outcome.error ?? null }));
      } else {
        console.log(`job ${outcome.jobId} ${outcome.state}`);
        if (outcome.error) console.log(`error: ${outcome.error.code}: ${outcome.error.message}`);
        if (outcome.state === 'SUCCEEDED') console.log(resultText(outcome.result));
      }
      return outcome.state === 'SUCCEEDED' ? EXIT_OK : EXIT_JOB_FAILED;
    } finally {
      await client.close();
    }
  },
};

/** Follows a job to its end, drawing a progress bar on stderr (a line per step when not a terminal). */
export async function follow(client: JobClient, jobId: string, opts: { json: boolean; logs: boolean }): Promise<JobOutcome> {
  const tty = process.stderr.isTTY === true && !opts.json;
  let drawn = false;
  let lastLine = '';
  const clear = () => {
    if (tty && drawn) process.stderr.write('\r\x1b[2K');
    drawn = false;
  };
  const onEvent = (e: JobEventMessage) => {
    if (opts.json) return;
    if (e.type === 'log' && opts.logs) {
      clear();
      process.stderr.write(`${e.line}\n`);
      if (lastLine) draw(lastLine);
    } else if (e.type === 'state' && e.state === 'RUNNING') {
      clear();
      process.stderr.write(`tpusim: job ${jobId} RUNNING\n`);
    } else if (e.type === 'progress') {
      const metrics = Object.entries(e.metrics)
        .slice(0, 4)
        .map(([k, v]) => `${k}=${formatNumber(v)}`)
        .join(' ');
      lastLine = `${progressBar(e.step, e.total)} ${metrics}`;
      draw(lastLine);
    }
  };
  const draw = (line: string) => {
    if (tty) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
      drawn = true;
    } else {
      process.stderr.write(`${line}\n`);
    }
  };
  try {
    return await client.waitForEnd(jobId, onEvent);
  } finally {
    clear();
  }
}
