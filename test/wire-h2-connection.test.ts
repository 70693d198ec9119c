// The HTTP/2 connection against nghttp2 (a Node http2 server): our header blocks decode there and its
// (dynamic-table, Huffman) blocks here; both directions' flow control with bodies far larger than the
// windows; resets, GOAWAY, PING; and a peer that says nothing or sends garbage never throws out.
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import net from 'node:net';
import t from 'tap';
import fc from 'fast-check';
import { H2Connection, type H2Stream, type StreamHandler } from '../src/loadgen/wire/h2/connection.js';
import { encodeRequestHeaders, fieldOf } from '../src/loadgen/wire/h2/hpack.js';

interface Result {
  headers: string[][];
  data: Buffer;
  code?: number;
  err?: Error;
  sent?: boolean;
}

function collect(): { handler: StreamHandler; done: Promise<Result> } {
  const r: Result = { headers: [], data: Buffer.alloc(0) };
  const parts: Buffer[] = [];
  let resolve!: (r: Result) => void;
  const done = new Promise<Result>((res) => (resolve = res));
  const handler: StreamHandler = {
    onHeaders: (f) => void r.headers.push(f),
    onData: (d) => void parts.push(Buffer.from(d)),
    onClose: (code, err, sent) => {
      Object.assign(r, { code, err, sent, data: Buffer.concat(parts) });
      resolve(r);
    },
  };
  return { handler, done };
}

const block = (path: string, port: number) =>
  encodeRequestHeaders([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', path],
    [':authority', `127.0.0.1:${port}`],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);

async function h2server(t: Tap.Test, onStream: (s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void) {
  const server = http2.createServer();
  server.on('stream', onStream);
  server.on('sessionError', () => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  t.teardown(() => {
    for (const s of sessions) s.destroy();
    server.close();
  });
  return { server, port: (server.address() as net.AddressInfo).port, sessions };
}

function connect(t: Tap.Test, port: number, connectTimeoutMs = 3000): H2Connection {
  const c = new H2Connection({ host: '127.0.0.1', port, connectTimeoutMs });
  t.teardown(() => c.destroy(undefined));
  return c;
}

/** echoes the body with random response headers and trailers (nghttp2 indexes and Huffman-codes them) */
function echo(s: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) {
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  s.on('end', () => {
    const body = Buffer.concat(parts);
    const tag = String(h['x-tag'] ?? '');
    s.respond(
      { ':status': 200, 'content-type': 'application/grpc', 'x-tag': tag, 'x-path': String(h[':path']) },
      { waitForTrailers: true },
    );
    s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'grpc-message': `ok ${tag}` }));
    s.end(body);
  });
  s.on('error', () => {});
}

t.test('many calls at once: headers both ways, bodies, trailers', async (t) => {
  const seen: http2.IncomingHttpHeaders[] = [];
  const { port } = await h2server(t, (s, h) => {
    seen.push(h);
    echo(s, h);
  });
  const c = connect(t, port);
  // no edge spaces: nghttp2 drops such values
  const tags = fc.sample(
    fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.'), maxLength: 30 }),
    { numRuns: 400, seed: 3 },
  );
  const calls = tags.map((tag, i) => {
    const { handler, done } = collect();
    const hb = Buffer.concat([block(`/svc/M${i % 7}`, port), encodeRequestHeaders([['x-tag', tag]])]);
    c.request(hb, handler, Buffer.from(`body ${i}`));
    return done;
  });
  const results = await Promise.all(calls);
  let good = 0;
  results.forEach((r, i) => {
    const [head, trailers] = r.headers;
    if (
      r.code === 0 &&
      r.data.toString() === `body ${i}` &&
      fieldOf(head, ':status') === '200' &&
      fieldOf(head, 'x-tag') === tags[i] &&
      fieldOf(head, 'x-path') === `/svc/M${i % 7}` &&
      fieldOf(trailers, 'grpc-status') === '0' &&
      fieldOf(trailers, 'grpc-message') === `ok ${tags[i]}`
    )
      good++;
  });
  t.equal(good, tags.length, 'every call got its own body, headers and trailers');
  t.equal(seen.length, tags.length);
  t.same(
    [seen[0][':method'], seen[0]['content-type'], seen[0].te, seen[0][':authority']],
    ['POST', 'application/grpc', 'trailers', `127.0.0.1:${port}`],
    'nghttp2 decoded our request headers',
  );
  t.ok(c.handshaken && !c.draining && c.streamCount === 0, 'every stream closed, the connection open');
});

t.test('flow control: a 3 MiB request into a 64 KiB window, a 6 MiB answer', async (t) => {
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
  const answer = Buffer.alloc(6 << 20, 0x5a);
  let gotHash = '';
  const { port } = await h2server(t, (s) => {
    const h = createHash('sha1');
    let n = 0;
    s.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    s.on('end', () => {
      gotHash = `${n}:${h.digest('hex')}`;
      s.respond({ ':status': 200 }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(answer);
    });
  });
  const c = connect(t, port);
  const { handler, done } = collect();
  const s: H2Stream = c.request(block('/big', port), handler);
  // in pieces, as a bidi stream writes
  for (let off = 0; off < big.length; off += 100_000) s.write(big.subarray(off, off + 100_000));
  s.end();
  const r = await done;
  t.equal(
    gotHash,
    `${big.length}:${createHash('sha1').update(big).digest('hex')}`,
    'the server got every byte in order',
  );
  t.equal(r.code, 0);
  t.equal(r.data.length, answer.length, 'the whole answer arrived');
  t.ok(r.data.equals(answer));
});

t.test('a reset by the server, a GOAWAY, a PING', async (t) => {
  let n = 0;
  const { port, sessions } = await h2server(t, (s, h) => {
    n++;
    s.on('error', () => {});
    if (h[':path'] === '/reset') s.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    else if (h[':path'] !== '/hang') echo(s, h);
  });
  const c = connect(t, port);
  const reset = collect();
  c.request(block('/reset', port), reset.handler, Buffer.from('x'));
  const r = await reset.done;
  t.equal(r.code, http2.constants.NGHTTP2_REFUSED_STREAM, 'the reset code reaches the handler');
  t.equal(r.sent, true);

  const [session] = sessions;
  const pinged = await new Promise<boolean>((res) => session.ping((err) => res(!err)));
  t.ok(pinged, 'the server PING was acknowledged');

  const hang = collect();
  c.request(block('/hang', port), hang.handler, Buffer.from('x'));
  while (n < 2) await new Promise((r) => setTimeout(r, 10));
  // streams above 1 were never processed: the hanging one (id 3) is answered as never sent
  session.goaway(0, 1);
  const g = await hang.done;
  t.equal(g.code, -1);
  t.equal(g.sent, false, 'a stream past GOAWAY was never sent');
  t.match(g.err?.message, /GOAWAY/);
  t.ok(c.draining, 'no new streams on it');
  t.throws(() => c.request(block('/x', port), collect().handler), /closing/);
});

t.test('a peer that accepts and never speaks: calls fail as never sent', async (t) => {
  const server = net.createServer(() => {});
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const c = connect(t, (server.address() as net.AddressInfo).port, 200);
  const { handler, done } = collect();
  c.request(block('/p', 1), handler, Buffer.from('x'));
  const r = await done;
  t.equal(r.code, -1);
  t.equal(r.sent, false);
  t.match(r.err?.message, /timed out/);
  t.ok(c.destroyed);
});

t.test('a connection lost mid-call, and garbage from the peer, end the calls; nothing throws', async (t) => {
  const samples = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { numRuns: 150, seed: 11 });
  let i = 0;
  const server = net.createServer((sock) => {
    const bytes = samples[i++ % samples.length];
    sock.on('error', () => {});
    // a valid SETTINGS, then the sample; or, for the first connection, a close mid-call
    sock.write(Buffer.from('000000040000000000', 'hex'));
    sock.once('data', () => (i === 1 ? sock.destroy() : sock.end(Buffer.from(bytes))));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  let ended = 0;
  for (let k = 0; k < samples.length; k++) {
    const c = connect(t, port);
    const a = collect();
    const b = collect();
    c.request(block('/a', port), a.handler, Buffer.from('x'));
    c.request(block('/b', port), b.handler);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    if (ra.code !== undefined && rb.code !== undefined) ended++;
    if (k === 0) t.match(ra.err?.message, /closed/, 'a lost connection is named');
  }
  t.equal(ended, samples.length, 'every call ended, whatever the peer sent');
});

t.test('sends blocked on a window that never comes back: the connection is ended', async (t) => {
  // a server that reads and never widens the window; one answers PINGs (the bytes were "lost" on the
  // way: the window is gone for good), the other answers nothing (dead)
  const servers = await Promise.all(
    [true, false].map(async (answersPing) => {
      const server = net.createServer((sock) => {
        sock.on('error', () => {});
        sock.write(Buffer.from('000000040000000000', 'hex'));
        let buf = Buffer.alloc(0);
        let preface = false;
        sock.on('data', (c) => {
          buf = Buffer.concat([buf, c]);
          if (!preface && buf.length >= 24) [buf, preface] = [buf.subarray(24), true];
          while (preface && buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
            const len = buf.readUIntBE(0, 3);
            if (buf[3] === 6 && !(buf[4] & 1) && answersPing)
              sock.write(Buffer.concat([Buffer.from('000008060100000000', 'hex'), buf.subarray(9, 17)]));
            buf = buf.subarray(9 + len);
          }
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      t.teardown(() => server.close());
      return (server.address() as net.AddressInfo).port;
    }),
  );
  const results = await Promise.all(
    servers.map((port) => {
      const c = connect(t, port);
      const { handler, done } = collect();
      // 100 KiB: more than the 64 KiB window a server starts with
      c.request(block('/p', port), handler, Buffer.alloc(100 * 1024));
      return done;
    }),
  );
  t.match(results[0].err?.message, /window lost/, 'PING answered, no window: lost');
  t.match(results[1].err?.message, /no answer to a PING/, 'PING unanswered: dead');
  t.ok(
    results.every((r) => r.code === -1 && r.sent === true),
    'the calls were sent: their outcome is unknown',
  );
});

t.test('frames split anywhere across reads are put back together', async (t) => {
  const hdr = (len: number, type: number, flags: number, sid: number) => {
    const b = Buffer.alloc(9);
    b.writeUIntBE(len, 0, 3);
    [b[3], b[4]] = [type, flags];
    b.writeUInt32BE(sid, 5);
    return b;
  };
  const frames = (sid: number, body: Buffer) => {
    const head = encodeRequestHeaders([
      [':status', '200'],
      ['content-type', 'application/grpc'],
    ]);
    const trailers = encodeRequestHeaders([['grpc-status', '0']]);
    return Buffer.concat([
      hdr(head.length, 1, 4, sid),
      head,
      hdr(body.length, 0, 0, sid),
      body,
      hdr(trailers.length, 1, 5, sid),
      trailers,
    ]);
  };
  const plans = fc.sample(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 200 }), {
    numRuns: 20,
    seed: 5,
  });
  let plan = 0;
  const server = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    const sizes = plans[plan++ % plans.length];
    sock.write(Buffer.from('000000040000000000', 'hex'));
    let answered = false;
    sock.on('data', () => {
      if (answered) return;
      answered = true;
      // answer streams 1 and 3 in pieces of the planned sizes, one write per turn of the event loop
      let out = Buffer.concat([frames(1, Buffer.alloc(3000, 1)), frames(3, Buffer.alloc(20, 3))]);
      let k = 0;
      const step = () => {
        if (!out.length || sock.destroyed) return;
        const n = sizes[k++ % sizes.length];
        sock.write(out.subarray(0, n));
        out = out.subarray(n);
        setImmediate(step);
      };
      step();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  let good = 0;
  for (let i = 0; i < plans.length; i++) {
    const c = connect(t, port);
    const a = collect();
    const b = collect();
    c.request(block('/a', port), a.handler, Buffer.from('x'));
    c.request(block('/b', port), b.handler, Buffer.from('y'));
    const [ra, rb] = await Promise.all([a.done, b.done]);
    if (ra.code === 0 && rb.code === 0 && ra.data.equals(Buffer.alloc(3000, 1)) && rb.data.equals(Buffer.alloc(20, 3)))
      good++;
    c.destroy(undefined);
  }
  t.equal(good, plans.length, 'every split gave both answers whole');
});
