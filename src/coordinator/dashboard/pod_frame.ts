/**
 * The pod-state stream of the live page: the pod's layout (sent once, on `watch`) and one
 * frame per tick computed from pod.stats().
 *
 * The counters pod.stats() returns are cumulative, so a frame turns two readings into rates:
 * - a core's MXU utilization is the useful FLOPs it computed over the latest window of the
 *   pod's simulated clock, divided by (window x peak per core). The pod's clock only moves
 *   while a job runs, so when it has not moved since the last frame the latest window is
 *   still the last one in which it did: the value is held, and `running` says the pod is idle;
 * - emulation speed is useful FLOPs per wall-clock second between the two readings (0 while
 *   no job computes): how fast this machine emulates the pod right now.
 * HBM use is a level and is sent as read.
 */
import type { PodStats } from '../pod.js';
import type { PodCoreInfo, PodInfo } from '../plugin.js';

/** Where the cores sit, for drawing the torus; sent once in the `watching` reply. */
export interface PodLayout {
  readonly topology: string;
  readonly chip: string;
  /** Chip grid of the torus (2 or 3 dims; 1 for a single row). */
  readonly dims: readonly number[];
  readonly numCores: number;
  readonly cores: readonly PodCoreInfo[];
  readonly hbmBytesPerCore: number;
  readonly peakFlopsPerCore: number;
  readonly defaultMesh: Readonly<Record<string, number>>;
}

/** One tick of the pod-state stream. Per-core arrays are indexed by core id. */
export interface PodFrame {
  /** Wall-clock time of the reading, ms since the epoch. */
  readonly at: number;
  /** The job running on the pod, or null when the pod is idle. */
  readonly running: string | null;
  /** The pod's simulated clock, seconds. */
  readonly simulatedSeconds: number;
  /** Useful FLOPs the cores computed, cumulative. */
  readonly emulatedFlops: number;
  /** Useful FLOPs per wall-clock second since the previous frame. */
  readonly emulationFlopsPerSecond: number;
  /** Mean MXU utilization of the cores over the latest window of simulated time, 0..1. */
  readonly mxuUtilization: number;
  /** Sum over the cores of the bytes allocated in their HBM arenas. */
  readonly hbmUsedBytes: number;
  readonly hbmCapacityBytes: number;
  readonly cores: {
    /** MXU utilization over the latest window of simulated time, 0..1. */
    readonly mxu: number[];
    /** Bytes allocated in the core's HBM arena. */
    readonly hbmUsed: number[];
    /** Simulated seconds the core was busy, cumulative. */
    readonly busySeconds: number[];
    /** 1 if the core's actor is alive, else 0. */
    readonly up: number[];
  };
  /** Simulated seconds the cores spent in each collective op, summed over cores, cumulative. */
  readonly collectiveSeconds: Readonly<Record<string, number>>;
}

/** What one frame remembers for the next. */
export interface FrameState {
  readonly wallMs: number;
  readonly simulatedSeconds: number;
  readonly emulatedFlops: number;
  readonly usefulFlops: readonly number[];
  /** Per-core utilization of the latest window in which the pod's clock moved. */
  readonly mxu: readonly number[];
}

export function podLayout(info: PodInfo): PodLayout {
  return {
    topology: info.topology,
    chip: info.chip,
    dims: [...info.dims],
    numCores: info.numCores,
    cores: info.cores.map((c) => ({ id: c.id, chipIndex: c.chipIndex, chipCoords: [...c.chipCoords], coreOnChip: c.coreOnChip })),
    hbmBytesPerCore: info.hbmBytesPerCore,
    peakFlopsPerCore: info.peakFlopsPerCore,
    defaultMesh: { ...info.defaultMesh },
  };
}

/**
 * The frame for `stats` read at `wallMs`, given the previous frame's state (none for the
 * first frame of a stream, whose utilization is then each core's lifetime average).
 */
export function podFrame(
  stats: PodStats,
  peakFlopsPerCore: number,
  wallMs: number,
  running: string | null,
  prev: FrameState | undefined,
): { frame: PodFrame; state: FrameState } {
  const cores = stats.cores;
  const useful = cores.map((c) => c.usefulFlops);
  const window = prev ? stats.simulatedSeconds - prev.simulatedSeconds : 0;
  let mxu: number[];
  if (!prev) {
    mxu = cores.map((c) => c.mxuUtilization);
  } else if (window > 0 && peakFlopsPerCore > 0) {
    mxu = cores.map((c, i) => Math.max(0, (c.usefulFlops - (prev.usefulFlops[i] ?? 0)) / (window * peakFlopsPerCore)));
  } else {
    mxu = cores.map((_, i) => prev.mxu[i] ?? 0);
  }
  const wallSeconds = prev ? (wallMs - prev.wallMs) / 1000 : 0;
  const speed = prev && wallSeconds > 0 ? Math.max(0, (stats.emulatedFlops - prev.emulatedFlops) / wallSeconds) : 0;
  const collectiveSeconds: Record<string, number> = {};
  for (const [op, x] of Object.entries(stats.collectives)) collectiveSeconds[op] = x.seconds;
  const frame: PodFrame = {
    at: wallMs,
    running,
    simulatedSeconds: stats.simulatedSeconds,
    emulatedFlops: stats.emulatedFlops,
    emulationFlopsPerSecond: speed,
    mxuUtilization: mxu.length > 0 ? mxu.reduce((s, x) => s + x, 0) / mxu.length : 0,
    hbmUsedBytes: cores.reduce((s, c) => s + c.hbmBytesInUse, 0),
    hbmCapacityBytes: cores.reduce((s, c) => s + c.hbmCapacityBytes, 0),
    cores: {
      mxu,
      hbmUsed: cores.map((c) => c.hbmBytesInUse),
      busySeconds: cores.map((c) => c.busySeconds),
      up: cores.map((c) => (c.alive ? 1 : 0)),
    },
    collectiveSeconds,
  };
  return { frame, state: { wallMs, simulatedSeconds: stats.simulatedSeconds, emulatedFlops: stats.emulatedFlops, usefulFlops: useful, mxu } };
}
