import { describe, expect, it } from 'vitest';
import { Communicator } from '../../src/collectives/communicator.js';
import { createControlBlock } from '../../src/collectives/control.js';
import { interconnectOf } from '../../src/collectives/interconnect.js';
import { makeMesh } from '../../src/collectives/mesh.js';
import { HbmArena } from '../../src/tpu/arena.js';
import { TensorCore } from '../../src/tpu/core.js';
import { coreLocation, parseTopology } from '../../src/tpu/topology.js';
import { DeviceContext } from '../../src/worker/device_context.js';

/** Core 1 of a v4-8 alone in a one-axis mesh: collectives over a group of one run in this thread. */
function context(events: boolean[] = []) {
  const topology = parseTopology('v4-8');
  const arena = new HbmArena({ capacityBytes: 1 << 20 });
  const core = new TensorCore({ chip: topology.chip, arena, coreId: 1 });
  const mesh = makeMesh({ data: 1 }, [1]);
  const comm = new Communicator(
    { coreId: 1, mesh, interconnect: interconnectOf(topology), control: createControlBlock(8, 1), buffers: new Array(8).fill(arena.buffer) },
    { arena, clock: { now: () => core.now, advance: (s) => core.advance(s, 'ici') } },
  );
  const arrays = new Map([['x', arena.tensor('f32', [2, 2], 'x')]]);
  arrays.get('x')!.data.set([1, 2, 3, 4]);
  return { dev: new DeviceContext(core, comm, arrays, coreLocation(topology, 1), 'job', (inside) => events.push(inside)), arena, core };
}

describe('DeviceContext', () => {
  it('knows its core, its chip coordinates and its mesh coordinates', () => {
    const { dev } = context();
    expect(dev.coreId).toBe(1);
    expect(dev.location.chipCoords).toEqual([0, 0, 0]);
    expect(dev.location.coreOnChip).toBe(1);
    expect(dev.meshCoords).toEqual([0]);
    expect(dev.axisIndex('data')).toBe(0);
    expect(dev.axisSize('data')).toBe(1);
  });

  it('frees the temporaries of a call and keeps its outputs', () => {
    const { dev, arena } = context();
    const base = arena.bytesInUse;
    const x = dev.array('x');
    const [y] = dev.execute('dot_general', { contractingDims: [[1], [0]], batchDims: [[], []] }, [x, x]);
    const tmp = dev.alloc('f32', [100]);
    expect([...y!.data]).toEqual([7, 10, 15, 22]);
    dev.output('y', y!);
    expect(() => dev.output('y2', y!)).toThrow(/must be a temporary/);
    const kept = dev.finish();
    expect([...kept.keys()]).toEqual(['y']);
    expect(arena.bytesInUse).toBe(base + 16);
    expect(() => dev.release(tmp)).toThrow(/not a temporary/);
  });

  it('frees outputs too when the call fails', () => {
    const { dev, arena } = context();
    const base = arena.bytesInUse;
    dev.output('z', dev.alloc('f32', [8]));
    dev.alloc('i32', [8]);
    dev.abandon();
    expect(arena.bytesInUse).toBe(base);
  });

  it('wraps every collective in the activity callbacks and prices it on the clock', () => {
    const events: boolean[] = [];
    const { dev } = context(events);
    const s = dev.psum(dev.array('x'), 'data');
    expect([...s.data]).toEqual([1, 2, 3, 4]);
    dev.barrier('data');
    expect(events).toEqual([true, false, true, false]);
    expect(dev.comm.counters().get('all-reduce')?.calls).toBe(1);
  });

  it('names the core and the job when an array is missing', () => {
    const { dev } = context();
    expect(() => dev.array('nope')).toThrow("core 1: no array 'nope' in job job");
  });
});
