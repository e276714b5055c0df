/**
 * The contract of a partition rule: one per primitive (table.ts), as XLA's
 * SpmdPartitioningVisitor has one Handle* method per opcode.
 *
 * A rule gets the equation's operands as sharded values and the sharding each output
 * should end with, and emits the local computation (with whatever resharding and
 * collectives it needs) into the builder. It returns each output sharded the way it came
 * out; the partitioner reshards it to the wanted sharding afterwards, so a rule may return
 * a cheaper or simpler sharding than asked for and stay correct.
 */
import type { Equation } from '../../../program/ir.js';
import type { PrimitiveName } from '../../../tpu/ops.js';
import type { Sharded, SpecSharded, SpmdBuilder } from '../builder.js';
import type { DimAxes } from '../spec.js';

export type PartitionRule<N extends PrimitiveName = PrimitiveName> = (
  b: SpmdBuilder,
  eq: Equation<N>,
  operands: readonly Sharded[],
  outSpecs: readonly DimAxes[],
) => SpecSharded[];

export type PartitionRules<N extends PrimitiveName> = { readonly [K in N]: PartitionRule<K> };
