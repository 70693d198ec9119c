// Put values are written byte by byte (the put path builds one per put): they must be exactly the text
// the format defines (the string it was built from before), and read back by decodeValue and valueSeq.
import t from 'tap';
import fc from 'fast-check';
import { decodeValue, encodeValue, valueSeq } from '../src/loadgen/value.js';

/** the format as text: "es1 <run:8> <writer:4> <seq:12> <due ms:17> " then '.' padding */
function reference(runId: string, info: { writer: number; seq: number; due: number }, size: number): Buffer {
  const b = Buffer.alloc(size, 0x2e);
  const head = `es1 ${runId} ${String(info.writer % 10000).padStart(4, '0')} ${String(info.seq).padStart(12, '0')} ${info.due.toFixed(3).padStart(17, '0')} `;
  b.write(head, 0, 'latin1');
  return b;
}

const runId = fc.stringMatching(/^[0-9a-z]{8}$/);
const info = fc.record({
  writer: fc.integer({ min: 0, max: 50_000 }),
  seq: fc.oneof(fc.integer({ min: 0, max: 999_999_999_999 }), fc.integer({ min: 0, max: 1000 })),
  due: fc.oneof(
    fc.double({ min: 0, max: 9_999_999_999_999, noNaN: true }),
    fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }).map((ms) => ms + 0.0005),
  ),
});

t.test('a value is the format text, and reads back', async (t) => {
  fc.assert(
    fc.property(runId, info, fc.integer({ min: 49, max: 600 }), (run, i, size) => {
      const v = encodeValue(run, i, size);
      t.strictSame(v, reference(run, i, size));
      const runBytes = Buffer.from(run, 'latin1');
      t.equal(valueSeq(v, runBytes), i.seq);
      t.equal(decodeValue(v, runBytes)?.seq, i.seq);
      return true;
    }),
    { numRuns: 500 },
  );
});

t.test('values of two runs in one process carry their own run id', async (t) => {
  const a = encodeValue('aaaaaaaa', { writer: 1, seq: 2, due: 3 }, 64);
  const b = encodeValue('bbbbbbbb', { writer: 1, seq: 2, due: 3 }, 64);
  t.equal(a.subarray(4, 12).toString(), 'aaaaaaaa');
  t.equal(b.subarray(4, 12).toString(), 'bbbbbbbb');
  t.equal(encodeValue('aaaaaaaa', { writer: 1, seq: 2, due: 3 }, 64).subarray(4, 12).toString(), 'aaaaaaaa');
});
