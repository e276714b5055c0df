#!/usr/bin/env node
/**
 * `npm start`: builds if the build is missing or older than the sources, runs `tpusim up`
 * with the default topology (v4-8), submits the demo job (knn: TPU-KNN search) and waits for its result,
 * then prints where to look and keeps the pod up until Ctrl-C.
 *
 *   npm start                 as above
 *   npm start -- --once       stop the pod after the demo job (for scripts and CI)
 *   npm start -- --port 0     any other flags go to `tpusim up`
 *
 * If a coordinator from the same data dir is already up, the demo job goes to it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function buildIfNeeded() {
  const stale = !existsSync(cli) || newestMtime(join(root, 'src')) > statSync(cli).mtimeMs;
  if (!stale) return;
  console.log('tpusim: building (npm run build) ...');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('tpusim: the build failed; see above');
    process.exit(r.status ?? 1);
  }
}

function argValue(args, flag) {
  const i = args.indexOf(flag);
  if (i >= 0) return args[i + 1];
  const eq = args.find((a) => a.startsWith(`${flag}=`));
  return eq?.slice(flag.length + 1);
}

function readInfo(dataDir) {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'coordinator.json'), 'utf8'));
  } catch {
    return undefined;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const args = process.argv.slice(2);
  const once = args.includes('--once');
  const upArgs = args.filter((a) => a !== '--once');
  const dataDir = resolve(argValue(upArgs, '--data-dir') ?? process.env.TPUSIM_DATA_DIR ?? join(homedir(), '.tpusim'));
  if (!argValue(upArgs, '--data-dir')) upArgs.push('--data-dir', dataDir);
  buildIfNeeded();

  let up;
  const existing = readInfo(dataDir);
  if (existing && alive(existing.pid)) {
    console.log(`tpusim: a coordinator is already up (pid ${existing.pid}) at ${existing.url}; submitting the demo job to it`);
  } else {
    up = spawn(process.execPath, [cli, 'up', ...upArgs], { stdio: 'inherit' });
    // Ctrl-C reaches the whole process group: the coordinator stops its jobs; we wait for it.
    process.on('SIGINT', () => {});
    process.on('SIGTERM', () => up.kill('SIGTERM'));
    const exited = new Promise((r) => up.once('exit', (code) => r(code ?? 1)));
    for (let i = 0; ; i++) {
      const info = readInfo(dataDir);
      if (info && info.pid === up.pid) break;
      const code = await Promise.race([exited, sleep(100).then(() => undefined)]);
      if (code !== undefined) {
        console.error(`tpusim: 'tpusim up' exited with ${code} before serving (is port ${argValue(upArgs, '--port') ?? 8470} in use?)`);
        process.exit(typeof code === 'number' ? code : 1);
      }
      if (i > 1200) {
        up.kill('SIGTERM');
        console.error('tpusim: the coordinator did not come up within 2 minutes');
        process.exit(1);
      }
    }
  }

  console.log(
    '\ntpusim: submitting the demo job: knn (TPU-KNN: brute-force search with approx top-k over a database sharded on every core;' +
      ' it reports recall against exact search and which unit bounds each step)',
  );
  const submit = spawnSync(process.execPath, [cli, 'submit', 'knn', '--name', 'demo', '--wait', '--logs', '--data-dir', dataDir], { stdio: 'inherit' });
  const info = readInfo(dataDir);
  const http = info ? `http://${info.host.includes(':') ? `[${info.host}]` : info.host}:${info.port}` : 'http://127.0.0.1:8470';
  const isDefaultDir = dataDir === resolve(process.env.TPUSIM_DATA_DIR ?? join(homedir(), '.tpusim'));
  const t = `node ${cli}${isDefaultDir ? '' : ` <command> ... --data-dir ${dataDir}`}`;
  console.log(`
where to look (tpusim = ${t}):
  live page    ${http}/   (paste the token when it asks)
  job API      ${info?.url ?? '(coordinator not found)'}   token in ${join(dataDir, 'token')}
  metrics      curl ${http}/metrics | grep ^tpusim_
  health       curl ${http}/healthz
  jobs         tpusim jobs            tpusim status <id>    tpusim result <id> [--json]
  logs         tpusim logs <id> [--follow]
  more jobs    tpusim submit transformer --wait      (the GSPMD paper's LM, 2D-sharded)
               tpusim submit matmul --set m=512 --set steps=10 --wait
               tpusim workloads       (each workload's config defaults)
  job store    ${join(dataDir, 'jobs.sqlite')}
${up ? (once ? '\nstopping the pod (--once) ...' : '\nthe pod stays up; Ctrl-C stops it.') : ''}`);

  if (!up) process.exit(submit.status ?? 1);
  if (once) up.kill('SIGTERM');
  const code = await new Promise((r) => (up.exitCode !== null ? r(up.exitCode) : up.once('exit', (c) => r(c ?? 0))));
  process.exit(submit.status !== 0 ? (submit.status ?? 1) : code);
}

await main();
