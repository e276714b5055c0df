import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { CLIENT_MESSAGE_TYPES, ERROR_CODES, PROTOCOL_VERSION, decodeClientMessage, decodeServerMessage, encodeMessage } from '../../src/coordinator/protocol.js';

const packr = new Packr({ useRecords: false });
const pack = (x: unknown) => packr.pack(x);

describe('decodeClientMessage', () => {
  it('accepts each well-formed message type', () => {
    const msgs = [
      { v: 1, id: 1, type: 'submit', workload: 'matmul', config: { m: 128 }, mesh: { data: 4, model: 2 }, name: 'x' },
      { v: 1, id: 'a', type: 'list', state: 'RUNNING', limit: 5 },
      { v: 1, id: 2, type: 'status', jobId: 'job-1' },
      { v: 1, id: 3, type: 'cancel', jobId: 'job-1' },
      { v: 1, id: 4, type: 'subscribe', jobId: 'job-1' },
      { v: 1, id: 5, type: 'unsubscribe', jobId: 'job-1' },
      { v: 1, id: 6, type: 'workloads' },
      { v: 1, id: 7, type: 'watch' },
      { v: 1, id: 8, type: 'steps', jobId: 'job-1', limit: 10 },
    ];
    expect(new Set(msgs.map((m) => m.type))).toEqual(new Set(CLIENT_MESSAGE_TYPES));
    for (const m of msgs) {
      const r = decodeClientMessage(pack(m));
      expect(r.ok, JSON.stringify(r)).toBe(true);
      if (r.ok) expect(r.msg).toMatchObject(m);
    }
  });

  it('names what is wrong with a bad frame', () => {
    const bad = (frame: Uint8Array) => {
      const r = decodeClientMessage(frame);
      if (r.ok) throw new Error('expected a rejection');
      return { ...r.error.toInfo(), id: r.id };
    };
    expect(bad(Buffer.from([0xc1]))).toMatchObject({ code: 'malformed' });
    expect(bad(Buffer.from([0x92, 0x01]))).toMatchObject({ code: 'malformed' });
    expect(bad(pack([1, 2, 3]))).toMatchObject({ code: 'malformed', message: 'a message must be a msgpack map' });
    expect(bad(pack('hello'))).toMatchObject({ code: 'malformed' });
    expect(bad(pack({ v: 2, id: 9, type: 'list' }))).toMatchObject({ code: 'unsupported_version', field: 'v', id: 9 });
    expect(bad(pack({ id: 9, type: 'list' }))).toMatchObject({ code: 'unsupported_version', field: 'v' });
    expect(bad(pack({ v: 1, id: 7, type: 'launch' }))).toMatchObject({ code: 'unknown_type', field: 'type', id: 7 });
    expect(bad(pack({ v: 1, id: 7, type: 'toString' }))).toMatchObject({ code: 'unknown_type' });
    expect(bad(pack({ v: 1, id: 7, type: 'submit' }))).toMatchObject({ code: 'invalid_message', field: 'workload' });
    expect(bad(pack({ v: 1, id: 7, type: 'submit', workload: 'm', mesh: { data: -1 } }))).toMatchObject({ code: 'invalid_message', field: 'mesh.data' });
    expect(bad(pack({ v: 1, id: 7, type: 'submit', workload: 'm', config: [1] }))).toMatchObject({ code: 'invalid_message', field: 'config' });
    expect(bad(pack({ v: 1, type: 'list' }))).toMatchObject({ code: 'invalid_message', field: 'id' });
    expect(bad(pack({ v: 1, id: 1, type: 'list', limit: 1e9 }))).toMatchObject({ code: 'invalid_message', field: 'limit' });
    expect(bad(new Uint8Array(2048))).toMatchObject({ code: 'malformed' });
    // 500k nested one-element lists: deep recursion in the decoder must come back as an error.
    expect(bad(Buffer.alloc(500_000, 0x91))).toMatchObject({ code: 'malformed' });
    const big = decodeClientMessage(pack({ v: 1, id: 1, type: 'workloads', pad: 'x'.repeat(100) }), 64);
    expect(big.ok).toBe(false);
  });

  it('never throws on arbitrary bytes, and every rejection carries a known code (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const r = decodeClientMessage(bytes);
        if (!r.ok) expect(ERROR_CODES).toContain(r.error.code);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary msgpack values shaped like messages (fast-check)', () => {
    const anyValue = fc.anything({ maxDepth: 3, withTypedArray: true, withBigInt: true, withMap: true, withSet: true, withDate: true });
    const messageLike = fc.record(
      {
        v: fc.oneof(fc.constant(PROTOCOL_VERSION), anyValue),
        id: fc.oneof(fc.integer(), fc.string(), anyValue),
        type: fc.oneof(fc.constantFrom(...CLIENT_MESSAGE_TYPES, '__proto__', 'constructor'), fc.string(), anyValue),
        workload: fc.oneof(fc.string(), anyValue),
        config: anyValue,
        mesh: fc.oneof(fc.dictionary(fc.string(), fc.integer()), anyValue),
        jobId: fc.oneof(fc.string(), anyValue),
      },
      { requiredKeys: [] },
    );
    const morePackr = new Packr({ useRecords: false, moreTypes: true });
    fc.assert(
      fc.property(fc.oneof(messageLike, anyValue), fc.nat(64), (value, cut) => {
        let frame: Uint8Array;
        try {
          frame = morePackr.pack(value);
        } catch {
          return; // not packable: nothing to decode
        }
        for (const f of [frame, frame.subarray(0, Math.max(0, frame.length - cut))]) {
          const r = decodeClientMessage(f);
          if (!r.ok) expect(ERROR_CODES).toContain(r.error.code);
        }
      }),
      { numRuns: 800 },
    );
  });

  it('round-trips server messages, typed arrays kept typed', () => {
    const msg = { v: 1, type: 'result' as const, jobId: 'job-1', result: { xs: new Float32Array([1, 2.5]) } };
    const back = decodeServerMessage(encodeMessage(msg));
    expect(back).toEqual(msg);
    expect((back as { result: { xs: unknown } }).result.xs).toBeInstanceOf(Float32Array);
  });
});
