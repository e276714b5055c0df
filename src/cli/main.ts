#!/usr/bin/env node
/**
 * The tpusim command line: a small dispatcher. Each command parses its own flags
 * (node:util parseArgs) and returns an exit code; add a command by adding an entry.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { demoCommand } from './demo.js';

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(argv: readonly string[]): Promise<number> | number;
}

export const COMMANDS: readonly Command[] = [demoCommand];

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
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`tpusim: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    console.error(`tpusim ${name}: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
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
