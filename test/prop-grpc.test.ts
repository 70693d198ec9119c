// Property tests of the gRPC deframer (src/loadgen/wire/grpc.ts): a stream of frames cut into chunks
// at arbitrary places yields the same messages in order with nothing left over, whatever the cuts; a
// length prefix over the maximum is the protocol error, wherever the prefix falls in the chunks.
import t from 'tap';
import fc from 'fast-check';
import { Deframer, frame, Status, WireError } from '../src/loadgen/wire/grpc.js';

const RUNS = { numRuns: 1000 };
const messages = fc.array(
  fc.oneof(fc.uint8Array({ maxLength: 16 }), fc.uint8Array({ minLength: 100, maxLength: 3000 })),
  { maxLength: 12 },
);

/** `b` cut at the given positions (sorted, deduplicated, within bounds): the chunks a socket might deliver */
function cut(b: Buffer, at: number[]): Buffer[] {
  const points = [...new Set(at.map((p) => p % (b.length + 1)))].sort((x, y) => x - y);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, b.length]) {
    chunks.push(b.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

t.test('any chunking of a stream of frames yields the same messages in order', async (t) => {
  fc.assert(
    fc.property(messages, fc.array(fc.nat(), { maxLength: 40 }), (msgs, at) => {
      const stream = Buffer.concat(msgs.map((m) => frame(m)));
      const got: Buffer[] = [];
      const d = new Deframer((m) => got.push(Buffer.from(m)));
      for (const chunk of cut(stream, at)) d.push(chunk);
      return (
        d.buffered === 0 &&
        got.length === msgs.length &&
        got.every((m, i) => Buffer.compare(m, Buffer.from(msgs[i])) === 0)
      );
    }),
    RUNS,
  );
  t.pass('messages held');
});

t.test('a stream cut short holds back only its incomplete last message', async (t) => {
  fc.assert(
    fc.property(messages, fc.array(fc.nat(), { maxLength: 20 }), fc.nat(), (msgs, at, end) => {
      const stream = Buffer.concat(msgs.map((m) => frame(m)));
      const short = stream.subarray(0, end % (stream.length + 1));
      const got: Buffer[] = [];
      const d = new Deframer((m) => got.push(Buffer.from(m)));
      for (const chunk of cut(short, at)) d.push(chunk);
      // the messages whose frames end within the bytes given
      let whole = 0;
      let pos = 0;
      for (const m of msgs) {
        if (pos + 5 + m.length > short.length) break;
        pos += 5 + m.length;
        whole++;
      }
      return got.length === whole && d.buffered === short.length - pos;
    }),
    RUNS,
  );
  t.pass('partial streams held');
});

t.test('a length prefix over the maximum is the protocol error, wherever the chunks fall', async (t) => {
  const max = 4096;
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 5 }),
      fc.integer({ min: max + 1, max: 0xffffffff }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (before, len, at) => {
        const header = Buffer.alloc(5);
        header.writeUInt32BE(len, 1);
        const stream = Buffer.concat([...before.map((m) => frame(m)), header, Buffer.alloc(16)]);
        const got: Buffer[] = [];
        const d = new Deframer((m) => got.push(Buffer.from(m)), max);
        try {
          for (const chunk of cut(stream, at)) d.push(chunk);
        } catch (err) {
          return (
            err instanceof WireError &&
            err.code === Status.INTERNAL &&
            err.message === `gRPC protocol error: message length ${len} above the maximum ${max} (garbled stream)` &&
            got.length === before.length
          );
        }
        return false;
      },
    ),
    RUNS,
  );
  t.pass('oversized prefixes refused');
});
