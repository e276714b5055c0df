/**
 * Builds the per-core SPMD program: equations over local shapes, primitives and
 * collectives alike, plus the small local computations every rule needs (this core's tile
 * offset from axis_index, masks over the padding of uneven tiles).
 *
 * A builder can be forked into a scratch builder whose equations are thrown away: the
 * partitioner prices alternative plans (which operand of a dot to reshard) by emitting
 * each into a scratch builder and adding up the bytes its collectives move.
 */
import type { CollectiveName, CollectivePrimitiveParams } from '../../collectives/ops.js';
import { collectiveShapes, groupSize } from '../../collectives/ops.js';
import { type DType, itemsize } from '../../tpu/dtype.js';
import type { PrimitiveName, PrimitiveParams } from '../../tpu/ops.js';
import { inferShapes } from '../../tpu/primitives.js';
import { type AbstractValue, type TensorView, sizeOf, tensorFrom } from '../../tpu/tensor.js';
import { type Atom, type Const, type Equation, type Var, constAtom, newVar } from '../../program/ir.js';
import type { Mesh } from '../mesh.js';
import type { HloSharding } from '../sharding.js';
import { type DimAxes, axesSize, isUneven, tileSize } from './spec.js';

/** A value of the partitioned program: its local atom, and the global value it is a shard of. */
export type Sharded = SpecSharded | HloSharded;

/** Sharded over mesh axes (the form every rule works in). */
export interface SpecSharded {
  readonly kind: 'spec';
  readonly atom: Atom;
  readonly global: AbstractValue;
  readonly spec: DimAxes;
}

/** Sharded by a tile assignment that is not a product of mesh axes (only at the program's edges). */
export interface HloSharded {
  readonly kind: 'hlo';
  readonly atom: Atom;
  readonly global: AbstractValue;
  readonly sharding: HloSharding;
}

export function specSharded(atom: Atom, global: AbstractValue, spec: DimAxes): SpecSharded {
  return { kind: 'spec', atom, global, spec };
}

/** Bytes a collective moves per core, after the ring formulas (REFERENCES.md alpha-beta), without alpha. */
function collectiveBytes(op: CollectiveName, input: AbstractValue | undefined, output: AbstractValue, p: number): number {
  if (!input || p <= 1) return 0;
  const inBytes = sizeOf(input.shape) * itemsize(input.dtype);
  const outBytes = sizeOf(output.shape) * itemsize(output.dtype);
  switch (op) {
    case 'psum':
    case 'pmax':
    case 'pmin':
      return (2 * (p - 1) * inBytes) / p;
    case 'all_gather':
      return ((p - 1) * outBytes) / p;
    case 'psum_scatter':
    case 'all_to_all':
      return ((p - 1) * inBytes) / p;
    case 'ppermute':
      return inBytes;
    case 'axis_index':
      return 0;
  }
}

export class SpmdBuilder {
  readonly equations: Equation[] = [];
  private readonly axisIndexCache = new Map<string, Var>();
  /** Bytes moved per core by the collectives emitted so far (the plan's price). */
  commBytes = 0;

  constructor(readonly mesh: Mesh) {}

  /** A builder whose equations are discarded: for pricing a plan. */
  scratch(): SpmdBuilder {
    return new SpmdBuilder(this.mesh);
  }

  prim<N extends PrimitiveName>(op: N, inputs: readonly Atom[], params: PrimitiveParams[N]): Var[] {
    const outs = inferShapes(op, inputs.map((a) => a.aval), params).map(newVar);
    this.equations.push({ op, params, inputs: [...inputs], outputs: outs } as unknown as Equation);
    return outs;
  }

  prim1<N extends PrimitiveName>(op: N, inputs: readonly Atom[], params: PrimitiveParams[N]): Var {
    return this.prim(op, inputs, params)[0]!;
  }

  collective<N extends CollectiveName>(op: N, inputs: readonly Atom[], params: CollectivePrimitiveParams[N]): Var {
    const [aval] = collectiveShapes(op, inputs.map((a) => a.aval), params);
    const out = newVar(aval!);
    this.equations.push({ op, params, inputs: [...inputs], outputs: [out] } as unknown as Equation);
    this.commBytes += collectiveBytes(op, inputs[0]?.aval, aval!, groupSize(params));
    return out;
  }

  /** The axis parameters of a collective over `axes`. */
  axisParams(axes: readonly string[]): { axes: string[]; axisSizes: number[] } {
    return { axes: [...axes], axisSizes: axes.map((a) => this.mesh.axisSize(a)) };
  }

  scalar(dtype: DType, value: number): Const {
    return constAtom(tensorFrom(dtype, [], [value]));
  }

  constant(value: TensorView): Const {
    return constAtom(value);
  }

  /** This core's index over `axes` (row-major, major first), emitted once per builder. */
  axisIndex(axes: readonly string[]): Var {
    const key = axes.join('\0');
    let v = this.axisIndexCache.get(key);
    if (!v) {
      v = this.collective('axis_index', [], this.axisParams(axes));
      this.axisIndexCache.set(key, v);
    }
    return v;
  }

  /** The global index (i32 scalar) where this core's tile of a dim of `n` split over `axes` starts. */
  tileOffset(n: number, axes: readonly string[]): Atom {
    if (axes.length === 0) return this.scalar('i32', 0);
    return this.prim1('mul', [this.axisIndex(axes), this.scalar('i32', tileSize(this.mesh, n, axes))], {});
  }

  broadcastScalar(x: Atom, shape: readonly number[]): Atom {
    if (shape.length === 0) return x;
    return this.prim1('broadcast_in_dim', [x], { shape: [...shape], broadcastDimensions: [] });
  }

  convert(x: Atom, dtype: DType): Atom {
    return x.aval.dtype === dtype ? x : this.prim1('convert_element_type', [x], { newDtype: dtype });
  }

  /**
   * Bool mask of `localShape`: true where the element's global index along each of `dims`
   * (its local index plus `offset(d)`, an i32 scalar) lies in [low(d), high(d)).
   */
  globalRangeMask(
    localShape: readonly number[],
    dims: readonly number[],
    offset: (d: number) => Atom,
    low: (d: number) => number,
    high: (d: number) => number,
  ): Atom {
    let mask: Atom | undefined;
    for (const d of dims) {
      const iota = this.prim1('iota', [], { dtype: 'i32', shape: [...localShape], dimension: d });
      const g = this.prim1('add', [iota, this.broadcastScalar(offset(d), localShape)], {});
      const ge = this.prim1('ge', [g, this.broadcastScalar(this.scalar('i32', low(d)), localShape)], {});
      const lt = this.prim1('lt', [g, this.broadcastScalar(this.scalar('i32', high(d)), localShape)], {});
      const m = this.prim1('and', [ge, lt], {});
      mask = mask ? this.prim1('and', [mask, m], {}) : m;
    }
    if (!mask) throw new Error('globalRangeMask: no dims');
    return mask;
  }

  /**
   * `x` (a local tile of a `global` value sharded by `spec`) with the padding of uneven
   * tiles along `dims` replaced by `fill`: the reduction identity before a local reduce, zero
   * before a dot over the padded dim. Dims that split evenly need no mask.
   */
  maskPadding(x: Atom, global: AbstractValue, spec: DimAxes, dims: readonly number[], fill: number): Atom {
    const uneven = dims.filter((d) => spec[d]!.length > 0 && isUneven(this.mesh, global.shape[d]!, spec[d]!));
    if (uneven.length === 0) return x;
    const mask = this.globalRangeMask(
      x.aval.shape,
      uneven,
      (d) => this.tileOffset(global.shape[d]!, spec[d]!),
      () => 0,
      (d) => global.shape[d]!,
    );
    const f = this.broadcastScalar(this.scalar(x.aval.dtype, fill), x.aval.shape);
    return this.prim1('select', [mask, x, f], {});
  }

  /** The padded size of a dim of `n` split over `axes`: tiles times tile size. */
  paddedSize(n: number, axes: readonly string[]): number {
    return axesSize(this.mesh, axes) * tileSize(this.mesh, n, axes);
  }
}

/** The identity of a reduction, as a number of `dtype` (the fill for padding before a local reduce). */
export function reductionIdentity(kind: 'sum' | 'prod' | 'max' | 'min' | 'and' | 'or', dtype: DType): number {
  switch (kind) {
    case 'sum':
    case 'or':
      return 0;
    case 'prod':
    case 'and':
      return 1;
    case 'max':
      return dtype === 'i32' ? -2147483648 : dtype === 'bool' ? 0 : -Infinity;
    case 'min':
      return dtype === 'i32' ? 2147483647 : dtype === 'bool' ? 1 : Infinity;
  }
}
