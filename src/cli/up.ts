/**
 * `tpusim up`: starts a coordinator in the foreground (the pod's actors, the job store, the
 * websocket API, /metrics and /healthz) and serves until SIGINT or SIGTERM, which STOP the
 * running and pending jobs, record them, and exit 0.
 */
import { Coordinator } from '../coordinator/coordinator.js';
import { builtinWorkloads } from '../workloads/registry.js';
import { intFlag, parseCommand } from './args.js';
import { DEFAULT_PORT, DEFAULT_TOPOLOGY, dataDirOf } from './endpoint.js';
import { EXIT_OK, UsageError, meshText, parseMesh } from './format.js';
import type { Command } from './main.js';

const HELP = `usage: tpusim up [options]

Starts a simulated TPU pod and its coordinator, in the foreground. Ctrl-C (SIGINT) or
SIGTERM stops it: the running job is STOPPED at its next step boundary, pending jobs are
STOPPED, and both are recorded in the job store.

options:
  --topology NAME    Cloud TPU topology, e.g. v4-8, v5litepod-4, v4:2x2x1 (default ${DEFAULT_TOPOLOGY})
  --mesh AXES        default mesh of jobs, e.g. data=4,model=2 (default data=<cores>)
  --hbm-mib N        HBM arena per core, MiB (default 256)
  --host HOST        address to bind (default 127.0.0.1; anything else exposes the API)
  --port N           port (default ${DEFAULT_PORT}; 0 picks a free one)
  --data-dir DIR     job store, token and checkpoints (default $TPUSIM_DATA_DIR or ~/.tpusim)
  --token TOKEN      API token (default: a new random one, written to DIR/token, mode 0600)
  --max-message-kib N  bound on one inbound websocket frame (default 1024)
  --grace-s N        on shutdown, seconds to wait for the running job's step boundary (default 10)
  --json             print the startup summary as one JSON line`;

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export const upCommand: Command = {
  name: 'up',
  summary: 'start a simulated pod and serve the job API',
  async run(argv) {
    const p = parseCommand(
      argv,
      {
        topology: { type: 'string' },
        mesh: { type: 'string' },
        'hbm-mib': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        'data-dir': { type: 'string' },
        token: { type: 'string' },
        'max-message-kib': { type: 'string' },
        'grace-s': { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 0, max: 0, names: '' },
    );
    if (p.help) {
      console.log(HELP);
      return EXIT_OK;
    }
    const token = p.str('token');
    if (token !== undefined && !/^[\x21-\x7e]{16,512}$/.test(token)) {
      throw new UsageError('--token: use 16 to 512 printable ASCII characters without spaces');
    }
    const dataDir = dataDirOf({ 'data-dir': p.str('data-dir') });
    const host = p.str('host') ?? '127.0.0.1';
    const mesh = p.str('mesh');
    const graceMs = intFlag('--grace-s', p.str('grace-s'), 10, true) * 1000;
    const coord = await Coordinator.start({
      registry: builtinWorkloads,
      dataDir,
      pod: {
        topology: p.str('topology') ?? DEFAULT_TOPOLOGY,
        ...(mesh ? { mesh: parseMesh(mesh) } : {}),
        hbmBytesPerCore: intFlag('--hbm-mib', p.str('hbm-mib'), 256) * 1024 * 1024,
      },
      host,
      port: intFlag('--port', p.str('port'), DEFAULT_PORT, true),
      maxMessageBytes: intFlag('--max-message-kib', p.str('max-message-kib'), 1024) * 1024,
      ...(token ? { token } : {}),
    });

    const info = coord.pod.info;
    const httpBase = `http://${coord.server.host.includes(':') ? `[${coord.server.host}]` : coord.server.host}:${coord.server.port}`;
    const summary = {
      topology: info.topology,
      cores: info.numCores,
      mesh: info.defaultMesh,
      url: coord.url,
      page: `${httpBase}/`,
      metrics: `${httpBase}/metrics`,
      dashboard: `${httpBase}/`,
      healthz: `${httpBase}/healthz`,
      dataDir,
      tokenFile: coord.tokenFile,
      recovered: coord.recovered,
    };
    if (p.bool('json')) {
      console.log(JSON.stringify({ ...summary, token: coord.token }));
    } else {
      console.log(`tpusim: pod ${info.topology} up: ${info.numCores} cores (${info.chip}), default mesh ${meshText(info.defaultMesh)}, ${info.hbmBytesPerCore / 1024 ** 2} MiB HBM per core`);
      console.log(`  live page ${httpBase}/`);
      console.log(`  job API   ${coord.url}`);
      console.log(`  metrics   ${summary.metrics}`);
      console.log(`  dashboard ${summary.dashboard}#token=${coord.token}`);
      console.log(`  health    ${summary.healthz}`);
      console.log(`  data dir  ${dataDir}`);
      console.log(`  token     ${coord.token}  (saved to ${coord.tokenFile}, mode 0600)`);
      const r = coord.recovered;
      if (r.failed.length) console.log(`  recovered: ${r.failed.length} job(s) that were RUNNING marked FAILED (coordinator restarted): ${r.failed.join(', ')}`);
      if (r.requeued.length) console.log(`  recovered: ${r.requeued.length} PENDING job(s) queued again`);
      if (r.dropped.length) console.log(`  recovered: ${r.dropped.length} PENDING job(s) could not be queued again and FAILED: ${r.dropped.join(', ')}`);
      if (!LOOPBACK.has(host)) console.log(`  warning: bound to ${host}: the API is reachable from other machines (token required)`);
      console.log(`  jobs run one at a time, in submission order. Ctrl-C stops the pod.`);
    }
    coord.pod.on?.('crash-loop', (e) => console.error(`tpusim: core ${e.coreId} is crash-looping: ${e.reason}`));

    await waitForSignal(async (signal) => {
      const running = coord.manager.runningJob();
      console.error(
        `tpusim: ${signal}: stopping${running ? ` (job ${running.id} stops at its next step boundary)` : ''}; ${coord.manager.pendingCount()} pending job(s) will be STOPPED`,
      );
      await coord.stop(graceMs);
      console.error(`tpusim: stopped; the jobs are recorded in ${coord.store.path}`);
    });
    return EXIT_OK;
  },
};

/** Resolves after `onSignal` ran for the first SIGINT/SIGTERM; a second one exits at once. */
function waitForSignal(onSignal: (signal: NodeJS.Signals) => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    let stopping = false;
    const handler = (signal: NodeJS.Signals) => {
      if (stopping) {
        console.error(`tpusim: ${signal} again: exiting without waiting`);
        process.exit(130);
      }
      stopping = true;
      onSignal(signal).then(resolve, reject);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
