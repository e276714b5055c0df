/**
 * Argument parsing shared by the commands: node:util parseArgs (strict), `--help` on every
 * command, and parse failures turned into UsageError (exit 2).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './format.js';

export type Options = NonNullable<ParseArgsConfig['options']>;
type Value = string | boolean | (string | boolean)[] | undefined;

export class Parsed {
  constructor(
    private readonly values: Record<string, Value>,
    readonly positionals: string[],
  ) {}
  /** True when --help was given: the caller prints its help and returns 0. */
  get help(): boolean {
    return this.values.help === true;
  }
  str(name: string): string | undefined {
    const v = this.values[name];
    return typeof v === 'string' ? v : undefined;
  }
  bool(name: string): boolean {
    return this.values[name] === true;
  }
  strs(name: string): string[] {
    const v = this.values[name];
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
  }
}

export function parseCommand(argv: readonly string[], options: Options, positionals: { min: number; max: number; names: string }): Parsed {
  let parsed: { values: Record<string, Value>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const p = new Parsed(parsed.values, parsed.positionals);
  if (!p.help) {
    const n = p.positionals.length;
    if (n < positionals.min) throw new UsageError(`missing ${positionals.names}`);
    if (n > positionals.max) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[positionals.max])}`);
  }
  return p;
}

/** A flag's value as a positive integer (or >= 0 when `allowZero`). */
export function intFlag(flag: string, text: string | undefined, fallback: number, allowZero = false): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(n) || n < (allowZero ? 0 : 1)) {
    throw new UsageError(`${flag}: expected a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(text)}`);
  }
  return n;
}
