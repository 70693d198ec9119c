// The daemon's JSON API without etcd: links, faults, compat routes, bad input, auth, OpenAPI.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { buildApp } from '../src/api/app.js';
import { openapiDocument } from '../src/api/openapi.js';
import { Daemon } from '../src/daemon.js';
import { Metrics } from '../src/metrics.js';
import { freePorts } from '../src/util/net.js';
import { appClient } from './helpers/http.js';
import { close, connect, echoServer } from './helpers/net.js';

const daemon = new Daemon({ metrics: new Metrics({ defaultMetrics: false }), reportDir: null });
const app = buildApp(daemon);
const echo = await echoServer();
t.teardown(async () => {
  await daemon.close();
  await close(echo.server);
});

const call = appClient(app);

async function rtt(port: number): Promise<number> {
  const s = await connect(port);
  const t0 = performance.now();
  await new Promise<void>((r) => {
    s.once('data', () => r());
    s.write('ping');
  });
  const ms = performance.now() - t0;
  s.destroy();
  return ms;
}

t.test('links: create, list, get, faults with effect, compat texts, delete', async (t) => {
  const [port] = await freePorts(1);
  let r = await call('POST', '/links', { name: 'e1', listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${echo.port}` });
  t.equal(r.status, 201);
  t.equal(r.json.name, 'e1');
  t.equal(r.json.listen, `127.0.0.1:${port}`);
  r = await call('GET', '/links');
  t.same(
    r.json.map((l: any) => l.name),
    ['e1'],
  );
  const fast = await rtt(port);

  r = await call('POST', '/links/e1/faults', { type: 'delay', direction: 'tx', latency: '120ms' });
  t.equal(r.status, 201);
  const id = r.json.id;
  t.equal(r.json.spec.latency, 120);
  const slow = await rtt(port);
  t.ok(slow >= 110, `delay shows in the round trip (${fast.toFixed(1)} → ${slow.toFixed(1)} ms)`);
  r = await call('GET', '/links/e1');
  t.equal(r.json.faults.length, 1);
  t.ok(r.json.tx.forwarded > 0, 'byte counters move');

  r = await call('GET', '/links/e1/delay-tx');
  t.equal(r.text, 'current send latency 120ms\n');
  t.equal(r.type, 'text/plain; charset=utf-8');
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  r = await call('PUT', '/links/e1/delay-rx', 'latency=50ms&random-variable=0s', form);
  t.equal(r.text, 'added receive latency 50ms±0s (current latency 50ms)\n');
  r = await call('PUT', '/links/e1/pause-tx', undefined, form);
  t.equal(r.text, `paused forwarding [tcp://127.0.0.1:${port} -> tcp://127.0.0.1:${echo.port}]\n`);
  r = await call('DELETE', '/links/e1/pause-tx');
  t.match(r.text, /^unpaused forwarding/);
  r = await call('GET', '/links/e1/faults');
  t.same(r.json.map((f: any) => f.type).sort(), ['delay', 'delay']);

  r = await call('DELETE', `/links/e1/faults/${id}`);
  t.equal(r.status, 204);
  r = await call('DELETE', `/links/e1/faults/${id}`);
  t.equal(r.status, 404);
  r = await call('DELETE', '/links/e1/faults');
  t.same(r.json, { removed: 1 });
  t.ok((await rtt(port)) < 100, 'fast again');

  await call('POST', '/links/e1/faults', { type: 'pause', direction: 'rx', duration: '1h' });
  r = await call('POST', '/reset');
  t.same(r.json, { cleared: 1 });
  const live = await connect(port);
  await new Promise<void>((res) => {
    live.once('data', () => res());
    live.write('x');
  });
  const reset = new Promise<string>((res) => live.once('error', (e: NodeJS.ErrnoException) => res(e.code ?? '')));
  r = await call('POST', '/links/e1/reset');
  t.ok(r.json.reset >= 1, `${r.json.reset} connections reset`);
  t.equal(await reset, 'ECONNRESET', 'the client saw a reset');

  r = await call('DELETE', '/links/e1');
  t.equal(r.status, 204);
  r = await call('GET', '/links/e1');
  t.equal(r.status, 404);
  t.match(r.json.error, /no link named "e1"/);
});

t.test('bad input: 4xx naming the field, and the daemon keeps serving', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const busy = (blocker.address() as net.AddressInfo).port;
  const [port] = await freePorts(1);
  t.equal(
    (await call('POST', '/links', { name: 'ok', listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${echo.port}` }))
      .status,
    201,
  );

  const cases: [string, string, unknown, number, RegExp][] = [
    ['POST', '/links', '{not json', 400, /invalid JSON body/],
    ['POST', '/links', [], 400, /Expected object/],
    ['POST', '/links', { name: 'x', listen: '127.0.0.1:1' }, 400, /"path":"upstream"/],
    [
      'POST',
      '/links',
      { name: 'x', listen: 'nowhere', upstream: '127.0.0.1:1' },
      400,
      /"path":"listen","message":"expected \\"host:port\\", got \\"nowhere\\""/,
    ],
    ['POST', '/links', { name: 'bad name!', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }, 400, /"path":"name"/],
    [
      'POST',
      '/links',
      { name: 'x', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', extra: true },
      400,
      /Unrecognized key.*extra/,
    ],
    ['POST', '/links', { name: 'x', listen: '127.0.0.1:99999', upstream: '127.0.0.1:1' }, 400, /port out of range/],
    ['POST', '/links', { name: 'x', listen: `127.0.0.1:${busy}`, upstream: '127.0.0.1:1' }, 409, /in use/],
    ['POST', '/links', { name: 'ok', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }, 409, /already exists/],
    [
      'POST',
      '/links/ok/faults',
      { type: 'delay', direction: 'tx', latency: '5' },
      400,
      /"path":"latency","message":"time: missing unit in duration \\"5\\"/,
    ],
    ['POST', '/links/ok/faults', { type: 'delay', direction: 'tx', latency: 'abc' }, 400, /invalid duration/],
    [
      'POST',
      '/links/ok/faults',
      { type: 'delay', direction: 'tx', latency: 1e300 },
      400,
      /"path":"latency","message":"expected a duration of at most 2562047h47m16.854775807s/,
    ],
    [
      'POST',
      '/links/ok/faults',
      { type: 'pause', direction: 'tx', duration: 0 },
      400,
      /"path":"duration","message":"expected a duration of at least 1ms \(omit it for no expiry\)/,
    ],
    [
      'POST',
      '/links/ok/faults',
      { type: 'delay', direction: 'rx', latency: '1s', duration: '1ns' },
      400,
      /"path":"duration","message":"expected a duration of at least 1ms/,
    ],
    ['POST', '/links/ok/faults', { type: 'accept-pause', duration: '999us' }, 400, /"path":"duration"/],
    [
      'POST',
      '/links/ok/faults',
      { type: 'bandwidth', direction: 'tx', rate: 2e10 },
      400,
      /"path":"rate","message":"expected at most 10737418240 bytes\/s/,
    ],
    [
      'POST',
      '/links/ok/faults',
      { type: 'drop', direction: 'tx', probability: 0 },
      400,
      /"path":"probability","message":"expected a number in \(0, 1\]"/,
    ],
    ['POST', '/links/ok/faults', null, 400, /"error":"invalid fault"/],
    ['POST', '/links/ok/faults', '"pause"', 400, /"error":"invalid fault"/],
    ['PUT', '/load', { replace: 'yes' }, 400, /"path":"replace"/],
    ['PUT', '/load', { replace: true, profile: { rate: 10 } }, 422, /no client endpoints/],
    [
      'POST',
      '/links/ok/faults',
      { type: 'drop', direction: 'tx', probability: '0.5' },
      400,
      /"path":"probability","message":"Expected number, received string"/,
    ],
    ['POST', '/links/ok/faults', { type: 'bandwidth', direction: 'rx', rate: 1e30 }, 400, /"path":"rate"/],
    ['POST', '/links/ok/faults', { type: 'teleport' }, 400, /"path":"type"/],
    ['POST', '/links/ok/faults', { type: 'pause' }, 400, /"path":"direction"/],
    ['POST', '/links/ok/faults', { type: 'pause', direction: 'tx', bogus: 1 }, 400, /bogus/],
    ['POST', '/links/nope/faults', { type: 'pause', direction: 'tx' }, 404, /no link named \\"nope\\"/],
    ['DELETE', '/links/nope', undefined, 404, /no link/],
    ['DELETE', '/links/ok/faults/ok-999', undefined, 404, /no fault/],
    ['PATCH', '/load', { rate: 10 }, 404, /no load is running/],
    ['PATCH', '/load', { rate: -1 }, 400, /"path":"rate"/],
    ['PATCH', '/load', { rate: 'x' }, 400, /"path":"rate"/],
    ['PUT', '/load', { profile: { rate: -5 } }, 400, /"path":"profile.rate"/],
    ['PUT', '/load', { profile: { watchers: 1.5 } }, 400, /"path":"profile.watchers"/],
    ['PUT', '/load', { profile: { settle: '10' } }, 400, /"path":"profile.settle"/],
    ['PUT', '/load', { profile: { bogus: 1 } }, 400, /bogus/],
    ['PUT', '/load', { endpoints: ['x'] }, 400, /"path":"endpoints\[0\]"/],
    ['PUT', '/load', { profile: { rate: 10 } }, 422, /no client endpoints/],
    ['DELETE', '/load', undefined, 404, /no load is running/],
    ['GET', '/cluster', undefined, 404, /knows no members/],
    ['GET', '/no/such/route', undefined, 404, /no route GET/],
  ];
  for (const [method, path, body, status, re] of cases) {
    const r = await call(method, path, body);
    t.equal(r.status, status, `${method} ${path} ${JSON.stringify(body)} → ${status}`);
    t.match(r.text, re, `${method} ${path} message`);
    if (r.json) t.ok(Array.isArray(r.json.details), 'details array');
  }
  t.equal((await call('GET', '/healthz')).status, 200, 'still serving');
  t.equal((await call('GET', '/links')).json.length, 1);
  t.same((await call('GET', '/links/ok/faults')).json, [], 'no rejected fault was applied');
  const long = await call('POST', '/links/ok/faults', {
    type: 'delay',
    direction: 'tx',
    latency: '200h',
    jitter: '1s',
    duration: '1ms',
  });
  t.equal(long.status, 201, 'a 200h latency is accepted (Go accepts it too)');
  t.equal(long.json.spec.latency, 720_000_000);
  t.equal(long.json.spec.duration, 1);
});

t.test(
  "request bodies are limited to 1 MiB (413, nothing applied); compat routes keep Go's 10 MiB form limit",
  async (t) => {
    const [port] = await freePorts(1);
    t.equal(
      (await call('POST', '/links', { name: 'lim', listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${echo.port}` }))
        .status,
      201,
    );
    t.teardown(() => call('DELETE', '/links/lim'));
    const spec = JSON.stringify({ type: 'pause', direction: 'tx' });
    const exact = spec + ' '.repeat((1 << 20) - spec.length);
    let r = await call('POST', '/links/lim/faults', exact);
    t.equal(r.status, 201, 'exactly 1 MiB is read');
    await call('DELETE', '/links/lim/faults');
    r = await call('POST', '/links/lim/faults', exact + ' ');
    t.equal(r.status, 413, '1 MiB + 1 byte');
    t.same(r.json, {
      error: 'request body too large: limit 1 MiB',
      details: [{ path: 'body', message: 'expected at most 1048576 bytes' }],
    });
    t.same((await call('GET', '/links/lim/faults')).json, [], 'nothing applied');
    r = await call('PUT', '/load', '{"profile":' + ' '.repeat(2 << 20) + '{}}');
    t.equal(r.status, 413, 'PUT /load too');
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    r = await call('PUT', '/links/lim/delay-tx', 'latency=3s&random-variable=0s&pad=' + 'x'.repeat(2 << 20), form);
    t.equal(
      r.text,
      'added send latency 3s±0s (current latency 3s)\n',
      'a 2 MiB form on a compat route is read like Go does',
    );
    r = await call('PUT', '/links/lim/delay-tx', 'x'.repeat((10 << 20) + 1), form);
    t.equal(r.text, 'wrong form "http: POST too large"\n');
    t.equal(r.status, 200);
    r = await call('POST', '/links/lim/reset', ' '.repeat((1 << 20) + 1));
    t.equal(r.status, 413, 'POST /links/:name/reset is a JSON route');
  },
);

t.test('PUT /load passes replace to the daemon', async (t) => {
  const seen: unknown[] = [];
  const orig = daemon.startLoad;
  daemon.startLoad = function (this: Daemon, ...args: Parameters<Daemon['startLoad']>) {
    seen.push(args[2]);
    return orig.apply(this, args);
  };
  t.teardown(() => {
    daemon.startLoad = orig;
  });
  t.equal((await call('PUT', '/load', { replace: true, profile: { rate: 10 } })).status, 422);
  t.equal((await call('PUT', '/load', { replace: false })).status, 422);
  t.equal((await call('PUT', '/load', {})).status, 422);
  t.same(seen, [{ replace: true }, { replace: false }, { replace: undefined }]);
});

t.test('bearer token: required everywhere but /healthz', async (t) => {
  const guarded = buildApp(daemon, { token: 's3cret-token' });
  t.equal((await guarded.request('/healthz')).status, 200);
  const denied = await guarded.request('/links');
  t.equal(denied.status, 401);
  t.match(await denied.text(), /bearer token/);
  t.equal((await guarded.request('/links', { headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.equal((await guarded.request('/links', { headers: { authorization: 'Bearer s3cret-token' } })).status, 200);
  t.equal(
    (await guarded.request('/links/ok/delay-tx', { headers: { authorization: 'Bearer s3cret-token' } })).status,
    200,
  );
});

t.test('metrics and OpenAPI', async (t) => {
  const m = await call('GET', '/metrics');
  t.equal(m.status, 200);
  t.match(m.text, /etcd_soak_proxy_connections_total\{link="e1"\} [1-9]/);
  t.match(m.text, /etcd_soak_proxy_bytes_total\{link="e1",direction="tx",outcome="forwarded"\} [1-9]/);
  const doc = await call('GET', '/openapi.json');
  t.same(doc.json, openapiDocument());
  const file = JSON.parse(fs.readFileSync(new URL('../config/openapi.json', import.meta.url), 'utf8'));
  t.same(file, doc.json, 'config/openapi.json is current (npm run openapi)');
  for (const p of ['/links', '/links/{name}/faults', '/load', '/reset', '/healthz', '/metrics'])
    t.ok(doc.json.paths[p], `documents ${p}`);
});
