/**
 * Element-wise ops (XLA's HandleElementwise): every operand of the output's shape is
 * resharded to the output's sharding and the op runs on the local tiles. Scalar operands
 * (clamp bounds, threefry keys) are replicated and pass as they are. Padding of uneven
 * tiles flows through unchanged; the ops that could let it leak mask it (reductions, dots).
 */
import { BINARY_OPS, COMPARE_OPS, type PrimitiveName, UNARY_OPS } from '../../../tpu/ops.js';
import { type SpecSharded, specSharded } from '../builder.js';
import { reshardToSpec } from '../reshard.js';
import type { PartitionRule, PartitionRules } from './types.js';

export const elementwiseRule: PartitionRule = (b, eq, operands, outSpecs) => {
  const out = outSpecs[0]!;
  const inputs = operands.map((x) => reshardToSpec(b, x, x.global.shape.length === 0 ? [] : out).atom);
  const outs = b.prim(eq.op as PrimitiveName, inputs, eq.params as never);
  return outs.map((v, i): SpecSharded => specSharded(v, eq.outputs[i]!.aval, out));
};

export const ELEMENTWISE_OP_NAMES = [
  ...UNARY_OPS,
  ...BINARY_OPS,
  ...COMPARE_OPS,
  'integer_pow',
  'select',
  'clamp',
  'convert_element_type',
  'bitcast_convert_type',
  'threefry2x32',
] as const;

type ElementwiseName = (typeof ELEMENTWISE_OP_NAMES)[number];

export const ELEMENTWISE_RULES = Object.fromEntries(ELEMENTWISE_OP_NAMES.map((n) => [n, elementwiseRule])) as PartitionRules<ElementwiseName>;
