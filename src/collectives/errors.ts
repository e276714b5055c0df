/**
 * Errors of layer 2. A collective never hangs and never corrupts memory: a lost peer, a
 * deadline passed or a mismatch across cores becomes a CollectiveError on every core.
 */

/** Why a collective failed. */
export type CollectiveFailure =
  /** A peer did not arrive or did not make progress before the deadline. */
  | 'timeout'
  /** The supervisor marked a peer's worker dead (it exited). */
  | 'peer-dead'
  /** A peer gave up on this collective (its own error); the culprit it named is reported. */
  | 'peer-aborted'
  /** The cores called different ops, or passed different shapes, dtypes or parameters. */
  | 'mismatch';

export interface CollectiveErrorInfo {
  /** XLA's name of the op: all-reduce, all-gather, reduce-scatter, all-to-all, collective-permute, broadcast, barrier. */
  readonly op: string;
  /** The mesh axes the collective ran over. */
  readonly axes: readonly string[];
  readonly failure: CollectiveFailure;
  /** Ranks (axis_index over `axes`) that did not arrive, died or disagree. */
  readonly missingRanks: readonly number[];
  /** The same, as pod core ids. */
  readonly missingCores: readonly number[];
  /** Wall-clock milliseconds this core waited before giving up. */
  readonly waitedMs: number;
  /** The core that raised the error. */
  readonly coreId: number;
  readonly detail?: string;
}

export class CollectiveError extends Error implements CollectiveErrorInfo {
  override name = 'CollectiveError';
  readonly op: string;
  readonly axes: readonly string[];
  readonly failure: CollectiveFailure;
  readonly missingRanks: readonly number[];
  readonly missingCores: readonly number[];
  readonly waitedMs: number;
  readonly coreId: number;
  readonly detail?: string;

  constructor(info: CollectiveErrorInfo) {
    const ranks = info.missingRanks.map((r, i) => `${r} (core ${info.missingCores[i]})`).join(', ');
    super(
      `${info.op} over (${info.axes.join(', ')}) on core ${info.coreId}: ${info.failure}` +
        (ranks ? `; ranks ${ranks}` : '') +
        ` after ${info.waitedMs.toFixed(0)} ms` +
        (info.detail ? `: ${info.detail}` : ''),
    );
    this.op = info.op;
    this.axes = [...info.axes];
    this.failure = info.failure;
    this.missingRanks = [...info.missingRanks];
    this.missingCores = [...info.missingCores];
    this.waitedMs = info.waitedMs;
    this.coreId = info.coreId;
    if (info.detail !== undefined) this.detail = info.detail;
  }
}

/** A collective was called wrongly on this core (bad axis, shape, parameter, buffer). Raised before any peer is involved. */
export class CollectiveUsageError extends Error {
  override name = 'CollectiveUsageError';
}
