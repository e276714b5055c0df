/**
 * The program dump with the chosen shardings: each parameter and equation line of
 * src/program/dump.ts gets `, sharding={...}` as XLA prints it (a tuple `{{...}, {...}}`
 * for several outputs), so propagation's result can be read next to the ops.
 */
import { type DumpOptions, dumpProgram } from '../program/dump.js';
import type { Program } from '../program/ir.js';
import type { PropagationResult } from './propagation.js';

export function dumpShardedProgram(program: Program, result: PropagationResult, opts: DumpOptions = {}): string {
  const lines = dumpProgram(program, opts).split('\n');
  // Line 0 is ENTRY; then one line per input, one per equation, then ROOT and the brace.
  const annotations = [
    ...program.inputs.map((v) => result.shardingOf(v).toString()),
    ...program.equations.map((eq) => {
      const ss = eq.outputs.map((v) => result.shardingOf(v).toString());
      return ss.length === 1 ? ss[0]! : `{${ss.join(', ')}}`;
    }),
  ];
  annotations.forEach((s, i) => {
    lines[i + 1] = `${lines[i + 1]}, sharding=${s}`;
  });
  return lines.join('\n');
}
