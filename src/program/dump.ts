/**
 * A readable text form of a Program in the manner of an XLA HLO dump: one op a line with
 * its result shape, operands and parameters.
 *
 *   ENTRY mlp {
 *     %0 = f32[8,4] parameter(0)
 *     %2 = f32[8,16] dot_general(%0, %1), contracting_dims={[1],[0]}, batch_dims={[],[]}
 *     %3 = f32[8,16] add(%2, f32[] 0.5)
 *     ROOT %4 = (f32[8,16]) tuple(%3)
 *   }
 *
 * Variables are renumbered in order of definition (not by their process-wide ids), so the
 * same program always prints the same text. Constants of up to INLINE_CONST_ELEMENTS
 * elements are printed inline with their values; larger ones as `constant(f32[1024,64])`.
 */
import { type DType, roundToBf16 } from '../tpu/dtype.js';
import { type AbstractValue, shapeToString, toNumbers } from '../tpu/tensor.js';
import type { Atom, Const, Program } from './ir.js';

export const INLINE_CONST_ELEMENTS = 8;

/** The shortest decimal that reads back as the same value of `dtype`. */
export function formatNumber(x: number, dtype: DType): string {
  if (dtype === 'bool') return x !== 0 ? 'true' : 'false';
  if (dtype === 'i32') return String(x);
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const round = dtype === 'bf16' ? roundToBf16 : Math.fround;
  for (let p = 1; p <= 17; p++) {
    const s = Number(x.toPrecision(p));
    if (round(s) === x) return String(s);
  }
  return String(x);
}

function formatConst(c: Const): string {
  const n = c.value.data.length;
  if (n > INLINE_CONST_ELEMENTS) return `constant(${shapeToString(c.aval)})`;
  const values = Array.from(toNumbers(c.value), (x) => formatNumber(x, c.aval.dtype));
  return c.aval.shape.length === 0 ? `${shapeToString(c.aval)} ${values[0]}` : `${shapeToString(c.aval)} {${values.join(', ')}}`;
}

const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** HLO-style attribute values: [1,2] for a list of numbers or names, {a,b} for a list of lists, {k=v} for records. */
function formatParam(v: unknown): string {
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'number' || typeof x === 'string')) return `[${v.join(',')}]`;
    return `{${v.map(formatParam).join(',')}}`;
  }
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${snakeCase(k)}=${formatParam(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

function formatParams(params: object): string {
  return Object.entries(params)
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => `, ${snakeCase(k)}=${formatParam(x)}`)
    .join('');
}

function tupleShape(avals: readonly AbstractValue[]): string {
  return `(${avals.map(shapeToString).join(', ')})`;
}

export interface DumpOptions {
  /** The computation's name on the ENTRY line (default "main"). */
  readonly name?: string;
}

export function dumpProgram(program: Program, opts: DumpOptions = {}): string {
  const names = new Map<number, string>();
  let next = 0;
  const define = (id: number): string => {
    const name = `%${next++}`;
    names.set(id, name);
    return name;
  };
  const ref = (a: Atom): string => {
    if (a.kind === 'const') return formatConst(a);
    const name = names.get(a.id);
    if (!name) throw new Error(`dumpProgram: variable ${a.id} used before it is defined`);
    return name;
  };
  const lines = [`ENTRY ${opts.name ?? 'main'} {`];
  program.inputs.forEach((v, i) => lines.push(`  ${define(v.id)} = ${shapeToString(v.aval)} parameter(${i})`));
  for (const eq of program.equations) {
    const args = eq.inputs.map(ref).join(', ');
    const outs = eq.outputs.map((v) => define(v.id));
    const shape = eq.outputs.length === 1 ? shapeToString(eq.outputs[0]!.aval) : tupleShape(eq.outputs.map((v) => v.aval));
    lines.push(`  ${outs.join(', ')} = ${shape} ${eq.op}(${args})${formatParams(eq.params)}`);
  }
  const root = `%${next}`;
  lines.push(`  ROOT ${root} = ${tupleShape(program.outputs.map((a) => a.aval))} tuple(${program.outputs.map(ref).join(', ')})`);
  lines.push('}');
  return lines.join('\n');
}
