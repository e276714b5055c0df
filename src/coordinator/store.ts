/**
 * The job store: embedded SQLite (better-sqlite3, WAL) in the data dir. It holds each job's
 * config, state, timestamps, result, error, per-step metrics and log lines, and survives
 * restarts. The CLI opens the same file read-only for `jobs`, `logs` and `result`; WAL lets
 * it read while the coordinator writes.
 *
 * Values: config, mesh and metrics are JSON text (a non-finite metric becomes null); the
 * result is msgpack (moreTypes), so typed arrays come back typed.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Packr } from 'msgpackr';
import type { ErrorInfo, JobDetail, JobState, JobSummary } from './protocol.js';

export const STORE_FILE = 'jobs.sqlite';

/** Schema versions, applied in order; PRAGMA user_version records how many have run. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE jobs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     id TEXT NOT NULL UNIQUE,
     name TEXT,
     workload TEXT NOT NULL,
     config TEXT NOT NULL,
     mesh TEXT,
     state TEXT NOT NULL CHECK (state IN ('PENDING','RUNNING','SUCCEEDED','FAILED','STOPPED')),
     submitted_at INTEGER NOT NULL,
     started_at INTEGER,
     finished_at INTEGER,
     result BLOB,
     error_code TEXT,
     error_message TEXT,
     error_field TEXT,
     last_step INTEGER,
     last_total INTEGER,
     last_metrics TEXT
   );
   CREATE INDEX jobs_state ON jobs(state);
   CREATE TABLE job_metrics (
     job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
     step INTEGER NOT NULL,
     total INTEGER NOT NULL,
     metrics TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (job_id, step)
   ) WITHOUT ROWID;
   CREATE TABLE job_logs (
     job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
     seq INTEGER NOT NULL,
     line TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (job_id, seq)
   ) WITHOUT ROWID;`,
];

export interface NewJob {
  readonly id: string;
  readonly name: string | null;
  readonly workload: string;
  readonly config: Record<string, unknown>;
  readonly mesh: Record<string, number> | null;
  readonly submittedAt: number;
}

export interface StepMetrics {
  readonly step: number;
  readonly total: number;
  readonly metrics: Record<string, number | null>;
  readonly at: number;
}

export interface LogLine {
  readonly seq: number;
  readonly line: string;
  readonly at: number;
}

interface JobRow {
  id: string;
  name: string | null;
  workload: string;
  config: string;
  mesh: string | null;
  state: JobState;
  submitted_at: number;
  started_at: number | null;
  finished_at: number | null;
  result: Buffer | null;
  error_code: string | null;
  error_message: string | null;
  error_field: string | null;
  last_step: number | null;
  last_total: number | null;
  last_metrics: string | null;
}

const resultCodec = new Packr({ useRecords: false, moreTypes: true });

function summaryOf(r: JobRow): JobSummary {
  return {
    jobId: r.id,
    name: r.name,
    workload: r.workload,
    state: r.state,
    submittedAt: r.submitted_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    step: r.last_step,
    total: r.last_total,
    error: r.error_code === null ? null : errorOf(r),
  };
}

function errorOf(r: JobRow): ErrorInfo {
  const e = { code: r.error_code as ErrorInfo['code'], message: r.error_message ?? '' };
  return r.error_field === null ? e : { ...e, field: r.error_field };
}

const SUMMARY_COLUMNS = 'id, name, workload, config, mesh, state, submitted_at, started_at, finished_at, NULL AS result, error_code, error_message, error_field, last_step, last_total, last_metrics';

export class JobStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly stmts;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
    this.stmts = {
      insert: db.prepare(
        `INSERT INTO jobs (id, name, workload, config, mesh, state, submitted_at)
         VALUES (@id, @name, @workload, @config, @mesh, 'PENDING', @submittedAt)`,
      ),
      start: db.prepare(`UPDATE jobs SET state = 'RUNNING', started_at = ? WHERE id = ? AND state = 'PENDING'`),
      finish: db.prepare(
        `UPDATE jobs SET state = @state, finished_at = @at, result = @result,
           error_code = @code, error_message = @message, error_field = @field
         WHERE id = @id AND state IN ('PENDING', 'RUNNING')`,
      ),
      metric: db.prepare(`INSERT OR REPLACE INTO job_metrics (job_id, step, total, metrics, at) VALUES (?, ?, ?, ?, ?)`),
      lastMetric: db.prepare(`UPDATE jobs SET last_step = ?, last_total = ?, last_metrics = ? WHERE id = ?`),
      log: db.prepare(`INSERT INTO job_logs (job_id, seq, line, at) VALUES (?, ?, ?, ?)`),
      get: db.prepare(`SELECT * FROM jobs WHERE id = ?`),
      list: db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM jobs ORDER BY seq DESC LIMIT ?`),
      listByState: db.prepare(`SELECT ${SUMMARY_COLUMNS} FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ?`),
      pendingInOrder: db.prepare(`SELECT * FROM jobs WHERE state = 'PENDING' ORDER BY seq ASC`),
      metrics: db.prepare(`SELECT step, total, metrics, at FROM job_metrics WHERE job_id = ? ORDER BY step`),
      logs: db.prepare(`SELECT seq, line, at FROM job_logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      lastLogSeq: db.prepare(`SELECT COALESCE(MAX(seq), 0) AS seq FROM job_logs WHERE job_id = ?`),
      counts: db.prepare(`SELECT state, COUNT(*) AS n FROM jobs GROUP BY state`),
    };
  }

  /** Opens (creating and migrating unless readonly) `<dataDir>/jobs.sqlite`. */
  static open(dataDir: string, opts: { readonly?: boolean } = {}): JobStore {
    const path = join(dataDir, STORE_FILE);
    if (opts.readonly) {
      if (!existsSync(path)) throw new Error(`no job store at ${path}: start a coordinator with 'tpusim up --data-dir ${dataDir}' first`);
      const db = new Database(path, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 2000');
      return new JobStore(path, db);
    }
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL is durable against a process crash (only an OS crash may lose the last commits).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 2000');
    migrate(db);
    return new JobStore(path, db);
  }

  close(): void {
    this.db.close();
  }

  insert(job: NewJob): void {
    this.stmts.insert.run({
      id: job.id,
      name: job.name,
      workload: job.workload,
      config: JSON.stringify(job.config),
      mesh: job.mesh === null ? null : JSON.stringify(job.mesh),
      submittedAt: job.submittedAt,
    });
  }

  /** PENDING -> RUNNING; false if the job was not PENDING. */
  markRunning(id: string, at: number): boolean {
    return this.stmts.start.run(at, id).changes === 1;
  }

  /** Records a job's end; false if it had already ended (the first end wins). */
  finish(id: string, end: { state: JobState; at: number; result?: unknown; error?: ErrorInfo }): boolean {
    const r = this.stmts.finish.run({
      id,
      state: end.state,
      at: end.at,
      result: end.result === undefined ? null : resultCodec.pack(end.result),
      code: end.error?.code ?? null,
      message: end.error?.message ?? null,
      field: end.error?.field ?? null,
    });
    return r.changes === 1;
  }

  appendMetrics(id: string, m: StepMetrics): void {
    const json = JSON.stringify(m.metrics);
    this.db.transaction(() => {
      this.stmts.metric.run(id, m.step, m.total, json, m.at);
      this.stmts.lastMetric.run(m.step, m.total, json, id);
    })();
  }

  appendLog(id: string, seq: number, line: string, at: number): void {
    this.stmts.log.run(id, seq, line, at);
  }

  get(id: string): JobDetail | undefined {
    const r = this.stmts.get.get(id) as JobRow | undefined;
    if (!r) return undefined;
    return {
      ...summaryOf(r),
      config: JSON.parse(r.config) as Record<string, unknown>,
      mesh: r.mesh === null ? null : (JSON.parse(r.mesh) as Record<string, number>),
      result: r.result === null ? null : resultCodec.unpack(r.result),
      metrics: r.last_metrics === null ? null : (JSON.parse(r.last_metrics) as Record<string, number>),
    };
  }

  /** Newest first. */
  list(opts: { state?: JobState; limit?: number } = {}): JobSummary[] {
    const limit = opts.limit ?? 100;
    const rows = (opts.state ? this.stmts.listByState.all(opts.state, limit) : this.stmts.list.all(limit)) as JobRow[];
    return rows.map(summaryOf);
  }

  /** PENDING jobs in submission order, with their configs (to requeue after a restart). */
  pending(): { id: string; name: string | null; workload: string; config: Record<string, unknown>; mesh: Record<string, number> | null }[] {
    return (this.stmts.pendingInOrder.all() as JobRow[]).map((r) => ({
      id: r.id,
      name: r.name,
      workload: r.workload,
      config: JSON.parse(r.config) as Record<string, unknown>,
      mesh: r.mesh === null ? null : (JSON.parse(r.mesh) as Record<string, number>),
    }));
  }

  /** Marks every RUNNING job FAILED with `error`: they died with the previous coordinator. Returns their ids. */
  failInterrupted(error: ErrorInfo, at: number): string[] {
    return this.db.transaction(() => {
      const ids = (this.db.prepare(`SELECT id FROM jobs WHERE state = 'RUNNING' ORDER BY seq`).all() as { id: string }[]).map((r) => r.id);
      for (const id of ids) this.finish(id, { state: 'FAILED', at, error });
      return ids;
    })();
  }

  metrics(id: string): StepMetrics[] {
    return (this.stmts.metrics.all(id) as { step: number; total: number; metrics: string; at: number }[]).map((r) => ({
      step: r.step,
      total: r.total,
      metrics: JSON.parse(r.metrics) as Record<string, number | null>,
      at: r.at,
    }));
  }

  /** Log lines with seq > afterSeq, oldest first. */
  logs(id: string, afterSeq = 0, limit = 100_000): LogLine[] {
    return this.stmts.logs.all(id, afterSeq, limit) as LogLine[];
  }

  lastLogSeq(id: string): number {
    return (this.stmts.lastLogSeq.get(id) as { seq: number }).seq;
  }

  countsByState(): Record<JobState, number> {
    const out: Record<JobState, number> = { PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, STOPPED: 0 };
    for (const r of this.stmts.counts.all() as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > MIGRATIONS.length) {
    throw new Error(`job store schema version ${version} is newer than this tpusim knows (${MIGRATIONS.length})`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
