// Test-only worker: one emulated core. It builds its arena over the shared buffer and one
// communicator per control block it is given, then runs batches of collectives that the
// main thread posts (inputs and results cross by postMessage; the collectives themselves
// move bytes through the shared arenas).
import { parentPort, workerData } from 'node:worker_threads';
import { HbmArena } from '../../dist/src/tpu/arena.js';
import { Communicator } from '../../dist/src/collectives/communicator.js';

const { configs } = workerData;
const coreId = configs[0].coreId;
const buffer = configs[0].buffers[coreId];
const arena = new HbmArena({ capacityBytes: buffer.byteLength, buffer });
let now = 0;
const clock = { now: () => now, advance: (s) => { now += s; } };
const comms = configs.map((c) => new Communicator(c, { arena, clock }));

function errorInfo(e) {
  return {
    name: e.name,
    message: e.message,
    failure: e.failure,
    op: e.op,
    axes: e.axes,
    missingRanks: e.missingRanks,
    missingCores: e.missingCores,
    waitedMs: e.waitedMs,
  };
}

function runTask(t) {
  const comm = comms[t.comm ?? 0];
  if (t.kind === 'advance') {
    now += t.seconds;
    return { out: null, timing: null };
  }
  if (t.kind === 'sleep') {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, t.ms);
    return { out: null, timing: null };
  }
  if (t.c.kind === 'barrier') return { out: null, timing: comm.barrier(t.axes) };
  const x = arena.tensor(t.dtype, t.shape, 'x');
  const outShape = t.outShape ?? comm.outputShape(t.c, t.shape, t.dtype, t.axes);
  const out = arena.tensor(t.dtype, outShape, 'out');
  try {
    if (t.input) x.data.set(t.input);
    let timing;
    for (let i = 0; i < (t.repeat ?? 1); i++) {
      const c = t.c;
      switch (c.kind) {
        case 'all-reduce': timing = comm.allReduce(x, out, t.axes, c.params.op); break;
        case 'all-gather': timing = comm.allGather(x, out, t.axes, c.params); break;
        case 'reduce-scatter': timing = comm.psumScatter(x, out, t.axes, c.params); break;
        case 'all-to-all': timing = comm.allToAll(x, out, t.axes, c.params); break;
        case 'collective-permute': timing = comm.ppermute(x, out, t.axes, c.params.perm); break;
        case 'broadcast': timing = comm.broadcast(x, out, t.axes, c.params.root); break;
      }
    }
    return { out: t.returnOutput === false ? null : out.data.slice(), timing };
  } finally {
    arena.release(out);
    arena.release(x);
  }
}

parentPort.on('message', (msg) => {
  if (msg.type !== 'run') return;
  const results = [];
  try {
    for (const t of msg.tasks) results.push(runTask(t));
    const counters = Object.fromEntries(comms[0].counters());
    parentPort.postMessage({ type: 'done', results, counters, clock: now, bytesInUse: arena.bytesInUse });
  } catch (e) {
    parentPort.postMessage({ type: 'error', results, error: errorInfo(e) });
  }
});
parentPort.postMessage({ type: 'ready' });
