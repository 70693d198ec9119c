// HPACK: the Huffman code built from its lengths against the RFC's codes and examples (RFC 7541 C.3,
// C.4), round trips, decoding errors, and nghttp2 (Node's http2 client) as the encoder: random header
// values on one connection, so its dynamic table, Huffman strings and indexes are all decoded.
import http2 from 'node:http2';
import net from 'node:net';
import t from 'tap';
import fc from 'fast-check';
import { HUFFMAN, huffmanDecode, huffmanEncode } from '../src/loadgen/wire/h2/huffman.js';
import { HpackDecoder, encodeRequestHeaders } from '../src/loadgen/wire/h2/hpack.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (f: string[]) => Array.from({ length: f.length / 2 }, (_, i) => [f[2 * i], f[2 * i + 1]]);

t.test('the canonical code is the RFC table', async (t) => {
  const code = (s: number) => [HUFFMAN.codes[s], HUFFMAN.lengths[s]];
  t.same(code(0), [0x1ff8, 13]);
  t.same(code(1), [0x7fffd8, 23]);
  t.same(code(0x30), [0x0, 5], "'0'");
  t.same(code(0x61), [0x3, 5], "'a'");
  t.same(code(0x20), [0x14, 6], "' '");
  t.same(code(0xff), [0x3ffffee, 26]);
  t.same(code(256), [0x3fffffff, 30], 'EOS');
  let kraft = 0;
  for (let s = 0; s <= 256; s++) kraft += 2 ** -HUFFMAN.lengths[s];
  t.equal(kraft, 1, 'a complete prefix code');
});

t.test("RFC 7541 C.4's Huffman strings", async (t) => {
  const cases: [string, string][] = [
    ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
    ['no-cache', 'a8eb10649cbf'],
    ['custom-key', '25a849e95ba97d7f'],
    ['custom-value', '25a849e95bb8e8b4bf'],
  ];
  for (const [s, h] of cases) {
    t.equal(huffmanEncode(s).toString('hex'), h, `encodes ${s}`);
    t.equal(huffmanDecode(hex(h), 0, hex(h).length), s, `decodes ${s}`);
  }
});

t.test('Huffman round trips any octets; bad padding and EOS are errors', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const s = Buffer.from(bytes).toString('latin1');
      const h = huffmanEncode(s);
      return huffmanDecode(h, 0, h.length) === s;
    }),
    { numRuns: 500 },
  );
  t.throws(() => huffmanDecode(Buffer.from([0x00]), 0, 1), /padding/, "'0' then 3 zero bits");
  t.throws(() => huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2), /padding/, '8 or more bits of padding');
  t.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4), /end-of-string/);
});

t.test('RFC 7541 C.3 and C.4: three requests on one decoder each', async (t) => {
  for (const [name, blocks] of [
    [
      'C.3 (plain)',
      [
        '828684410f7777772e6578616d706c652e636f6d',
        '828684be58086e6f2d6361636865',
        '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565',
      ],
    ],
    [
      'C.4 (Huffman)',
      [
        '828684418cf1e3c2e5f23a6ba0ab90f4ff',
        '828684be5886a8eb10649cbf',
        '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf',
      ],
    ],
  ] as const) {
    const d = new HpackDecoder();
    // RFC 7541 C.3/C.4: the same three requests, each adding to the table
    const get = [
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ];
    const want = [
      get,
      [...get, ['cache-control', 'no-cache']],
      [
        [':method', 'GET'],
        [':scheme', 'https'],
        [':path', '/index.html'],
        [':authority', 'www.example.com'],
        ['custom-key', 'custom-value'],
      ],
    ];
    blocks.forEach((blk, i) => t.same(pairs(d.decode(hex(blk))), want[i], `${name} ${i + 1}`));
    t.equal(d.entries, 3, `${name}: three entries indexed`);
  }
});

t.test('decoding errors are HpackErrors, never crashes', async (t) => {
  const d = () => new HpackDecoder();
  t.throws(() => d().decode(hex('80')), /index 0/);
  t.throws(() => d().decode(hex('be')), /not in the table/);
  t.throws(() => d().decode(hex('3fe221')), /table size/, 'a size above 4096');
  t.throws(() => d().decode(hex('8220')), /after a header field/);
  t.throws(() => d().decode(hex('400a6375')), /past the block/);
  t.throws(() => d().decode(hex('ff')), /past the block/);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        new HpackDecoder().decode(bytes);
      } catch (err) {
        return (err as Error).name === 'HpackError' || /huffman/.test((err as Error).message);
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});

/** header blocks a Node http2 client (nghttp2) sends, cut out of its frames */
function capture(onBlocks: (blocks: Buffer[]) => void): Promise<net.Server> {
  return new Promise((resolve) => {
    const server = net.createServer((sock) => {
      let buf = Buffer.alloc(0);
      let skipped = false;
      let parts: Buffer[] = [];
      sock.write(Buffer.from('000000040000000000', 'hex'));
      sock.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        if (!skipped) {
          if (buf.length < 24) return;
          buf = buf.subarray(24);
          skipped = true;
        }
        const blocks: Buffer[] = [];
        while (buf.length >= 9) {
          const len = buf.readUIntBE(0, 3);
          if (buf.length < 9 + len) break;
          const [type, flags] = [buf[3], buf[4]];
          let p = buf.subarray(9, 9 + len);
          if (type === 1) {
            if (flags & 0x8) p = p.subarray(1, p.length - p[0]);
            if (flags & 0x20) p = p.subarray(5);
          }
          if (type === 1 || type === 9) {
            parts.push(Buffer.from(p));
            if (flags & 0x4) {
              blocks.push(Buffer.concat(parts));
              parts = [];
            }
          }
          buf = buf.subarray(9 + len);
        }
        if (blocks.length) onBlocks(blocks);
      });
    });
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

t.test("nghttp2's header blocks decode to what was sent", async (t) => {
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 60,
  });
  const requests = fc.sample(
    fc.array(fc.tuple(fc.constantFrom('x-a', 'x-b', 'grpc-message', 'user-agent', 'x-long-header-name'), printable), {
      minLength: 1,
      maxLength: 6,
    }),
    { numRuns: 300, seed: 7 },
  );
  const got: Buffer[] = [];
  let wake = () => {};
  const server = await capture((b) => {
    got.push(...b);
    wake();
  });
  t.teardown(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  const sent: [string, string][][] = [];
  for (const fields of requests) {
    // one value per name: Node joins repeated names
    const uniq = [...new Map(fields).entries()];
    sent.push(uniq);
    const req = session.request({ ':method': 'POST', ':path': '/p', ...Object.fromEntries(uniq) }, { endStream: true });
    req.on('error', () => {});
  }
  const deadline = Date.now() + 10_000;
  while (got.length < requests.length && Date.now() < deadline)
    await new Promise<void>((r) => ((wake = r), setTimeout(r, 100)));
  t.equal(got.length, requests.length, 'every block captured');
  const d = new HpackDecoder();
  let same = 0;
  for (let i = 0; i < got.length; i++) {
    const fields = pairs(d.decode(got[i])).filter(([n]) => !n.startsWith(':'));
    if (JSON.stringify(fields) === JSON.stringify(sent[i])) same++;
    else t.fail(`block ${i}: ${JSON.stringify(fields)} != ${JSON.stringify(sent[i])}`);
  }
  t.equal(same, requests.length, 'each block decoded to its request, in order, on one decoder');
  t.ok(d.entries > 0, 'the dynamic table was used');
});

t.test('request blocks: whole static fields by index, the rest plain literals', async (t) => {
  const fields: [string, string][] = [
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', '/etcdserverpb.KV/Put'],
    [':authority', '127.0.0.1:2379'],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
    ['grpc-timeout', '5000m'],
  ];
  const block = encodeRequestHeaders(fields);
  t.same(pairs(new HpackDecoder().decode(block)), fields);
  t.equal(block[0], 0x83, ':method POST by its static index');
});
