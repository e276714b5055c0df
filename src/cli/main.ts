#!/usr/bin/env node
/**
 * The tpusim command line: a small dispatcher. Each command parses its own flags
 * (node:util parseArgs), has --help, and returns an exit code: 0 ok, 1 a job failed (or
 * the command could not do its work), 2 usage. Add a command by adding an entry.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { estimateCommand } from './estimate.js';
import { EXIT_JOB_FAILED, EXIT_USAGE, UsageError } from './format.js';
import { cancelCommand, jobsCommand, logsCommand, resultCommand, statusCommand, workloadsCommand } from './jobs.js';
import { programCommand } from './program.js';
import { submitCommand } from './submit.js';
import { upCommand } from './up.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: readonly string[]): Promise<number> | number;
}

export const COMMANDS: readonly Command[] = [
  upCommand,
  submitCommand,
  jobsCommand,
  statusCommand,
  logsCommand,
  programCommand,
  resultCommand,
  cancelCommand,
  workloadsCommand,
  demoCommand,
  estimateCommand,
  benchCommand,
];

/** node:util parseArgs failures (unknown flag, missing value) are usage errors too. */
function isUsageError(e: unknown): boolean {
  if (e instanceof UsageError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: tpusim <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "run 'tpusim <command> --help' for a command's options",
  ].join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`tpusim: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (isUsageError(e)) {
      console.error(`tpusim ${name}: ${message}\nrun 'tpusim ${name} --help' for its options`);
      return EXIT_USAGE;
    }
    console.error(`tpusim ${name}: ${message}`);
    return EXIT_JOB_FAILED;
  }
}

/** True when this file is the process entry point (also through npm's bin symlink). */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
