/**
 * A per-core SPMD program with what it takes to run it on a mesh: the program on local
 * (per-shard) shapes, explicit collectives included, and how its inputs and outputs map to
 * global values. shard_map produces one; so does the SPMD partitioner.
 */
import type { Program } from '../program/ir.js';
import type { AbstractValue } from '../tpu/tensor.js';
import type { Mesh } from './mesh.js';
import type { HloSharding } from './sharding.js';

export interface SpmdProgram {
  /** The per-core program: every core runs it on its own shards. */
  readonly program: Program;
  readonly mesh: Mesh;
  /** How each global input is split into the per-core inputs. */
  readonly inShardings: readonly HloSharding[];
  /** How the per-core outputs make up each global output. */
  readonly outShardings: readonly HloSharding[];
  readonly globalInAvals: readonly AbstractValue[];
  readonly globalOutAvals: readonly AbstractValue[];
}
