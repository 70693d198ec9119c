// The compat apps' last resort: whatever a handler throws, an etcd-proxy admin API answers 200 text
// (and logs it), on the standalone app, a link's admin server and the daemon's /links/<name>/ routes.
import t from 'tap';
import pino from 'pino';
import { Writable } from 'node:stream';
import { buildApp } from '../src/api/app.js';
import { serveCompatAdmin } from '../src/api/admin.js';
import { compatApp } from '../src/api/compat.js';
import { Daemon } from '../src/daemon.js';
import { Metrics } from '../src/metrics.js';
import { freePorts } from '../src/util/net.js';
import { close, echoServer, startLink } from './helpers/net.js';

function capture() {
  const lines: { msg: string; err?: { message: string }; path?: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

const echo = await echoServer();
t.teardown(() => close(echo.server));

t.test('standalone compat app: a throwing handler answers 200 text and is logged', async (t) => {
  const { logger, lines } = capture();
  const link = await startLink({ upstreamPort: echo.port, logger });
  t.teardown(() => link.close());
  const metrics = new Metrics({ defaultMetrics: false });
  const app = compatApp(link, { from: 'localhost:1', to: 'localhost:2', metrics });
  link.findFault = () => {
    throw new Error('boom "inside"');
  };
  for (const [method, path] of [
    ['GET', '/delay-tx'],
    ['DELETE', '/pause-rx'],
    ['GET', '/drop-tx'],
    ['PUT', '/accept-delay'],
  ]) {
    const res = await app.request(path, {
      method,
      body: method === 'PUT' ? 'latency=1s&random-variable=0s' : undefined,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    t.equal(res.status, 200, `${method} ${path}`);
    t.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    t.equal(await res.text(), 'internal error "boom \\"inside\\""\n', `${method} ${path} text`);
  }
  metrics.registry.metrics = () => Promise.reject(new Error('registry broke'));
  const m = await app.request('/metrics');
  t.equal(m.status, 200);
  t.equal(await m.text(), 'internal error "registry broke"\n', 'an error outside the compat routes too');
  await new Promise((r) => setImmediate(r));
  const errors = lines.filter((l) => l.msg === 'etcd-proxy admin handler failed');
  t.equal(errors.length, 5, 'each one logged');
  t.equal(errors[0].err?.message, 'boom "inside"');
  t.equal(errors[0].path, '/delay-tx');
});

t.test("the daemon's /links/<name>/ compat routes and its per-link admin servers answer 200 text too", async (t) => {
  const { logger, lines } = capture();
  const daemon = new Daemon({
    metrics: new Metrics({ defaultMetrics: false }),
    reportDir: null,
    logger,
    serveAdmin: serveCompatAdmin,
  });
  t.teardown(() => daemon.close());
  const [port, admin] = await freePorts(2);
  await daemon.addLink({
    name: 'x',
    listen: `127.0.0.1:${port}`,
    upstream: `127.0.0.1:${echo.port}`,
    compatAdmin: `127.0.0.1:${admin}`,
  });
  const link = daemon.getLink('x');
  link.findFault = () => {
    throw new Error('kaput');
  };
  const app = buildApp(daemon);
  const res = await app.request('/links/x/delay-rx');
  t.equal(res.status, 200);
  t.equal(await res.text(), 'internal error "kaput"\n');
  const viaAdmin = await fetch(`http://127.0.0.1:${admin}/blackhole-tx`, { method: 'DELETE' });
  t.equal(viaAdmin.status, 200);
  t.equal(await viaAdmin.text(), 'internal error "kaput"\n');
  await new Promise((r) => setImmediate(r));
  t.equal(lines.filter((l) => l.msg === 'etcd-proxy admin handler failed').length, 2);
});
