/**
 * The websocket job API, version 1 (docs/protocol.md documents every message).
 *
 * Frames are binary msgpack maps, one message per frame. Every client message carries
 * `v` (the protocol version) and `type`; a request also carries `id`, which the reply
 * echoes. The server pushes events (`progress`, `log`, `state`, `result`, `error` with a
 * `jobId`) for the jobs a connection submitted or subscribed to.
 *
 * Decoding never throws: a frame that is not msgpack, not a map, of an unknown type or of
 * the wrong shape becomes a ProtocolError naming the field, and the connection stays open.
 */
import { Packr, Unpackr } from 'msgpackr';
import { z } from 'zod';
import type { PodFrame, PodLayout } from './dashboard/pod_frame.js';
import type { StepMetrics } from './store.js';

export const PROTOCOL_VERSION = 1;
/** The path of the websocket endpoint. */
export const JOBS_PATH = `/v${PROTOCOL_VERSION}/jobs`;
/** Default bound on one inbound frame; a larger one closes the connection with 1009. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export const JOB_STATES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const TERMINAL_STATES: readonly JobState[] = ['SUCCEEDED', 'FAILED', 'STOPPED'];
export function isTerminal(s: JobState): boolean {
  return TERMINAL_STATES.includes(s);
}

/** Every error code the server sends, in a reply or as a job's error. */
export const ERROR_CODES = [
  // the frame or message
  'malformed',
  'bad_frame',
  'unsupported_version',
  'unknown_type',
  'invalid_message',
  // submit
  'unknown_workload',
  'invalid_config',
  'invalid_mesh',
  'insufficient_resources',
  'queue_full',
  'shutting_down',
  // job look-ups
  'not_found',
  'not_cancellable',
  // a job's end
  'job_failed',
  'actor_lost',
  'core_task_failed',
  'cancelled',
  'coordinator_restarted',
  'coordinator_shutdown',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorInfo {
  readonly code: ErrorCode;
  readonly message: string;
  /** The offending field as a path (`config.m`, `mesh.data`, `jobId`), when one is to blame. */
  readonly field?: string;
}

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
  toInfo(): ErrorInfo {
    return this.field === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, field: this.field };
  }
}

// ---- client -> server ----------------------------------------------------------------------

const requestId = z.union([z.string().max(64), z.number().int().safe()]);
const jobId = z.string().min(1).max(64);
/** Mesh axes: a name to a size; the product must fit the pod (checked on submit). */
export const meshSchema = z.record(z.string().min(1).max(32), z.number().int().positive().max(65536));

const base = { v: z.literal(PROTOCOL_VERSION), id: requestId };

export const clientMessageSchemas = {
  submit: z.object({
    ...base,
    type: z.literal('submit'),
    workload: z.string().min(1).max(64),
    /** Validated against the workload's own schema; omitted fields take its defaults. */
    config: z.record(z.string(), z.unknown()).optional(),
    mesh: meshSchema.optional(),
    name: z.string().max(128).optional(),
    /** Also stream this job's events to this connection (default true). */
    subscribe: z.boolean().optional(),
  }),
  list: z.object({
    ...base,
    type: z.literal('list'),
    state: z.enum(JOB_STATES).optional(),
    limit: z.number().int().positive().max(10_000).optional(),
  }),
  status: z.object({ ...base, type: z.literal('status'), jobId }),
  cancel: z.object({ ...base, type: z.literal('cancel'), jobId }),
  /** Streams a job's events; replays its past logs and last progress first. */
  subscribe: z.object({ ...base, type: z.literal('subscribe'), jobId }),
  unsubscribe: z.object({ ...base, type: z.literal('unsubscribe'), jobId }),
  workloads: z.object({ ...base, type: z.literal('workloads') }),
  /** Streams the pod's state (a `pod` frame at 2 Hz) and every job's lifecycle events until the connection closes; for the live page. */
  watch: z.object({ ...base, type: z.literal('watch') }),
  /** A job's stored per-step metrics, oldest first (the last `limit` steps, default 10000). */
  steps: z.object({ ...base, type: z.literal('steps'), jobId, limit: z.number().int().positive().max(100_000).optional() }),
} as const;

export type ClientMessageType = keyof typeof clientMessageSchemas;
export type ClientMessage = { [K in ClientMessageType]: z.infer<(typeof clientMessageSchemas)[K]> }[ClientMessageType];
export type SubmitMessage = z.infer<typeof clientMessageSchemas.submit>;
export const CLIENT_MESSAGE_TYPES = Object.keys(clientMessageSchemas) as ClientMessageType[];

// ---- server -> client ----------------------------------------------------------------------

export interface JobSummary {
  readonly jobId: string;
  readonly name: string | null;
  readonly workload: string;
  readonly state: JobState;
  readonly submittedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Last progress seen: step of total. */
  readonly step: number | null;
  readonly total: number | null;
  readonly error: ErrorInfo | null;
}

export interface JobDetail extends JobSummary {
  readonly config: Record<string, unknown>;
  readonly mesh: Record<string, number> | null;
  readonly result: unknown;
  readonly metrics: Record<string, number> | null;
}

export interface WorkloadInfo {
  readonly name: string;
  readonly description: string;
  /** The config a submit with `{}` gets. */
  readonly defaults: Record<string, unknown>;
}

export type ServerMessage =
  | { v: number; type: 'hello'; server: 'tpusim'; version: string; topology: string; cores: number; maxMessageBytes: number }
  | { v: number; type: 'accepted'; id: string | number; jobId: string; state: JobState }
  | { v: number; type: 'jobs'; id: string | number; jobs: JobSummary[] }
  | { v: number; type: 'job'; id: string | number; job: JobDetail }
  | { v: number; type: 'ok'; id: string | number; jobId: string; state: JobState }
  | { v: number; type: 'workloads'; id: string | number; workloads: WorkloadInfo[] }
  | { v: number; type: 'state'; jobId: string; state: JobState; at: number }
  | { v: number; type: 'progress'; jobId: string; step: number; total: number; metrics: Record<string, number> }
  | { v: number; type: 'log'; jobId: string; seq: number; line: string; at: number }
  | { v: number; type: 'result'; jobId: string; result: unknown }
  | { v: number; type: 'error'; id?: string | number; jobId?: string; code: ErrorCode; message: string; field?: string }
  | { v: number; type: 'watching'; id: string | number; intervalMs: number; pod: PodLayout }
  | ({ v: number; type: 'pod' } & PodFrame)
  | { v: number; type: 'steps'; id: string | number; jobId: string; steps: StepMetrics[] };

// ---- codec ---------------------------------------------------------------------------------

// Plain maps decode to objects; no record extension (a client may be any msgpack library);
// 64-bit integers decode as numbers. moreTypes on the way out keeps typed arrays in results typed.
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const packr = new Packr({ useRecords: false, moreTypes: true });

export function encodeMessage(msg: ServerMessage | Record<string, unknown>): Buffer {
  return packr.pack(msg);
}

/** Decodes a server frame (clients use this). */
export function decodeServerMessage(frame: Uint8Array): ServerMessage {
  return unpackr.unpack(frame) as ServerMessage;
}

/** The path of a zod issue as `a.b[2]`. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

export type DecodeResult = { ok: true; msg: ClientMessage } | { ok: false; error: ProtocolError; id?: string | number };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A short, safe rendering of any decoded value for an error message. */
function shown(x: unknown): string {
  if (x === undefined) return 'missing';
  if (typeof x === 'string') return JSON.stringify(x.slice(0, 64));
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint' || x === null) return String(x);
  return `a ${Array.isArray(x) ? 'list' : typeof x}`;
}

/** Decodes and validates one client frame; never throws. */
export function decodeClientMessage(frame: Uint8Array, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): DecodeResult {
  if (frame.byteLength > maxBytes) {
    return { ok: false, error: new ProtocolError('malformed', `frame of ${frame.byteLength} bytes exceeds the limit of ${maxBytes}`) };
  }
  let raw: unknown;
  try {
    raw = unpackr.unpack(frame);
  } catch (e) {
    return { ok: false, error: new ProtocolError('malformed', `not a msgpack message: ${(e as Error).message}`) };
  }
  if (!isPlainObject(raw)) return { ok: false, error: new ProtocolError('malformed', 'a message must be a msgpack map') };
  const id = typeof raw.id === 'string' || (typeof raw.id === 'number' && Number.isSafeInteger(raw.id)) ? raw.id : undefined;
  const fail = (error: ProtocolError): DecodeResult => (id === undefined ? { ok: false, error } : { ok: false, error, id });
  if (raw.v !== PROTOCOL_VERSION) {
    return fail(new ProtocolError('unsupported_version', `protocol version ${shown(raw.v)}; this server speaks v${PROTOCOL_VERSION}`, 'v'));
  }
  if (typeof raw.type !== 'string' || !Object.hasOwn(clientMessageSchemas, raw.type)) {
    return fail(new ProtocolError('unknown_type', `unknown message type ${shown(raw.type)}; known: ${CLIENT_MESSAGE_TYPES.join(', ')}`, 'type'));
  }
  const schema = clientMessageSchemas[raw.type as ClientMessageType];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issuePath(issue.path);
    return fail(new ProtocolError('invalid_message', `${raw.type}: ${field || 'message'}: ${issue.message}`, field || undefined));
  }
  return { ok: true, msg: parsed.data as ClientMessage };
}
