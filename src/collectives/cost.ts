/**
 * Alpha-beta prices of the collectives over ICI (REFERENCES.md, "Cost model"), pure
 * functions of the algorithm's phases, so estimate mode can price a 2048-core pod without
 * running a thread.
 *
 * One ring step costs alpha (latency of the step's longest edge) plus its bytes over the
 * link's one-way bandwidth B:
 * - ring reduce-scatter or all-gather of n bytes: (p-1)α + (p-1)/p · n/B;
 * - ring all-reduce: twice that, 2(p-1)α + 2(p-1)/p · n/B;
 * - by-dimension torus (X×Y...): each dim in turn on what is left, which sums to
 *   2(X+Y-2)α + 2(p-1)/p · n/B for an all-reduce;
 * - a bidirectional ring sends half each way: the bandwidth term halves;
 * - without wraparound a ring costs about twice as much (REFERENCES.md): it cannot be
 *   bidirectional, and its latency term doubles (a ring of 2 has no wraparound to lose).
 * All-to-all and collective-permute price the routed traffic (dimension-ordered routes,
 * shortest way round a wrapping dim): latency of the longest route plus the busiest link's
 * bytes over its bandwidth. Broadcast is a pipelined chain of p chunks through the ranks.
 */
import { type CollectiveAlgorithm, type Interconnect, type Link, type RingPhase, route } from './interconnect.js';

/** The parts of a phase's cost that the formulas need. */
export type PhaseShape = Pick<RingPhase, 'size' | 'bidirectional' | 'wraparound' | 'link'>;

export interface CostBreakdown {
  /** Simulated seconds: latency + bandwidth terms. */
  readonly seconds: number;
  readonly latencySeconds: number;
  readonly bandwidthSeconds: number;
}

const ZERO: CostBreakdown = { seconds: 0, latencySeconds: 0, bandwidthSeconds: 0 };

function add(a: CostBreakdown, b: CostBreakdown): CostBreakdown {
  return {
    seconds: a.seconds + b.seconds,
    latencySeconds: a.latencySeconds + b.latencySeconds,
    bandwidthSeconds: a.bandwidthSeconds + b.bandwidthSeconds,
  };
}

function scale(a: CostBreakdown, k: number): CostBreakdown {
  return { seconds: a.seconds * k, latencySeconds: a.latencySeconds * k, bandwidthSeconds: a.bandwidthSeconds * k };
}

/** One ring reduce-scatter (or all-gather) phase over `bytes` (the whole buffer the phase splits). */
export function ringPhaseCost(ph: PhaseShape, bytes: number): CostBreakdown {
  const e = ph.size;
  if (e <= 1) return ZERO;
  // A line (no wraparound) closes its ring the long way back: it cannot send both ways at
  // once, and its step latency doubles; against the bidirectional ring with wraparound that
  // is twice the cost in both terms.
  const noWrapFactor = !ph.wraparound && e >= 3 ? 2 : 1;
  const directions = ph.bidirectional && ph.wraparound ? 2 : 1;
  const latencySeconds = (e - 1) * ph.link.latency * noWrapFactor;
  const bandwidthSeconds = (((e - 1) / e) * bytes) / (ph.link.bandwidth * directions);
  return { seconds: latencySeconds + bandwidthSeconds, latencySeconds, bandwidthSeconds };
}

/** Reduce-scatter of a `bytes` operand: the phases in order, each on what the previous left. */
export function reduceScatterCost(phases: readonly PhaseShape[], bytes: number): CostBreakdown {
  let total = ZERO;
  let remaining = bytes;
  for (const ph of phases) {
    total = add(total, ringPhaseCost(ph, remaining));
    remaining /= ph.size;
  }
  return total;
}

/** All-gather to a `bytes` result: the same phases backwards, the same cost. */
export function allGatherCost(phases: readonly PhaseShape[], bytes: number): CostBreakdown {
  return reduceScatterCost(phases, bytes);
}

/** All-reduce of `bytes`: reduce-scatter then all-gather. */
export function allReduceCost(phases: readonly PhaseShape[], bytes: number): CostBreakdown {
  return scale(reduceScatterCost(phases, bytes), 2);
}

/** The textbook shapes, for callers that have no topology (and for the tests of the formulas). */
export function ringPhases(p: number, link: Link, opts: { bidirectional?: boolean; wraparound?: boolean } = {}): PhaseShape[] {
  const wraparound = opts.wraparound ?? true;
  return [{ size: p, link, wraparound, bidirectional: (opts.bidirectional ?? false) && wraparound && p >= 3 }];
}

export function torusPhases(dims: readonly number[], link: Link, opts: { bidirectional?: boolean; wraparound?: boolean } = {}): PhaseShape[] {
  return dims.filter((d) => d > 1).flatMap((d) => ringPhases(d, link, opts));
}

/**
 * Bytes on the busiest directed link of a 1-D ring (or line) of `e` nodes when every node
 * sends `m` bytes to every other, routed the short way (ties split between directions).
 */
export function allToAllLineLoad(e: number, wraparound: boolean, m: number): number {
  if (e <= 1) return 0;
  const cw = new Float64Array(e); // link i -> i+1
  const ccw = new Float64Array(e); // link i -> i-1
  for (let s = 0; s < e; s++) {
    for (let t = 0; t < e; t++) {
      if (s === t) continue;
      const fwd = (t - s + e) % e;
      const back = e - fwd;
      let wCw = 0;
      if (wraparound) wCw = fwd < back ? 1 : fwd > back ? 0 : 0.5;
      else wCw = t > s ? 1 : 0;
      if (wCw > 0) for (let h = 0; h < (wraparound ? fwd : t - s); h++) cw[(s + h) % e]! += wCw * m;
      if (wCw < 1) for (let h = 0; h < (wraparound ? back : s - t); h++) ccw[(s - h + e) % e]! += (1 - wCw) * m;
    }
  }
  let max = 0;
  for (let i = 0; i < e; i++) max = Math.max(max, cw[i]!, ccw[i]!);
  return max;
}

/**
 * All-to-all of a `bytes` operand per rank over the algorithm's phases: on the lines along
 * each dim, every rank effectively sends bytes/e to each of the e-1 others of its line
 * (dimension-ordered routing spreads the rest evenly); dims run at once, so the busiest
 * dim bounds the bandwidth term. Latency: the group's diameter.
 */
export function allToAllCost(phases: readonly PhaseShape[], bytes: number): CostBreakdown {
  let latencySeconds = 0;
  let bandwidthSeconds = 0;
  for (const ph of phases) {
    const e = ph.size;
    if (e <= 1) continue;
    latencySeconds += (ph.wraparound ? Math.floor(e / 2) : e - 1) * ph.link.latency;
    bandwidthSeconds = Math.max(bandwidthSeconds, allToAllLineLoad(e, ph.wraparound, bytes / e) / ph.link.bandwidth);
  }
  return { seconds: latencySeconds + bandwidthSeconds, latencySeconds, bandwidthSeconds };
}

/**
 * collective-permute of `bytes` per pair (`pairs` as core ids): every transfer at once, the
 * slowest route bounding the time. Link sharing between pairs is not modelled.
 */
export function permuteCost(ic: Interconnect, pairs: readonly (readonly [number, number])[], bytes: number): CostBreakdown {
  let worst = ZERO;
  for (const [s, d] of pairs) {
    if (s === d) continue;
    const r = route(ic, s, d);
    const c = { latencySeconds: r.latency, bandwidthSeconds: bytes / r.bandwidth, seconds: r.latency + bytes / r.bandwidth };
    if (c.seconds > worst.seconds) worst = c;
  }
  return worst;
}

/** Broadcast of `bytes` as a chain through the ranks in `chunks` pipelined pieces: (p + chunks - 2) steps of one piece. */
export function broadcastCost(p: number, link: Link, bytes: number, chunks: number): CostBreakdown {
  if (p <= 1) return ZERO;
  const steps = p + chunks - 2;
  const latencySeconds = steps * link.latency;
  const bandwidthSeconds = (steps * bytes) / chunks / link.bandwidth;
  return { seconds: latencySeconds + bandwidthSeconds, latencySeconds, bandwidthSeconds };
}

/** A barrier is priced as a zero-byte all-reduce: its latency term. */
export function barrierCost(alg: CollectiveAlgorithm): CostBreakdown {
  return allReduceCost(alg.phases, 0);
}
