/**
 * Layer 4's partition-rule table: one rule per primitive (test/gspmd/partitioner checks it
 * covers PRIMITIVES). Ops without a dedicated rule compute on replicated operands, which
 * is always correct; the rules listed in GSPMD's paper are the efficient ones.
 */
import type { PrimitiveName } from '../../tpu/ops.js';
import { replicateRule } from './rules/common.js';
import { dotGeneralRule } from './rules/dot.js';
import { ELEMENTWISE_RULES } from './rules/elementwise.js';
import { LAYOUT_RULES } from './rules/layout.js';
import { REDUCE_RULES } from './rules/reduce.js';
import { SORT_RULES } from './rules/sort.js';
import { WINDOW_RULES } from './rules/window.js';
import { GATHER_RULES } from './rules/gather.js';
import type { PartitionRules } from './rules/types.js';

export const PARTITION_RULES: PartitionRules<PrimitiveName> = {
  ...ELEMENTWISE_RULES,
  ...LAYOUT_RULES,
  ...REDUCE_RULES,
  ...WINDOW_RULES,
  ...SORT_RULES,
  ...GATHER_RULES,
  dot_general: dotGeneralRule,
  // Scatter-add writes anywhere in its operand: computed whole, then sliced.
  scatter_add: replicateRule,
};
