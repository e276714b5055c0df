/**
 * The dump of a partitioned program, one op a line with its local shape, as XLA prints the
 * module after SPMD partitioning: parameters and the values that stand for values of the
 * original program carry `sharding={...}` and their global shape; collectives show their
 * mesh axes. For one core, axis_index lines also show the index that core reads.
 */
import { dumpProgram } from '../../program/dump.js';
import { axisGroup } from '../../collectives/mesh.js';
import { shapeToString } from '../../tpu/tensor.js';
import type { PartitionedProgram } from './partition.js';

export interface PartitionedDumpOptions {
  /** The computation's name on the ENTRY line (default "main"). */
  readonly name?: string;
  /** Print for this core: its mesh coordinates and its axis_index values. */
  readonly core?: number;
}

export function dumpPartitioned(p: PartitionedProgram, opts: PartitionedDumpOptions = {}): string {
  const { program, mesh } = p;
  const lines = dumpProgram(program, { name: opts.name ?? 'main' }).split('\n');
  const annotate = (id: number): string => {
    const s = p.valueShardings.get(id);
    return s ? `, sharding=${s.sharding.toString()}, global=${shapeToString(s.global)}` : '';
  };
  program.inputs.forEach((v, i) => (lines[1 + i] += annotate(v.id)));
  program.equations.forEach((eq, i) => {
    const line = 1 + program.inputs.length + i;
    lines[line] += annotate(eq.outputs[0]!.id);
    if (eq.op === 'axis_index' && opts.core !== undefined) {
      const axes = (eq.params as { axes: readonly string[] }).axes;
      lines[line] += ` /* = ${axisGroup(mesh, axes, opts.core).rank} on core ${opts.core} */`;
    }
  });
  const meshText = mesh.axisNames.map((a, i) => `${a}=${mesh.shape[i]}`).join(', ');
  const header = [`// SPMD program over mesh (${meshText}): every one of its ${mesh.size} cores runs this program on local shapes`];
  if (opts.core !== undefined) {
    const coords = mesh.coords(opts.core);
    header.push(`// core ${opts.core}: ${mesh.axisNames.map((a, i) => `${a}=${coords[i]}`).join(', ')}`);
  }
  return [...header, ...lines].join('\n');
}
