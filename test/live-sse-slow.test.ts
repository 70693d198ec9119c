// A page that stops reading its event stream (a paused tab) over a real socket: while the daemon pushes
// far more than the socket buffers take, what waits for that page stays within the queue's bound (the
// stream itself holds nothing: it is pulled), events are dropped instead, and once the page reads again
// the first thing it gets after what was buffered is a resync. GET /live reports the stream's figures.
import t from 'tap';
import { createAdaptorServer } from '@hono/node-server';
import net from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { buildApp } from '../src/api/app.js';
import { DEFAULT_SSE_LIMITS } from '../src/api/live/sse-queue.js';
import { Daemon } from '../src/daemon.js';
import type { TimelineLine } from '../src/loadgen/report.js';
import { Metrics } from '../src/metrics.js';

const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
t.teardown(() => daemon.close());
const server = createAdaptorServer({ fetch: buildApp(daemon).fetch }) as Server;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
t.teardown(() => new Promise((r) => server.close(r)));
const port = (server.address() as AddressInfo).port;

const streams = async () => (await (await fetch(`http://127.0.0.1:${port}/live`)).json()).streams;

function line(i: number): TimelineLine {
  return {
    time: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    elapsed: i,
    targetRate: 50,
    putRate: 50,
    eventRate: 600,
    put: { count: 50, p50: 2, p90: 3, p99: 4, p999: 5, max: 6, mean: 2 },
    watch: { count: 50, p50: 2, p90: 3, p99: 4, p999: 5, max: 6, mean: 2 },
    inFlight: 3,
    overloaded: false,
    counts: { issued: 50 * i, ok: 50 * i, failed: 0, indeterminate: 0 },
    violations: { ordered: 0, unique: 0, reliable: 0, unexpected: 0 },
  } as unknown as TimelineLine;
}

t.test('a paused reader: bounded queue, drops, then a resync', async (t) => {
  const sock = net.connect(port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  await new Promise((r) => sock.once('connect', r));
  sock.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  let got = '';
  await new Promise<void>((r) =>
    sock.on('data', function head(d) {
      got += d.toString();
      if (got.includes(': connected')) {
        sock.off('data', head);
        r();
      }
    }),
  );
  sock.pause(); // the tab stops reading
  t.equal((await streams()).clients, 1);
  // ~530 bytes an event: 60k events is ~32 MB, far past the socket buffers and the queue
  let most = 0;
  for (let i = 1; i <= 60_000; i++) {
    daemon.emit('load-interval', line(i));
    if (i % 613 === 0) {
      const st = await streams();
      most = Math.max(most, st.pendingBytes);
      await new Promise((r) => setImmediate(r));
    }
  }
  const s = await streams();
  t.ok(most <= DEFAULT_SSE_LIMITS.maxBytes, `at most ${most} bytes queued for the paused reader`);
  t.ok(most > 100_000, 'the queue did fill (the socket stopped taking)');
  t.ok(s.dropped > 10_000, `${s.dropped} events dropped`);
  // reading again: what the sockets held, then the resync, then the newest events
  let text = '';
  sock.on('data', (d) => (text += d.toString()));
  sock.resume();
  await new Promise<void>((r) => {
    const check = setInterval(() => {
      if (/event: resync\ndata: \{"dropped":\d+\}/.test(text) && text.includes('"elapsed":60000')) {
        clearInterval(check);
        r();
      }
    }, 50);
  });
  const resync = text.indexOf('event: resync');
  t.ok(resync > 0, 'told to resync');
  t.ok(text.indexOf('"elapsed":60000') > resync, 'the newest event after it');
  sock.destroy();
  await new Promise<void>((r) => {
    const check = setInterval(async () => {
      if ((await streams()).clients === 0) {
        clearInterval(check);
        r();
      }
    }, 50);
  });
  t.pass('the closed stream is let go');
});
