// Drives the real `etcd-proxy` command over HTTP and checks every row of the compat contract.
import t from 'tap';
import fs from 'node:fs';
import { request } from 'undici';
import { freePorts } from '../src/util/net.js';
import { run, stop } from './helpers/proc.js';

const [fromPort, toPort, httpPort] = await freePorts(3);
const FROM = `tcp://localhost:${fromPort}`;
const TO = `tcp://localhost:${toPort}`;
const proc = run('etcd-proxy', [
  '--from',
  `localhost:${fromPort}`,
  '--to',
  `localhost:${toPort}`,
  '--http-port',
  String(httpPort),
]);
t.teardown(() => stop(proc));
await proc.waitFor(/serving HTTP server/);

async function call(method: string, path: string, body?: string, contentType = 'application/x-www-form-urlencoded') {
  const res = await request(`http://127.0.0.1:${httpPort}${path}`, {
    method: method as 'GET',
    body,
    headers: body !== undefined ? { 'content-type': contentType } : {},
  });
  const text = await res.body.text();
  return { status: res.statusCode, type: res.headers['content-type'], text };
}

t.test('startup output', async (t) => {
  await proc.waitFor(/proxy is listening on/, 'stderr');
  t.equal(proc.stdout(), `\nserving HTTP server http://localhost:${httpPort}\n\n`);
  t.match(proc.stderr(), /"msg":"started proxying"/);
  t.match(proc.stderr(), /"msg":"proxy is listening on"/);
  t.match(proc.stderr(), new RegExp(`"from":"tcp://localhost:${fromPort}"`));
});

t.test('the compat table, exact texts', async (t) => {
  const rows: [string, string, string | undefined, string][] = [
    ['GET', '/delay-tx', undefined, 'current send latency 0s'],
    ['PUT', '/delay-tx', 'latency=5s&random-variable=100ms', 'added send latency 5s±100ms (current latency 5s)'],
    ['GET', '/delay-tx', undefined, 'current send latency 5s'],
    ['DELETE', '/delay-tx', undefined, 'removed latency 5s'],
    ['GET', '/delay-tx', undefined, 'current send latency 0s'],
    ['GET', '/delay-rx', undefined, 'current receive latency 0s'],
    ['POST', '/delay-rx', 'latency=1.5ms&random-variable=0', 'added receive latency 1.5ms±0s (current latency 1.5ms)'],
    ['PUT', '/delay-rx', 'latency=2m&random-variable=-1s', 'added receive latency 2m0s±-1s (current latency 2m0s)'],
    ['DELETE', '/delay-rx', 'latency=1s', 'removed latency 2m0s'],
    ['PUT', '/delay-tx', 'latency=0s&random-variable=0s', 'added send latency 0s±0s (current latency 0s)'],
    ['PUT', '/delay-tx', 'latency=-1s&random-variable=0s', 'added send latency -1s±0s (current latency 0s)'],
    ['PUT', '/pause-tx', undefined, `paused forwarding [${FROM} -> ${TO}]`],
    ['DELETE', '/pause-tx', undefined, `unpaused forwarding [${FROM} -> ${TO}]`],
    ['POST', '/pause-rx', undefined, `paused forwarding [${FROM} <- ${TO}]`],
    ['DELETE', '/pause-rx', undefined, `unpaused forwarding [${FROM} <- ${TO}]`],
    ['PUT', '/blackhole-tx', undefined, `blackholed; dropping packets [${FROM} -> ${TO}]`],
    ['DELETE', '/blackhole-tx', undefined, `unblackholed; restart forwarding [${FROM} -> ${TO}]`],
    ['PUT', '/blackhole-rx', undefined, `blackholed; dropping packets [${FROM} <- ${TO}]`],
    ['DELETE', '/blackhole-rx', undefined, `unblackholed; restart forwarding [${FROM} <- ${TO}]`],
    ['GET', '/pause-tx', undefined, 'unsupported method "GET"'],
    ['PATCH', '/delay-tx', 'latency=1s', 'unsupported method "PATCH"'],
    ['OPTIONS', '/blackhole-rx', undefined, 'unsupported method "OPTIONS"'],
    ['GET', '/', undefined, `proxying [${FROM} -> ${TO}]`],
    ['POST', '/nope', 'x=1', `proxying [${FROM} -> ${TO}]`],
    ['DELETE', '/Delay-tx', undefined, `proxying [${FROM} -> ${TO}]`],
    ['GET', '/delay-tx/', undefined, `proxying [${FROM} -> ${TO}]`],
  ];
  for (const [method, path, body, want] of rows) {
    const r = await call(method, path, body);
    t.equal(r.status, 200, `${method} ${path} status`);
    t.equal(r.type, 'text/plain; charset=utf-8', `${method} ${path} content type`);
    t.equal(r.text, want + '\n', `${method} ${path} ${body ?? ''}`);
  }
});

t.test('error texts, in Go order', async (t) => {
  const rows: [string, string, string][] = [
    ['/delay-tx', '', 'wrong latency form "time: invalid duration \\"\\""'],
    ['/delay-tx', 'latency=abc', 'wrong latency form "time: invalid duration \\"abc\\""'],
    ['/delay-tx', 'latency=5&random-variable=1s', 'wrong latency form "time: missing unit in duration \\"5\\""'],
    ['/delay-rx', 'latency=5x', 'wrong latency form "time: unknown unit \\"x\\" in duration \\"5x\\""'],
    ['/delay-tx', 'latency=1s', 'wrong random-variable form "time: invalid duration \\"\\""'],
    ['/delay-tx', 'latency=1s&random-variable=zz', 'wrong random-variable form "time: invalid duration \\"zz\\""'],
    ['/delay-tx', 'latency=%zz', 'wrong form "invalid URL escape \\"%zz\\""'],
    ['/delay-tx', 'latency=1s;random-variable=0', 'wrong form "invalid semicolon separator in query"'],
    [
      '/delay-tx',
      'latency=1%C2%B5x&random-variable=0',
      'wrong latency form "time: unknown unit \\"\\\\xc2\\\\xb5x\\" in duration \\"1\\\\xc2\\\\xb5x\\""',
    ],
  ];
  for (const [path, body, want] of rows) {
    const r = await call('PUT', path, body);
    t.equal(r.text, want + '\n', `${path} ${body}`);
  }
  const tiny = await call('PUT', '/delay-tx', 'latency=5ns&random-variable=7ns');
  t.match(
    tiny.text,
    /^wrong random-variable form ".*10ns.*"\n$/,
    'latency < 10ns with a larger rv answers instead of panicking',
  );
  t.equal((await call('GET', '/delay-tx')).text, 'current send latency 0s\n');
});

t.test('parameters only from a form body: query strings and JSON are ignored', async (t) => {
  let r = await call('PUT', '/delay-tx?latency=1s&random-variable=0s');
  t.equal(r.text, 'wrong latency form "time: invalid duration \\"\\""\n');
  r = await call('PUT', '/delay-tx', '{"latency":"1s","random-variable":"0s"}', 'application/json');
  t.equal(r.text, 'wrong latency form "time: invalid duration \\"\\""\n');
  r = await call('PUT', '/delay-tx', 'latency=1s&random-variable=0s', 'text/plain');
  t.equal(r.text, 'wrong latency form "time: invalid duration \\"\\""\n', 'a non-form content type is not parsed');
  r = await call('PUT', '/delay-tx?x=%zz', 'latency=1s&random-variable=0s');
  t.equal(r.text, 'wrong form "invalid URL escape \\"%zz\\""\n', 'a malformed query still fails ParseForm, as in Go');
  r = await call('PUT', '/delay-tx', 'latency=3s&latency=4s&random-variable=0s');
  t.equal(r.text, 'added send latency 3s±0s (current latency 3s)\n', 'first value wins');
  r = await call('PUT', '/delay-tx', 'latency=1s+&random-variable=0s');
  t.equal(r.text, 'wrong latency form "time: unknown unit \\"s \\" in duration \\"1s \\""\n', '+ is a space');
  await call('DELETE', '/delay-tx');
});

t.test('HEAD is not GET', async (t) => {
  const res = await request(`http://127.0.0.1:${httpPort}/delay-tx`, { method: 'HEAD' });
  t.equal(res.statusCode, 200);
  await res.body.text();
});

t.test('additive routes', async (t) => {
  t.equal(
    (await call('PUT', '/drop-tx', 'probability=0.25')).text,
    `dropping packets with probability 0.25 [${FROM} -> ${TO}]\n`,
  );
  t.equal((await call('GET', '/drop-tx')).text, `current drop probability 0.25 [${FROM} -> ${TO}]\n`);
  t.equal((await call('DELETE', '/drop-tx')).text, `stopped dropping packets [${FROM} -> ${TO}]\n`);
  t.match((await call('PUT', '/corrupt-rx', 'probability=2')).text, /^wrong probability form ".*\(0, 1\].*"\n$/);
  t.equal(
    (await call('PUT', '/bandwidth-rx', 'rate=1048576')).text,
    `limited bandwidth to 1048576 bytes/s [${FROM} <- ${TO}]\n`,
  );
  t.equal((await call('DELETE', '/bandwidth-rx')).text, `unlimited bandwidth [${FROM} <- ${TO}]\n`);
  t.equal(
    (await call('PUT', '/accept-delay', 'latency=100ms&random-variable=0s')).text,
    'added accept latency 100ms±0s (current latency 100ms)\n',
  );
  t.equal((await call('DELETE', '/accept-delay')).text, 'removed accept latency 100ms\n');
  t.equal((await call('PUT', '/refuse')).text, `refusing connections [${FROM} -> ${TO}]\n`);
  t.equal((await call('DELETE', '/refuse')).text, `accepting connections [${FROM} -> ${TO}]\n`);
  t.equal((await call('PUT', '/reset')).text, `reset 0 connections [${FROM} -> ${TO}]\n`);
  t.equal((await call('GET', '/reset')).text, 'unsupported method "GET"\n');
  const m = await call('GET', '/metrics');
  t.match(m.text, /etcd_soak_proxy_connections_total/);
  t.match(m.text, /process_resident_memory_bytes/);
});

t.test("every latency Go accepts: Go texts, never a 5xx (up to Go's largest duration)", async (t) => {
  const max = '2562047h47m16.854775807s';
  const rows: [string, string, string, string][] = [
    [
      'PUT',
      '/delay-tx',
      'latency=200h&random-variable=1s',
      'added send latency 200h0m0s±1s (current latency 200h0m0s)',
    ],
    ['GET', '/delay-tx', '', 'current send latency 200h0m0s'],
    [
      'PUT',
      '/delay-tx',
      'latency=199h&random-variable=1s',
      'added send latency 199h0m0s±1s (current latency 199h0m0s)',
    ],
    ['DELETE', '/delay-tx', '', 'removed latency 199h0m0s'],
    // beyond Node's timer limit (2^31-1 ms, about 596h)
    [
      'POST',
      '/delay-rx',
      'latency=1000h0m0.000000001s&random-variable=0s',
      'added receive latency 1000h0m0.000000001s±0s (current latency 1000h0m0.000000001s)',
    ],
    ['GET', '/delay-rx', '', 'current receive latency 1000h0m0.000000001s'],
    [
      'PUT',
      '/delay-rx',
      `latency=${max}&random-variable=${max}`,
      `added receive latency ${max}±${max} (current latency ${max})`,
    ],
    [
      'PUT',
      '/delay-rx',
      `latency=9223372036854775807ns&random-variable=-${max}`,
      `added receive latency ${max}±-${max} (current latency ${max})`,
    ],
    ['DELETE', '/delay-rx', '', `removed latency ${max}`],
    [
      'PUT',
      '/delay-tx',
      'latency=9223372036854775808ns&random-variable=0s',
      'wrong latency form "time: invalid duration \\"9223372036854775808ns\\""',
    ],
    [
      'PUT',
      '/accept-delay',
      'latency=200h&random-variable=1h',
      'added accept latency 200h0m0s±1h0m0s (current latency 200h0m0s)',
    ],
    ['DELETE', '/accept-delay', '', 'removed accept latency 200h0m0s'],
  ];
  for (const [method, path, body, want] of rows) {
    const r = await call(method, path, method === 'PUT' || method === 'POST' ? body : undefined);
    t.equal(r.status, 200, `${method} ${path} ${body} status`);
    t.equal(r.text, want + '\n', `${method} ${path} ${body}`);
  }
  t.notMatch(proc.stderr(), /TimeoutOverflowWarning|"level":50/, 'no timer overflow warning, no handler error');
});

t.test('additive routes: out-of-range values answer a wrong ... form text naming the bound', async (t) => {
  const rows: [string, string, string][] = [
    [
      '/bandwidth-tx',
      'rate=20000000000',
      'wrong rate form "expected at most 10737418240 bytes/s (10 GiB/s), got \\"20000000000\\""',
    ],
    ['/bandwidth-rx', 'rate=0', 'wrong rate form "expected at least 1 byte/s, got \\"0\\""'],
    ['/bandwidth-rx', 'rate=1.5', 'wrong rate form "expected a whole number of bytes per second, got \\"1.5\\""'],
    ['/bandwidth-tx', 'rate=abc', 'wrong rate form "expected a number, got \\"abc\\""'],
    ['/bandwidth-tx', '', 'wrong rate form "expected a number, got \\"\\""'],
    ['/bandwidth-tx', 'rate=1e400', 'wrong rate form "expected a whole number of bytes per second, got \\"1e400\\""'],
    ['/drop-tx', 'probability=1.5', 'wrong probability form "expected a number in (0, 1], got \\"1.5\\""'],
    ['/drop-rx', 'probability=0', 'wrong probability form "expected a number in (0, 1], got \\"0\\""'],
    ['/corrupt-tx', 'probability=-1e-9', 'wrong probability form "expected a number in (0, 1], got \\"-1e-9\\""'],
    ['/corrupt-rx', 'probability=%zz', 'wrong form "invalid URL escape \\"%zz\\""'],
  ];
  for (const [path, body, want] of rows) {
    const r = await call('PUT', path, body);
    t.equal(r.status, 200, `${path} ${body} status`);
    t.equal(r.text, want + '\n', `${path} ${body}`);
  }
  t.equal(
    (await call('PUT', '/bandwidth-tx', 'rate=10737418240')).text,
    `limited bandwidth to 10737418240 bytes/s [${FROM} -> ${TO}]\n`,
    'the bound itself is accepted',
  );
  t.equal(
    (await call('GET', '/bandwidth-tx')).text,
    `current bandwidth limit 10737418240 bytes/s [${FROM} -> ${TO}]\n`,
  );
  await call('DELETE', '/bandwidth-tx');
  t.equal(
    (await call('GET', '/drop-rx')).text,
    `current drop probability 0 [${FROM} <- ${TO}]\n`,
    'nothing was set by a rejected value',
  );
});

/** peak resident set of a process (VmHWM), bytes */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

async function* chunks(total: number, size = 65536, fill = 'a') {
  const block = Buffer.alloc(size, fill);
  for (let sent = 0; sent < total; sent += size) yield block;
}

t.test("Go's 10 MiB form limit, without reading unbounded bodies", async (t) => {
  const limit = 10 << 20;
  const exact = 'latency=7s&random-variable=0s&pad=';
  let r = await call('PUT', '/delay-tx', exact + 'x'.repeat(limit - exact.length));
  t.equal(r.text, 'added send latency 7s±0s (current latency 7s)\n', 'exactly 10 MiB is parsed');
  r = await call('PUT', '/delay-tx', exact + 'x'.repeat(limit - exact.length + 1));
  t.equal(r.text, 'wrong form "http: POST too large"\n', '10 MiB + 1 byte is too large');
  r = await call('PUT', '/delay-tx', 'x'.repeat(limit + 1), 'text/plain');
  t.equal(
    r.text,
    'wrong latency form "time: invalid duration \\"\\""\n',
    'a body that is not a form is not read at all',
  );
  await call('DELETE', '/delay-tx');

  const pid = proc.child.pid!;
  const before = peakRss(pid);
  const res = await request(`http://127.0.0.1:${httpPort}/delay-tx`, {
    method: 'PUT',
    body: chunks(50 * 1024 * 1024, 65536, '='),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), 'wrong form "http: POST too large"\n', 'a 50 MB chunked form');
  const growth = peakRss(pid) - before;
  t.ok(growth < 40 * 1024 * 1024, `peak RSS of the proxy grew ${(growth / 1048576).toFixed(1)} MiB for a 50 MB body`);
  t.equal((await call('GET', '/delay-tx')).text, 'current send latency 0s\n', 'still serving');
});

t.test('SIGINT prints the Go shutdown texts and exits 0', async (t) => {
  proc.child.kill('SIGINT');
  const { code } = await proc.exited;
  t.equal(code, 0);
  t.equal(
    proc.stdout(),
    `\nserving HTTP server http://localhost:${httpPort}\n\n\n\nreceived signal "interrupt", shutting down HTTP server\n\ngracefully stopped HTTP server with <nil>\n\n`,
  );
});
