/**
 * A core's counters in a small SharedArrayBuffer: the actor writes them after each task,
 * the coordinator reads them whenever /metrics is scraped, without a message and without
 * reaching into the actor's thread (prom-client cannot aggregate across worker_threads).
 *
 * A seqlock keeps a read consistent: the writer makes the sequence word odd, writes, and
 * makes it even again; a reader retries while the word is odd or changed under it.
 * Counters are cumulative over the actor's life; a restarted actor starts a fresh block and
 * the coordinator adds the dead actor's last values (supervision keeps counters monotonic).
 */
import { COLLECTIVE_OPS, type CollectiveOpName } from '../collectives/semantics.js';

export const CORE_FIELDS = [
  'elapsedSeconds',
  'usefulFlops',
  'mxuFlops',
  'vpuOps',
  'hbmBytesRead',
  'hbmBytesWritten',
  'hbmBytesInUse',
  'hbmPeakBytesInUse',
  'hbmCapacity',
  'busyMxuSeconds',
  'busyVpuSeconds',
  'busyHbmSeconds',
  'busyOverheadSeconds',
  'busyIciSeconds',
  'busyHostSeconds',
  /** Wall-clock seconds the actor spent running tasks. */
  'wallBusySeconds',
  'tasks',
] as const;

export type CoreField = (typeof CORE_FIELDS)[number];

export type CoreCounters = Record<CoreField, number>;

export interface CollectiveOpCounters {
  calls: number;
  bytesSent: number;
  /** Simulated seconds spent in the op (waiting for the last arrival plus its ICI cost). */
  seconds: number;
}

export interface StatsSnapshot {
  readonly core: CoreCounters;
  readonly collectives: Record<CollectiveOpName, CollectiveOpCounters>;
}

/** Fields that are levels, not counters: not summed across an actor's restarts. */
export const GAUGE_FIELDS: ReadonlySet<CoreField> = new Set(['hbmBytesInUse', 'hbmPeakBytesInUse', 'hbmCapacity']);

const HEADER_F64 = 1; // two int32 words: the seq word and the activity word
const ACTIVITY_WORD = 1;

/**
 * What the actor is doing, for the supervisor's hang check: a core past its deadline in its
 * own code is hung; a core waiting in a collective is waiting for a peer, and the
 * collective's own deadline bounds that wait.
 */
export const Activity = { idle: 0, running: 1, collective: 2 } as const;
export type Activity = (typeof Activity)[keyof typeof Activity];

export function setActivity(sab: SharedArrayBuffer, a: Activity): void {
  Atomics.store(new Int32Array(sab, 0, 2), ACTIVITY_WORD, a);
}

export function readActivity(sab: SharedArrayBuffer): Activity {
  return Atomics.load(new Int32Array(sab, 0, 2), ACTIVITY_WORD) as Activity;
}
const COLLECTIVE_FIELDS = 3;
const NUM_F64 = HEADER_F64 + CORE_FIELDS.length + COLLECTIVE_OPS.length * COLLECTIVE_FIELDS;

export function createStatsBlock(): SharedArrayBuffer {
  return new SharedArrayBuffer(NUM_F64 * 8);
}

export function emptySnapshot(): StatsSnapshot {
  const core = Object.fromEntries(CORE_FIELDS.map((f) => [f, 0])) as CoreCounters;
  const collectives = Object.fromEntries(COLLECTIVE_OPS.map((op) => [op, { calls: 0, bytesSent: 0, seconds: 0 }])) as Record<
    CollectiveOpName,
    CollectiveOpCounters
  >;
  return { core, collectives };
}

export function writeStats(sab: SharedArrayBuffer, s: StatsSnapshot): void {
  const seq = new Int32Array(sab, 0, 1);
  const f = new Float64Array(sab);
  Atomics.add(seq, 0, 1); // odd: writing
  CORE_FIELDS.forEach((name, i) => {
    f[HEADER_F64 + i] = s.core[name];
  });
  COLLECTIVE_OPS.forEach((op, j) => {
    const base = HEADER_F64 + CORE_FIELDS.length + j * COLLECTIVE_FIELDS;
    const c = s.collectives[op];
    f[base] = c.calls;
    f[base + 1] = c.bytesSent;
    f[base + 2] = c.seconds;
  });
  Atomics.add(seq, 0, 1); // even: done
}

/** A consistent read; if the writer died mid-write (the word stays odd), the last attempt's values. */
export function readStats(sab: SharedArrayBuffer): StatsSnapshot {
  const seq = new Int32Array(sab, 0, 1);
  const f = new Float64Array(sab);
  for (let attempt = 0; ; attempt++) {
    const before = Atomics.load(seq, 0);
    const last = attempt >= 1000;
    if ((before & 1) === 0 || last) {
      const s = emptySnapshot();
      CORE_FIELDS.forEach((name, i) => {
        s.core[name] = f[HEADER_F64 + i]!;
      });
      COLLECTIVE_OPS.forEach((op, j) => {
        const base = HEADER_F64 + CORE_FIELDS.length + j * COLLECTIVE_FIELDS;
        s.collectives[op] = { calls: f[base]!, bytesSent: f[base + 1]!, seconds: f[base + 2]! };
      });
      if (Atomics.load(seq, 0) === before || last) return s;
    }
  }
}

/** a + b for counters; gauges are taken from b (the live actor). */
export function addSnapshots(a: StatsSnapshot, b: StatsSnapshot): StatsSnapshot {
  const out = emptySnapshot();
  for (const name of CORE_FIELDS) out.core[name] = GAUGE_FIELDS.has(name) ? b.core[name] : a.core[name] + b.core[name];
  for (const op of COLLECTIVE_OPS) {
    const x = a.collectives[op];
    const y = b.collectives[op];
    out.collectives[op] = { calls: x.calls + y.calls, bytesSent: x.bytesSent + y.bytesSent, seconds: x.seconds + y.seconds };
  }
  return out;
}
