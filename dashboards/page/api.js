/**
 * The job API from the browser: the same websocket and msgpack frames as the CLI's client
 * (src/coordinator/client.ts). A browser cannot set headers on a websocket, so the token
 * goes in the `token` query parameter, which the server checks on the upgrade (401 if bad).
 * msgpackr's browser build (served at /vendor/msgpackr.min.js) defines globalThis.msgpackr.
 */

const PROTOCOL_VERSION = 1;
const REQUEST_TIMEOUT_MS = 30_000;

export class ApiError extends Error {
  constructor(code, message, field) {
    super(field ? `${message} (${field})` : message);
    this.code = code;
    this.field = field;
  }
}

export class JobApi {
  /** Opens the connection; rejects if it cannot be opened (a bad token is refused with 401). */
  static connect(token) {
    const { Packr, Unpackr } = globalThis.msgpackr;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/v${PROTOCOL_VERSION}/jobs?token=${encodeURIComponent(token)}`);
    ws.binaryType = 'arraybuffer';
    const api = new JobApi(ws, new Packr({ useRecords: false }), new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' }));
    return new Promise((resolve, reject) => {
      // Settled by the server's hello, or by a close before it (a refused upgrade closes without opening).
      const offHello = api.onMessage((m) => {
        if (m.type !== 'hello') return;
        offHello();
        api.hello = m;
        resolve(api);
      });
      ws.addEventListener('close', (e) => {
        if (!api.hello) reject(new Error(`the job API closed the connection before its hello (code ${e.code})`));
      });
    });
  }

  constructor(ws, packr, unpackr) {
    this.ws = ws;
    this.packr = packr;
    this.unpackr = unpackr;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    this.hello = undefined;
    ws.addEventListener('message', (e) => this.onFrame(e.data));
    ws.addEventListener('close', (e) => {
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error(`connection closed (${e.code})`));
      }
      this.pending.clear();
    });
  }

  onMessage(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onClose(fn) {
    this.ws.addEventListener('close', (e) => fn(e));
  }

  /** Sends a request and resolves with its reply (an `error` reply rejects with ApiError). */
  request(type, fields = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${type}: no reply within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(this.packr.pack({ v: PROTOCOL_VERSION, id, type, ...fields }));
    });
  }

  close() {
    this.ws.close(1000);
  }

  onFrame(data) {
    let msg;
    try {
      msg = this.unpackr.unpack(new Uint8Array(data));
    } catch {
      return;
    }
    const waiter = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (waiter) {
      this.pending.delete(msg.id);
      clearTimeout(waiter.timer);
      if (msg.type === 'error') waiter.reject(new ApiError(msg.code, msg.message, msg.field));
      else waiter.resolve(msg);
      return;
    }
    for (const fn of [...this.listeners]) fn(msg);
  }
}
