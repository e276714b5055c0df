import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { DeviceFunctionRef, JobContext, WorkloadPlugin } from '../../src/coordinator/plugin.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

/** The actors load compiled JS: build dist/ if no build is there (`npm test` builds first). */
export function ensureBuilt(): void {
  if (existsSync(join(root, 'dist', 'src', 'worker', 'actor.js'))) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json', '--noEmitOnError', 'false'], { cwd: root, stdio: 'ignore' });
  } catch {
    // tsc exits non-zero on type errors elsewhere but still emits.
  }
}

export function fixture(name: string): DeviceFunctionRef {
  return { module: pathToFileURL(join(here, 'fixtures', 'device_functions.mjs')).href, name };
}

/** A test-only plugin whose run is the given function. */
export function scriptPlugin<R>(name: string, run: (ctx: JobContext) => Promise<R>): WorkloadPlugin<Record<string, never>, R> {
  return { name, description: `test script ${name}`, configSchema: z.object({}).strict(), run: (ctx) => run(ctx) };
}

export interface RecordedHooks {
  readonly signal: AbortSignal;
  readonly jobDir: string;
  readonly progress: { step: number; total: number; metrics: Record<string, number> }[];
  readonly logs: string[];
  onProgress(step: number, total: number, metrics: Record<string, number>): void;
  onLog(line: string): void;
}

export function hooks(signal: AbortSignal = new AbortController().signal, jobDir = mkdtempSync(join(tmpdir(), 'tpusim-job-'))): RecordedHooks {
  const progress: RecordedHooks['progress'] = [];
  const logs: string[] = [];
  return {
    signal,
    jobDir,
    progress,
    logs,
    onProgress: (step, total, metrics) => progress.push({ step, total, metrics }),
    onLog: (line) => logs.push(line),
  };
}

type PodEvent = 'actor-exit' | 'actor-restart' | 'crash-loop';
type Listener = (e: { coreId: number; reason: string }) => void;

/** Resolves with the next event of `event` for `coreId`. */
export function nextEvent(
  pod: { on(event: PodEvent, fn: Listener): void; off(event: PodEvent, fn: Listener): void },
  event: PodEvent,
  coreId: number,
): Promise<{ coreId: number; reason: string }> {
  return new Promise((resolve) => {
    const fn: Listener = (e) => {
      if (e.coreId !== coreId) return;
      pod.off(event, fn);
      resolve(e);
    };
    pod.on(event, fn);
  });
}
