// CLI conventions of etcd-soak: --version everywhere, one documented meaning per exit code, errors that
// name the flag, the token never printed, exposure warnings, log format by terminal.
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exposureWarnings, isLoopbackHost } from '../src/lab/lab.js';
import { createLogger, resolveLogFormat } from '../src/util/log.js';
import { packageRoot, packageVersion } from '../src/util/pkg.js';
import { root, run, stop } from './helpers/proc.js';

const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

t.test('the package root and version come from package.json', async (t) => {
  t.equal(packageRoot(), root);
  t.equal(packageVersion(), version);
});

t.test('--version prints the package version and exits 0, for the command and each subcommand', async (t) => {
  const all = [['--version'], ['lab', '--version'], ['run', '--version'], ['load', '--version']].map((args) => ({
    args,
    p: run('etcd-soak', args),
  }));
  for (const { args, p } of all) {
    const r = await p.exited;
    t.equal(r.code, 0, `${args.join(' ')}: exit 0`);
    t.equal(p.stdout(), `etcd-soak ${version}\n`, `${args.join(' ')}: the version`);
  }
});

t.test('a leaked socket handle cannot keep etcd-soak from exiting (no 100% CPU spin after the report)', async (t) => {
  // Node leaves a socket handle open forever when libuv refuses its reset (resetAndDestroy() while its
  // end() is still pending: EINVAL); a process that then ends by draining its event loop spins at 100%
  // CPU in its exit cleanup, waiting for that handle. This preload leaks one such handle first.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-leak-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const preload = path.join(dir, 'leak.mjs');
  fs.writeFileSync(
    preload,
    `import net from 'node:net';
await new Promise((resolve) => {
  const server = net.createServer((s) => {
    s.on('error', (e) => { process.stderr.write('leaked: reset ' + e.code + '\\n'); resolve(); });
    s.end();
    process.nextTick(() => s.resetAndDestroy());
    server.close();
  });
  server.listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1');
    c.on('error', () => {});
    c.on('end', () => c.end());
  });
});
`,
  );
  const child = spawn(process.execPath, ['--import', preload, path.join(root, 'bin/etcd-soak.js'), '--version'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const code = await Promise.race([
    new Promise<number | null>((r) => child.once('exit', (c) => r(c))),
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000)),
  ]);
  if (code === 'timeout') child.kill('SIGKILL');
  t.match(out, 'leaked: reset EINVAL', 'the handle was leaked');
  t.equal(code, 0, 'exited at once, code 0');
  t.match(out, `etcd-soak ${version}`);
});

t.test('every help lists the exit codes', async (t) => {
  const all = [['--help'], ['lab', '--help'], ['run', '--help'], ['load', '--help']].map((args) => ({
    args,
    p: run('etcd-soak', args),
  }));
  for (const { args, p } of all) {
    t.equal((await p.exited).code, 0);
    for (const line of [
      /^ {2}0 {2}clean/m,
      /^ {2}1 {2}a watch guarantee was violated/m,
      /^ {2}2 {2}bad usage or input/m,
      /^ {2}3 {2}environment: a port in use, etcd missing or failing to start/m,
      /^ {2}4 {2}internal error/m,
    ]) {
      t.match(p.stdout(), line, `${args.join(' ')}: ${line}`);
    }
  }
});

t.test('bad input exits 2 and names the flag, not the config file', async (t) => {
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [['lab', '--token', 'short'], {}, /^etcd-soak: --token: expected at least 8 characters\n$/],
    [['lab'], { ETCD_SOAK_TOKEN: 'short' }, /^etcd-soak: ETCD_SOAK_TOKEN: expected at least 8 characters\n$/],
    [['lab', '--rate', 'many'], {}, /^etcd-soak: --rate: expected a number, got "many"\n$/],
    [['lab', '--api', 'nowhere'], {}, /^etcd-soak: --api: expected "host:port", got "nowhere"\n$/],
    [['lab', '--duration', 'soon'], {}, /^etcd-soak: --duration: time: invalid duration "soon"\n$/],
    [['lab', '--pretty', '--json-logs'], {}, /^etcd-soak: --pretty and --json-logs: choose one\n$/],
    [['lab', '--no-such-flag'], {}, /^etcd-soak: Unknown option '--no-such-flag'/],
    [['run'], {}, /^etcd-soak: run: --config FILE is required\n$/],
    [
      ['run', '--config', '/nonexistent/x.yaml'],
      {},
      /^etcd-soak: invalid config: \/nonexistent\/x\.yaml: cannot read: ENOENT\n$/,
    ],
    [['frobnicate'], {}, /^etcd-soak: unknown command "frobnicate"/],
  ];
  const all = cases.map(([args, env, re]) => ({
    args,
    re,
    p: run('etcd-soak', args, { ETCD_SOAK_TOKEN: '', ...env }),
  }));
  for (const { args, re, p } of all) {
    const r = await p.exited;
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(p.stderr(), re, `${args.join(' ')}: ${re}`);
  }
});

t.test(
  'with a token the banner shows how to send it, never the token itself, and says what it does not cover',
  async (t) => {
    const secret = 'not-to-be-printed-' + Math.random().toString(36).slice(2);
    const p = run('etcd-soak', ['lab', '--ephemeral', '--api', '127.0.0.1:0', '--token', secret, '--no-load']);
    t.teardown(() => stop(p));
    await p.waitFor(/curl [^\n]*\/load\n/, 'stderr', 60000);
    const err = p.stderr();
    t.notMatch(err + p.stdout(), secret, 'the token appears nowhere');
    const apiUrl = /API: (http:\/\/\S+)/.exec(err)![1];
    const apiCurls = err.split('\n').filter((l) => /^\s+curl /.test(l) && l.includes(apiUrl));
    t.ok(apiCurls.length >= 2, 'curl lines against the JSON API');
    for (const l of apiCurls)
      t.match(
        l,
        'curl -H "Authorization: Bearer $ETCD_SOAK_TOKEN" ',
        'each carries the header from the shell variable',
      );
    const adminCurl = err.split('\n').find((l) => /^\s+curl -L http:\/\/localhost:\d+\/delay-tx/.test(l));
    t.ok(
      adminCurl && !adminCurl.includes('Authorization'),
      'the etcd-proxy admin line has none (that API has no authentication)',
    );
    t.equal(err.match(/etcd-proxy admin ports \(N378\/N381\) are unauthenticated by design/g)?.length, 1, 'said once');
    t.match(err, /--no-compat-admin turns them off/);
    const res = await fetch(`${apiUrl}/links`, { headers: { authorization: `Bearer ${secret}` } });
    t.equal(res.status, 200, 'the header works');
    p.child.kill('SIGINT');
    t.equal((await p.exited).code, 0, 'Ctrl-C: exit 0');
  },
);

t.test('exposure warnings: non-loopback listeners without a token, one note with a token', async (t) => {
  t.ok(
    isLoopbackHost('127.0.0.1') &&
      isLoopbackHost('127.1.2.3') &&
      isLoopbackHost('::1') &&
      isLoopbackHost('[::1]') &&
      isLoopbackHost('localhost'),
  );
  t.notOk(isLoopbackHost('') || isLoopbackHost('0.0.0.0') || isLoopbackHost('::') || isLoopbackHost('10.0.0.1'));
  const listeners = [
    { role: 'API', listen: '0.0.0.0:8379', kind: 'api' as const },
    { role: 'link s1-client', listen: '127.0.0.1:13790', kind: 'link' as const },
    { role: 'link x', listen: ':24000', kind: 'link' as const },
    { role: 'etcd-proxy admin of s1-client', listen: '127.0.0.1:1378', kind: 'admin' as const },
    { role: 'etcd-proxy admin of x', listen: '10.1.2.3:1478', kind: 'admin' as const },
  ];
  const open = exposureWarnings(listeners, false);
  t.equal(open.length, 3, 'one line per non-loopback listener');
  t.match(open[0], /^warning: the API listens on 0\.0\.0\.0:8379 and no --token is set/);
  t.match(open[1], /^warning: the link x listens on every interface \(:24000\)/);
  t.match(open[2], /^warning: the etcd-proxy admin of x listens on 10\.1\.2\.3:1478/);
  t.same(
    exposureWarnings(
      listeners.filter((l) => l.listen.startsWith('127.')),
      false,
    ),
    [],
    'loopback only: nothing to say',
  );
  const withToken = exposureWarnings(listeners, true);
  t.equal(withToken.length, 1, 'with a token: one note');
  t.match(
    withToken[0],
    /unauthenticated by design \(drop-in compatibility\) and loopback-only by default \(here 10\.1\.2\.3:1478 are not loopback\); --no-compat-admin turns them off/,
  );
  t.same(
    exposureWarnings(
      listeners.filter((l) => l.kind !== 'admin'),
      true,
    ),
    [],
    'no admin ports: no note',
  );
});

t.test('logs: pretty in a terminal, JSON when piped, flags override', async (t) => {
  t.equal(resolveLogFormat('auto', true, {}), 'pretty');
  t.equal(resolveLogFormat('auto', false, {}), 'json');
  t.equal(resolveLogFormat('json', true, {}), 'json');
  t.equal(resolveLogFormat('pretty', false, {}), 'pretty');
  t.equal(resolveLogFormat('auto', false, { ETCD_SOAK_LOG_PRETTY: '1' }), 'pretty');
  t.equal(resolveLogFormat('auto', true, { ETCD_SOAK_LOG_PRETTY: '0' }), 'json');
  const written: string[] = [];
  const env = process.env.ETCD_SOAK_LOG_PRETTY;
  delete process.env.ETCD_SOAK_LOG_PRETTY;
  t.teardown(() => {
    if (env !== undefined) process.env.ETCD_SOAK_LOG_PRETTY = env;
  });
  createLogger({ lines: true, format: 'auto', isTTY: true, write: (s) => written.push(s) }).warn(
    { link: 's1-client' },
    'hello',
  );
  createLogger({ lines: true, format: 'auto', isTTY: false, write: (s) => written.push(s) }).warn(
    { link: 's1-client' },
    'hello',
  );
  t.match(written[0], /WARN.*hello/, 'terminal: pretty');
  t.notMatch(written[0], /^\{/);
  t.same(JSON.parse(written[1]).msg, 'hello', 'piped: one JSON line');
  t.ok(
    written.every((w) => w.endsWith('\n')),
    'whole lines',
  );
});
