/**
 * Runs the built CLI as real processes: `tpusim up` in the background, other commands to
 * completion. The CLI runs from dist/, so it is rebuilt first when a source is newer.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(root, 'dist', 'src', 'cli', 'main.js');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
}

/** Builds dist/ when the CLI is missing or older than a source (tsc still emits past type errors elsewhere). */
export function ensureCliBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newest(join(root, 'src'))) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmitOnError', 'false'], { cwd: root, stdio: 'ignore' });
  } catch {
    // exits non-zero on type errors in files being written; the JS is emitted all the same
  }
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function tpusim(args: readonly string[], timeoutMs = 60_000): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI without blocking the event loop (for commands that talk to a coordinator in this process). */
export function tpusimAsync(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tpusim ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

export interface UpSummary {
  readonly url: string;
  readonly token: string;
  readonly metrics: string;
  readonly recovered: { failed: string[]; requeued: string[]; dropped: string[] };
}

export interface UpProcess {
  readonly child: ChildProcess;
  readonly summary: UpSummary;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  exited(): Promise<number | null>;
}

/** Starts `tpusim up --json` on a free port and resolves once it serves. */
export function startUp(dataDir: string, extra: readonly string[] = []): Promise<UpProcess> {
  const child = spawn(process.execPath, [CLI, 'up', '--json', '--port', '0', '--hbm-mib', '16', '--data-dir', dataDir, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tpusim up did not come up; stderr: ${err}`));
    }, 60_000);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`tpusim up exited with ${code}; stderr: ${err}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      resolvePromise({ child, summary: JSON.parse(out.slice(0, nl)) as UpSummary, stderr: () => err, exited: () => exit });
    });
  });
}
