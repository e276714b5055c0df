/**
 * Prices the equations of a per-core SPMD program without running them: primitives by the
 * cost model's rule and opTime (the very functions TensorCore.execute calls, so estimate
 * and execution price an op identically), collectives by layer 2's alpha-beta price for
 * each group on the full interconnect (what the lockstep interpreter and the communicator
 * charge). Each distinct signature (op, operand shapes and dtypes, params) is priced once:
 * a program of 64 identical layers has a few hundred distinct equations.
 */
import type { Interconnect } from '../../collectives/interconnect.js';
import { type DeviceMesh, axisGroups } from '../../collectives/mesh.js';
import { type CollectiveName, type CollectivePrimitiveParams, layer2Call } from '../../collectives/ops.js';
import { priceCollective } from '../../collectives/plan.js';
import type { Equation } from '../../program/ir.js';
import { isCollectiveEquation } from '../../program/ir.js';
import type { ChipSpec } from '../../tpu/chips.js';
import { type OpCost, type OpTime, bytesOf, opCost, opTime } from '../../tpu/cost/index.js';
import type { PrimitiveName, PrimitiveParams } from '../../tpu/ops.js';
import { type AbstractValue, shapeToString } from '../../tpu/tensor.js';

export interface PricedPrimitive {
  readonly kind: 'primitive';
  readonly cost: OpCost;
  readonly time: OpTime;
}

export interface PricedCollective {
  readonly kind: 'collective';
  /** Seconds per group, in the order of `groups` (mesh positions of the members). */
  readonly groupSeconds: Float64Array;
  /** The groups: members as mesh positions (indices into mesh.devices). */
  readonly groups: readonly Int32Array[];
  /** The slowest group's seconds. */
  readonly maxSeconds: number;
  /** Bytes of one core's operand. */
  readonly bytes: number;
}

export type Priced = PricedPrimitive | PricedCollective;

function avalKey(a: AbstractValue): string {
  return shapeToString(a);
}

/** The signature an equation is priced by: op, params, operand and result shapes. */
export function equationSignature(eq: Equation): string {
  return `${eq.op}|${JSON.stringify(eq.params)}|${eq.inputs.map((a) => avalKey(a.aval)).join(',')}|${eq.outputs.map((v) => avalKey(v.aval)).join(',')}`;
}

/** Prices equations on one chip and interconnect, remembering each signature. */
export class PriceBook {
  private readonly memo = new Map<string, Priced>();
  private readonly groupsByAxes = new Map<string, Int32Array[]>();
  private readonly position: Map<number, number>;

  constructor(
    readonly chip: ChipSpec,
    readonly interconnect: Interconnect,
    readonly mesh: DeviceMesh,
  ) {
    this.position = new Map(mesh.devices.map((d, i) => [d, i]));
  }

  /** Distinct signatures priced so far. */
  get distinctSignatures(): number {
    return this.memo.size;
  }

  price(eq: Equation, signature = equationSignature(eq)): Priced {
    const hit = this.memo.get(signature);
    if (hit) return hit;
    const priced = isCollectiveEquation(eq) ? this.priceCollective(eq) : this.pricePrimitive(eq);
    this.memo.set(signature, priced);
    return priced;
  }

  private pricePrimitive(eq: Equation): PricedPrimitive {
    const op = eq.op as PrimitiveName;
    const cost = opCost(
      op,
      eq.inputs.map((a) => a.aval),
      eq.outputs.map((v) => v.aval),
      eq.params as PrimitiveParams[typeof op],
      this.chip,
    );
    return { kind: 'primitive', cost, time: opTime(cost, this.chip) };
  }

  /** The groups of `axes` as mesh positions. */
  groups(axes: readonly string[]): Int32Array[] {
    const key = axes.join('\u0000');
    let g = this.groupsByAxes.get(key);
    if (!g) {
      g = axisGroups(this.mesh, axes).map((members) => Int32Array.from(members, (m) => this.position.get(m)!));
      this.groupsByAxes.set(key, g);
    }
    return g;
  }

  private priceCollective(eq: Equation<CollectiveName>): PricedCollective {
    const groups = this.groups(eq.params.axes);
    const call = layer2Call(eq.op, eq.params as CollectivePrimitiveParams[typeof eq.op]);
    const x = eq.inputs[0]?.aval;
    const groupSeconds = new Float64Array(groups.length);
    let maxSeconds = 0;
    if (call && x) {
      groups.forEach((g, i) => {
        const members = Array.from(g, (p) => this.mesh.devices[p]!);
        const s = priceCollective(call, x.shape, x.dtype, members, this.interconnect).cost.seconds;
        groupSeconds[i] = s;
        if (s > maxSeconds) maxSeconds = s;
      });
    }
    return { kind: 'collective', groupSeconds, groups, maxSeconds, bytes: x ? bytesOf(x) : 0 };
  }
}
