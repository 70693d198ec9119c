// Flags, exit codes and bad input of the real `etcd-proxy` command; seed scenarios against real etcd.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { request } from 'undici';
import { startCluster } from '../src/cluster/launch.js';
import { freePorts } from '../src/util/net.js';
import { formatDefaults, parseGoFlags } from '../src/cli/goflags.js';
import { run, stop } from './helpers/proc.js';

t.test('Go flag syntax', async (t) => {
  const defs = [
    { name: 'from', type: 'string' as const, default: 'localhost:23790', usage: 'Address URL to proxy from.' },
    { name: 'http-port', type: 'int' as const, default: 2378, usage: 'Port to serve etcd-proxy API.' },
    { name: 'verbose', type: 'bool' as const, default: false, usage: "'true' to run proxy in verbose mode." },
  ];
  t.same(parseGoFlags(['-from', 'a:1', '--http-port=5', '--verbose'], defs).values, {
    from: 'a:1',
    'http-port': 5,
    verbose: true,
  });
  t.same(parseGoFlags(['--from=b:2', '-http-port', '0x10', '-verbose=false'], defs).values, {
    from: 'b:2',
    'http-port': 16,
    verbose: false,
  });
  const r = parseGoFlags(['pos', '--from', 'ignored:1'], defs);
  t.equal(r.values.from, 'localhost:23790', 'parsing stops at the first positional argument');
  t.same(r.args, ['pos', '--from', 'ignored:1']);
  t.equal(parseGoFlags(['--', '--from', 'x'], defs).values.from, 'localhost:23790');
  t.throws(() => parseGoFlags(['--bogus'], defs), { message: 'flag provided but not defined: -bogus' });
  t.throws(() => parseGoFlags(['-http-port', 'x'], defs), {
    message: 'invalid value "x" for flag -http-port: parse error',
  });
  t.throws(() => parseGoFlags(['-http-port', '99999999999999999999'], defs), {
    message: 'invalid value "99999999999999999999" for flag -http-port: value out of range',
  });
  t.throws(() => parseGoFlags(['--from'], defs), { message: 'flag needs an argument: -from' });
  t.throws(() => parseGoFlags(['--verbose=maybe'], defs), {
    message: 'invalid boolean value "maybe" for -verbose: parse error',
  });
  t.throws(() => parseGoFlags(['---from', 'x'], defs), { message: 'bad flag syntax: ---from' });
  t.throws(() => parseGoFlags(['-h'], defs), { help: true });
  t.equal(
    formatDefaults(defs),
    '  -from string\n    \tAddress URL to proxy from. (default "localhost:23790")\n' +
      '  -http-port int\n    \tPort to serve etcd-proxy API. (default 2378)\n' +
      "  -verbose\n    \t'true' to run proxy in verbose mode.\n",
  );
});

t.test('-h and --help print usage on stderr and exit 0', async (t) => {
  for (const flag of ['-h', '--help', '-help']) {
    const p = run('etcd-proxy', [flag]);
    const { code } = await p.exited;
    t.equal(code, 0, flag);
    t.match(p.stderr(), /Usage of "etcd-proxy"/);
    t.match(p.stderr(), /-http-port int\n\s+\tPort to serve etcd-proxy API\. \(default 2378\)/);
    t.equal(p.stdout(), '');
  }
});

t.test('--version prints the package version and exits 0; the Go flags keep their usage lines', async (t) => {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  for (const flag of ['--version', '-version', '--version=true']) {
    const p = run('etcd-proxy', [flag]);
    t.equal((await p.exited).code, 0, flag);
    t.equal(p.stdout(), `etcd-proxy (etcd-soak) ${pkg.version}\n`, flag);
    t.equal(p.stderr(), '');
  }
  const bad = run('etcd-proxy', ['--version=maybe']);
  t.equal((await bad.exited).code, 2);
  t.match(bad.stderr(), /^invalid boolean value "maybe" for -version: parse error\n/);
  const h = run('etcd-proxy', ['-h']);
  await h.exited;
  // flag.PrintDefaults of the Go tool's four flags, byte for byte, then the additive flag
  const goDefaults =
    '  -from string\n    \tAddress URL to proxy from. (default "localhost:23790")\n' +
    '  -http-port int\n    \tPort to serve etcd-proxy API. (default 2378)\n' +
    '  -to string\n    \tAddress URL to forward. (default "localhost:2379")\n' +
    "  -verbose\n    \t'true' to run proxy in verbose mode.\n";
  t.ok(h.stderr().includes(goDefaults), 'the Go flags are listed exactly as Go prints them');
  t.ok(
    h.stderr().endsWith(goDefaults + '  -version\n    \tprint the etcd-soak version and exit (not in the Go tool)\n'),
    'then -version',
  );
});

t.test("an unknown flag exits 2 with Go's message and usage", async (t) => {
  const p = run('etcd-proxy', ['-bogus']);
  const { code } = await p.exited;
  t.equal(code, 2);
  t.match(p.stderr(), /^flag provided but not defined: -bogus\nUsage of "etcd-proxy"/);
  const q = run('etcd-proxy', ['--http-port', 'abc']);
  t.equal((await q.exited).code, 2);
  t.match(q.stderr(), /invalid value "abc" for flag -http-port: parse error/);
});

t.test('ports in use and bad addresses give a clear message and a non-zero exit (no hang)', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, () => r()));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const busy = (blocker.address() as net.AddressInfo).port;
  const [free1, free2] = await freePorts(2);

  const a = run('etcd-proxy', ['--from', `localhost:${busy}`, '--to', 'localhost:1', '--http-port', String(free1)]);
  t.equal((await a.exited).code, 1);
  t.match(a.stderr(), new RegExp(`cannot listen on :${busy} \\(--from localhost:${busy}\\).*EADDRINUSE`));

  const b = run('etcd-proxy', ['--from', `localhost:${free2}`, '--to', 'localhost:1', '--http-port', String(busy)]);
  t.equal((await b.exited).code, 1);
  t.match(b.stderr(), /cannot serve HTTP on :\d+ \(--http-port\).*EADDRINUSE/);

  const c = run('etcd-proxy', ['--from', 'no-port-here', '--to', 'localhost:1', '--http-port', String(free1)]);
  t.equal((await c.exited).code, 1);
  t.match(c.stderr(), /bad address: expected "host:port", got "no-port-here"/);
});

function etcdctl(endpoint: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'etcdctl',
      ['--endpoints', endpoint, '--dial-timeout=2s', '--command-timeout=3s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20000 },
      (err, stdout, stderr) => resolve({ ok: !err, out: stdout + stderr }),
    );
  });
}

t.test('seed scenarios through a real 3-member cluster: delay-tx, pause-tx, blackhole-tx', async (t) => {
  const cluster = await startCluster({ size: 3 });
  t.teardown(() => cluster.stop());
  const [fromPort, httpPort] = await freePorts(2);
  const member = cluster.members[0];
  const proxy = run('etcd-proxy', [
    '--from',
    `localhost:${fromPort}`,
    '--to',
    `127.0.0.1:${member.clientPort}`,
    '--http-port',
    String(httpPort),
  ]);
  t.teardown(() => stop(proxy));
  await proxy.waitFor(/serving HTTP server/);
  const ep = `127.0.0.1:${fromPort}`;
  const admin = async (method: 'PUT' | 'DELETE', path: string, body?: string) => {
    const res = await request(`http://127.0.0.1:${httpPort}${path}`, {
      method,
      body,
      headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
    });
    return res.body.text();
  };

  let r = await etcdctl(ep, ['put', 'foo', 'bar']);
  t.ok(r.ok, `put through the proxy: ${r.out.trim()}`);
  r = await etcdctl(ep, ['get', 'foo', '--print-value-only']);
  t.equal(r.out.trim(), 'bar', 'get through the proxy');

  t.match(await admin('PUT', '/delay-tx', 'latency=5s&random-variable=0s'), /^added send latency 5s±0s/);
  r = await etcdctl(ep, ['put', 'foo', 'delayed']);
  t.notOk(r.ok, 'put fails with 5s send latency and a 3s command timeout');
  t.match(await admin('DELETE', '/delay-tx'), /^removed latency 5s/);
  r = await etcdctl(ep, ['put', 'foo', 'after-delay']);
  t.ok(r.ok, `put succeeds once the delay is removed: ${r.out.trim()}`);

  await admin('PUT', '/pause-tx');
  r = await etcdctl(ep, ['put', 'foo', 'paused']);
  t.notOk(r.ok, 'put fails while tx is paused');
  await admin('DELETE', '/pause-tx');
  r = await etcdctl(ep, ['put', 'foo', 'after-pause']);
  t.ok(r.ok, `put succeeds after unpause: ${r.out.trim()}`);

  await admin('PUT', '/blackhole-tx');
  r = await etcdctl(ep, ['put', 'foo', 'blackholed']);
  t.notOk(r.ok, 'put fails while tx is blackholed');
  await admin('DELETE', '/blackhole-tx');
  r = await etcdctl(ep, ['put', 'foo', 'after-blackhole']);
  t.ok(r.ok, `put succeeds after unblackhole: ${r.out.trim()}`);
  r = await etcdctl(`127.0.0.1:${member.clientPort}`, ['get', 'foo', '--print-value-only']);
  t.equal(r.out.trim(), 'after-blackhole', 'the last put is in the cluster');
});

t.test('--verbose logs every chunk as transmitted / received with its size', async (t) => {
  const { echoServer, close, connect } = await import('./helpers/net.js');
  const echo = await echoServer();
  t.teardown(() => close(echo.server));
  const [fromPort, httpPort] = await freePorts(2);
  const p = run('etcd-proxy', [
    '--from',
    `127.0.0.1:${fromPort}`,
    '--to',
    `127.0.0.1:${echo.port}`,
    '--http-port',
    String(httpPort),
    '--verbose',
  ]);
  t.teardown(() => stop(p));
  await p.waitFor(/serving HTTP server/);
  const s = await connect(fromPort);
  await new Promise<void>((r) => {
    s.once('data', () => r());
    s.write('hello');
  });
  s.destroy();
  await p.waitFor(/"data-size":5.*"msg":"received"/, 'stderr');
  t.match(p.stderr(), /"level":20.*"data-size":5.*"msg":"transmitted"/);
});
