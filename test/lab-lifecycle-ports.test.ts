// Fail fast: a taken port of the layout stops the lab before anything starts (naming the port, its role
// and its holder, exit code 3), and a member that exits while starting fails the start at once with the
// last lines of its log (not a path: the data dir is removed afterwards).
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/schema.js';
import { startCluster } from '../src/cluster/launch.js';
import { startLab } from '../src/lab/lab.js';
import { EnvironmentError } from '../src/util/exit.js';
import { describePortConflict, portHolders } from '../src/util/ports.js';
import { run } from './helpers/proc.js';

async function hold(port = 0, host = '127.0.0.1'): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

const close = (s: net.Server) => new Promise<void>((r) => s.close(() => r()));

t.test('the holder of a port is found through /proc', async (t) => {
  const { server, port } = await hold();
  t.teardown(() => close(server));
  const holders = portHolders(port);
  t.same(
    holders.map((h) => h.pid),
    [process.pid],
    'this process holds it',
  );
  t.match(holders[0].cmdline, /node/);
  t.equal(
    describePortConflict({ host: '127.0.0.1', port, role: 's2 client', code: 'EADDRINUSE', holders: [] }),
    `s2 client 127.0.0.1:${port} is in use by an unknown holder (not visible to this user)`,
  );
});

t.test(
  'a member port of the Procfile layout that is taken fails the lab at once, naming role and holder',
  async (t) => {
    // s3's client port is 3379 + offset: hold it, for an offset that puts every port of the layout in range
    let held: { server: net.Server; port: number } | undefined;
    let offset = 0;
    for (let i = 0; i < 20 && !held; i++) {
      offset = 20000 + Math.floor(Math.random() * 8000);
      held = await hold(3379 + offset).catch(() => undefined);
    }
    if (!held) throw new Error('no free port to hold');
    t.teardown(() => close(held!.server));
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-ports-test-'));
    t.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
    const t0 = Date.now();
    const err = await startLab(
      parseConfig({
        api: { listen: '127.0.0.1:0' },
        cluster: { launch: { members: 3, ports: 'procfile', portOffset: offset, dataDir: tmp } },
      }),
      { out: null },
    ).then(
      () => undefined,
      (e: Error) => e,
    );
    t.ok(err instanceof EnvironmentError, 'an environment error (exit code 3)');
    t.match(
      err?.message,
      `s3 client 127.0.0.1:${3379 + offset} is in use by pid ${process.pid} (`,
      'names the role, the port and the holder',
    );
    t.ok(Date.now() - t0 < 5000, `within seconds (${Date.now() - t0} ms)`);
    t.same(fs.readdirSync(tmp), [], 'no member was started (no data dir created)');
  },
);

t.test('etcd-soak lab with a taken API port exits 3 and names the holder', async (t) => {
  const { server, port } = await hold();
  t.teardown(() => close(server));
  const p = run('etcd-soak', ['lab', '--ephemeral', '--api', `127.0.0.1:${port}`, '--no-load']);
  const t0 = Date.now();
  const r = await p.exited;
  t.equal(r.code, 3, 'exit code 3');
  t.match(p.stderr(), `API 127.0.0.1:${port} is in use by pid ${process.pid} (`);
  t.ok(Date.now() - t0 < 10000, `within seconds (${Date.now() - t0} ms)`);
  t.notMatch(p.stderr(), /starting \d etcd members/, 'before any member starts');
});

t.test('a member that exits while starting fails the start at once, with the last lines of its log', async (t) => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-exit-test-'));
  t.teardown(() => fs.rmSync(parent, { recursive: true, force: true }));
  const t0 = Date.now();
  const err = await startCluster({ size: 1, baseDir: parent, extraArgs: ['--no-such-flag'] }).then(
    () => undefined,
    (e: Error) => e,
  );
  const took = Date.now() - t0;
  t.ok(err instanceof EnvironmentError, 'an environment error (exit code 3)');
  t.match(
    err?.message,
    /etcd member s1 exited before the cluster was healthy \(exit code \d+\); last lines of its log:/,
  );
  t.match(err?.message, /flag provided but not defined: -no-such-flag/, "etcd's own words are in the message");
  t.notMatch(err?.message, parent, 'no path into the removed data dir');
  t.ok(took < 5000, `failed in ${took} ms, not at the 60 s health timeout`);
  t.same(fs.readdirSync(parent), [], 'the data dir is removed');
});

t.test('etcd-soak lab exits 3 when etcd fails to start, showing its output', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-fake-etcd-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const fake = path.join(dir, 'etcd');
  fs.writeFileSync(fake, '#!/bin/sh\necho "fake etcd: cannot start: disk on fire" >&2\nexit 7\n', { mode: 0o755 });
  const p = run('etcd-soak', [
    'lab',
    '--ephemeral',
    '--api',
    '127.0.0.1:0',
    '--no-load',
    '--etcd-bin',
    fake,
    '--data-dir',
    dir,
  ]);
  const r = await p.exited;
  t.equal(r.code, 3, 'exit code 3');
  t.match(p.stderr(), /exited before the cluster was healthy \(exit code 7\)/);
  t.match(p.stderr(), /fake etcd: cannot start: disk on fire/);
  t.same(fs.readdirSync(dir), ['etcd'], 'its data dir is removed');
});
