/**
 * Worker of the collectives benchmark: one emulated core. Two modes:
 * - 'shared': the tpusim communicator over SharedArrayBuffer arenas (the thing measured);
 * - 'postmessage': the baseline, a ring all-reduce whose chunks travel by postMessage
 *   (structured clone) between neighbours over MessagePorts.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { Communicator, type CommunicatorConfig } from '../src/collectives/communicator.js';
import type { CollectiveParams } from '../src/collectives/semantics.js';
import { HbmArena } from '../src/tpu/arena.js';

export interface SharedBenchRequest {
  readonly type: 'shared';
  readonly c: CollectiveParams;
  readonly shape: readonly number[];
  readonly iters: number;
  readonly warmup: number;
}

export interface PostMessageBenchRequest {
  readonly type: 'postmessage';
  readonly elements: number;
  readonly iters: number;
  readonly warmup: number;
}

export interface BenchReply {
  /** Mean wall seconds per iteration on this core. */
  readonly seconds: number;
}

interface SharedInit {
  readonly mode: 'shared';
  readonly config: CommunicatorConfig;
}
interface PostMessageInit {
  readonly mode: 'postmessage';
  readonly rank: number;
  readonly p: number;
  readonly next: MessagePort;
  readonly prev: MessagePort;
}

const init = workerData as SharedInit | PostMessageInit;
const port = parentPort!;

function runShared(comm: Communicator, arena: HbmArena, req: SharedBenchRequest): BenchReply {
  const x = arena.tensor('f32', req.shape, 'x');
  const out = arena.tensor('f32', comm.outputShape(req.c, req.shape, 'f32', ['x']), 'out');
  x.data.fill(1);
  const once = (): void => {
    const c = req.c;
    switch (c.kind) {
      case 'all-reduce':
        comm.allReduce(x, out, ['x'], c.params.op);
        break;
      case 'all-gather':
        comm.allGather(x, out, ['x'], c.params);
        break;
      case 'reduce-scatter':
        comm.psumScatter(x, out, ['x'], c.params);
        break;
      case 'all-to-all':
        comm.allToAll(x, out, ['x'], c.params);
        break;
      case 'collective-permute':
        comm.ppermute(x, out, ['x'], c.params.perm);
        break;
      default:
        throw new Error(`bench: ${c.kind} not benchmarked`);
    }
  };
  for (let i = 0; i < req.warmup; i++) once();
  comm.barrier(['x']);
  const t0 = performance.now();
  for (let i = 0; i < req.iters; i++) once();
  const seconds = (performance.now() - t0) / 1e3 / req.iters;
  arena.release(out);
  arena.release(x);
  return { seconds };
}

/** Ring all-reduce by postMessage: reduce-scatter then all-gather, one cloned chunk per step. */
async function runPostMessage(p: PostMessageInit, req: PostMessageBenchRequest): Promise<BenchReply> {
  const data = new Float32Array(req.elements).fill(1);
  const bounds = (j: number): [number, number] => [Math.floor((j * req.elements) / p.p), Math.floor(((j + 1) * req.elements) / p.p)];
  const inbox: Float32Array[] = [];
  let waiting: ((m: Float32Array) => void) | undefined;
  p.prev.on('message', (m: Float32Array) => {
    if (waiting) {
      const w = waiting;
      waiting = undefined;
      w(m);
    } else inbox.push(m);
  });
  const receive = (): Promise<Float32Array> =>
    inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise((res) => (waiting = res));
  const mod = (a: number): number => ((a % p.p) + p.p) % p.p;
  const once = async (): Promise<void> => {
    for (let s = 0; s < p.p - 1; s++) {
      const [a, b] = bounds(mod(p.rank - s));
      p.next.postMessage(data.subarray(a, b)); // structured clone copies the chunk
      const got = await receive();
      const [c] = bounds(mod(p.rank - s - 1));
      for (let i = 0; i < got.length; i++) data[c + i]! += got[i]!;
    }
    for (let s = 0; s < p.p - 1; s++) {
      const [a, b] = bounds(mod(p.rank + 1 - s));
      p.next.postMessage(data.subarray(a, b));
      const got = await receive();
      data.set(got, bounds(mod(p.rank - s))[0]);
    }
  };
  for (let i = 0; i < req.warmup; i++) await once();
  const t0 = performance.now();
  for (let i = 0; i < req.iters; i++) await once();
  const seconds = (performance.now() - t0) / 1e3 / req.iters;
  p.prev.removeAllListeners('message');
  return { seconds };
}

if (init.mode === 'shared') {
  const buffer = init.config.buffers[init.config.coreId]!;
  const arena = new HbmArena({ capacityBytes: buffer.byteLength, buffer });
  const comm = new Communicator(init.config, { arena });
  port.on('message', (req: SharedBenchRequest) => port.postMessage(runShared(comm, arena, req)));
} else {
  const pm = init;
  port.on('message', (req: PostMessageBenchRequest) => {
    void runPostMessage(pm, req).then((r) => port.postMessage(r));
  });
}
port.postMessage({ ready: true });
