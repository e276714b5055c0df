/**
 * The push feed behind the live page: connections that sent `watch` get
 * - a `pod` frame (pod_frame.ts) every `intervalMs` (default 500 ms, 2 Hz), and
 * - every job's `state`, `progress`, `result` and `error` events (log lines stay per job:
 *   the page subscribes to the one job whose detail it shows).
 *
 * One timer and one pod.stats() reading per tick serve every watcher, so the cost does
 * not grow with the number of open pages; the timer runs only while someone watches.
 */
import type { JobEvent } from '../jobs.js';
import type { PodStats } from '../pod.js';
import type { PodInfo } from '../plugin.js';
import { PROTOCOL_VERSION, type ServerMessage } from '../protocol.js';
import { type FrameState, type PodFrame, type PodLayout, podFrame, podLayout } from './pod_frame.js';

export const POD_FRAME_INTERVAL_MS = 500;

/** What the feed reads of the pod. */
export interface FeedPod {
  readonly info: PodInfo;
  stats(): PodStats;
}

/** What the feed reads of the job manager. */
export interface FeedJobs {
  onEvent(fn: (e: JobEvent) => void): () => void;
  runningJob(): { readonly id: string } | undefined;
}

/** Receives the feed's messages; `droppable` ones may be skipped by a client that is behind. */
export type FeedSink = (msg: ServerMessage, droppable: boolean) => void;

export interface PodFeedOptions {
  readonly intervalMs?: number;
  /** Wall clock, ms since the epoch. */
  readonly now?: () => number;
}

export class PodFeed {
  readonly intervalMs: number;
  readonly layout: PodLayout;
  private readonly sinks = new Set<FeedSink>();
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private offEvents: (() => void) | undefined;
  private state: FrameState | undefined;
  private last: PodFrame | undefined;

  constructor(
    private readonly pod: FeedPod,
    private readonly jobs: FeedJobs,
    opts: PodFeedOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? POD_FRAME_INTERVAL_MS;
    this.now = opts.now ?? Date.now;
    this.layout = podLayout(pod.info);
  }

  /** Starts sending to `sink`, at once with the latest frame; returns the function that stops it. */
  watch(sink: FeedSink): () => void {
    if (this.sinks.size === 0) this.start();
    this.sinks.add(sink);
    const frame = this.last ?? this.tick(false);
    if (frame) deliver(sink, frameMessage(frame), true);
    return () => {
      if (!this.sinks.delete(sink)) return;
      if (this.sinks.size === 0) this.stop();
    };
  }

  watchers(): number {
    return this.sinks.size;
  }

  close(): void {
    this.sinks.clear();
    this.stop();
  }

  private start(): void {
    this.offEvents = this.jobs.onEvent((e) => {
      if (e.type === 'log') return;
      for (const sink of [...this.sinks]) deliver(sink, e, e.type === 'progress');
    });
    this.timer = setInterval(() => this.tick(true), this.intervalMs);
    this.timer.unref();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.offEvents?.();
    this.offEvents = undefined;
    // The next watcher gets a fresh reading, not one from before the pause.
    this.last = undefined;
  }

  /** Reads the pod once; sends the frame to every watcher when `broadcast`. */
  private tick(broadcast: boolean): PodFrame | undefined {
    let stats: PodStats;
    try {
      stats = this.pod.stats();
    } catch {
      return undefined;
    }
    const { frame, state } = podFrame(stats, this.pod.info.peakFlopsPerCore, this.now(), this.jobs.runningJob()?.id ?? null, this.state);
    this.state = state;
    this.last = frame;
    if (broadcast) {
      const msg = frameMessage(frame);
      for (const sink of [...this.sinks]) deliver(sink, msg, true);
    }
    return frame;
  }
}

function frameMessage(frame: PodFrame): ServerMessage {
  return { v: PROTOCOL_VERSION, type: 'pod', ...frame };
}

function deliver(sink: FeedSink, msg: ServerMessage, droppable: boolean): void {
  try {
    sink(msg, droppable);
  } catch {
    // One watcher's failure must not stop the others.
  }
}
