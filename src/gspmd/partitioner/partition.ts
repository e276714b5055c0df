/**
 * The SPMD partitioner (GSPMD §3.3; XLA's spmd_partitioner.cc): from a program whose every
 * value has a sharding (after propagation), ONE per-core program that every core runs, on
 * local shapes, with the collectives written out. Where a core's data sits is computed in
 * the program from axis_index (as XLA computes it from partition-id), so the same program
 * serves every core.
 *
 * Each equation goes through its primitive's partition rule (table.ts), then each result
 * is resharded to the sharding propagation chose for it; the program's outputs are
 * resharded to the requested output shardings.
 */
import type { AbstractValue } from '../../tpu/tensor.js';
import { type Atom, type Program, type Var, isCollectiveEquation, newVar } from '../../program/ir.js';
import type { PrimitiveName } from '../../tpu/ops.js';
import { ShardingError } from '../errors.js';
import type { Mesh } from '../mesh.js';
import { HloSharding } from '../sharding.js';
import type { SpmdProgram } from '../spmd_program.js';
import { type Sharded, SpmdBuilder, specSharded } from './builder.js';
import { reshardToHlo } from './reshard.js';
import { hloToSpec, replicatedAxes, specToHlo } from './spec.js';
import { PARTITION_RULES } from './table.js';
import type { PartitionRule } from './rules/types.js';

/** A partitioned program: the per-core program plus the shardings of its values. */
export interface PartitionedProgram extends SpmdProgram {
  /** For the per-core values that stand for a value of the original program: its global shape and sharding. */
  readonly valueShardings: ReadonlyMap<number, { readonly global: AbstractValue; readonly sharding: HloSharding }>;
}

export type ShardingLookup = ReadonlyMap<number, HloSharding> | ((v: Var) => HloSharding | undefined);

export interface PartitionOptions {
  /** Shardings of the program's outputs (default: each output value's own sharding). */
  readonly outShardings?: readonly (HloSharding | undefined)[];
}

function lookup(shardings: ShardingLookup, v: Var): HloSharding {
  const s = typeof shardings === 'function' ? shardings(v) : shardings.get(v.id);
  return s ?? HloSharding.replicate();
}

function sharded(mesh: Mesh, atom: Atom, global: AbstractValue, sharding: HloSharding): Sharded {
  const spec = hloToSpec(mesh, sharding, global.shape.length);
  return spec ? specSharded(atom, global, spec) : { kind: 'hlo', atom, global, sharding };
}

function hloOf(mesh: Mesh, x: Sharded): HloSharding {
  return x.kind === 'hlo' ? x.sharding : specToHlo(mesh, x.spec);
}

/**
 * Partitions `program` over `mesh`. `shardings` gives each variable's sharding (values
 * without one are replicated); program inputs arrive as their shards under theirs.
 */
export function partition(program: Program, shardings: ShardingLookup, mesh: Mesh, opts: PartitionOptions = {}): PartitionedProgram {
  const b = new SpmdBuilder(mesh);
  const env = new Map<number, Sharded>();
  const valueShardings = new Map<number, { global: AbstractValue; sharding: HloSharding }>();
  const record = (x: Sharded): void => {
    if (x.atom.kind === 'var') valueShardings.set(x.atom.id, { global: x.global, sharding: hloOf(mesh, x) });
  };

  const inShardings = program.inputs.map((v) => {
    const s = lookup(shardings, v);
    if (s.isManual) throw new ShardingError(`input %${v.id}: a manual sharding is for shard_map bodies, not automatic partitioning`);
    return s;
  });
  const inputs = program.inputs.map((v, i) => {
    const s = inShardings[i]!;
    const local = newVar({ shape: s.isTiled ? s.tileShape(v.aval.shape) : v.aval.shape, dtype: v.aval.dtype });
    const x = sharded(mesh, local, v.aval, s);
    env.set(v.id, x);
    record(x);
    return local;
  });

  const read = (a: Atom): Sharded => {
    if (a.kind === 'const') return specSharded(a, a.aval, replicatedAxes(a.aval.shape.length));
    const x = env.get(a.id);
    if (!x) throw new ShardingError(`partition: variable %${a.id} is used before it is defined`);
    return x;
  };

  for (const eq of program.equations) {
    if (isCollectiveEquation(eq)) {
      throw new ShardingError(`partition: ${eq.op} is a per-core collective; the program to partition must be a global (unpartitioned) program`);
    }
    const operands = eq.inputs.map(read);
    const targets = eq.outputs.map((v) => lookup(shardings, v));
    const targetSpecs = eq.outputs.map((v, i) => hloToSpec(mesh, targets[i]!, v.aval.shape.length) ?? replicatedAxes(v.aval.shape.length));
    const rule = PARTITION_RULES[eq.op as PrimitiveName] as PartitionRule;
    const results = rule(b, eq as Parameters<PartitionRule>[1], operands, targetSpecs);
    eq.outputs.forEach((v, i) => {
      const x = reshardToHlo(b, results[i]!, targets[i]!);
      env.set(v.id, x);
      record(x);
    });
  }

  const outShardings: HloSharding[] = [];
  const outputs = program.outputs.map((a, i) => {
    const want = opts.outShardings?.[i] ?? (a.kind === 'var' ? lookup(shardings, a) : HloSharding.replicate());
    const x = reshardToHlo(b, read(a), want);
    outShardings.push(want);
    record(x);
    return x.atom;
  });

  return {
    program: { inputs, equations: b.equations, outputs },
    mesh,
    inShardings,
    outShardings,
    globalInAvals: program.inputs.map((v) => v.aval),
    globalOutAvals: program.outputs.map((a) => a.aval),
    valueShardings,
  };
}
