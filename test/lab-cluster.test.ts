import t from 'tap';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startCluster } from '../src/cluster/launch.js';
import { OWNER_FILE, type OwnerRecord } from '../src/cluster/owner.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test('a 3-member cluster starts healthy, survives a member restart, and stops without leftovers', async (t) => {
  const cluster = await startCluster({ size: 3 });
  t.teardown(() => cluster.stop());
  t.equal(cluster.members.length, 3);
  const eps = cluster.clientEndpoints().join(',');
  const out = execFileSync('sh', ['-c', `etcdctl --endpoints ${eps} endpoint health 2>&1`], {
    env: { ...process.env, ETCDCTL_API: '3' },
  }).toString();
  t.match(out, /is healthy/);

  // each member is etcd itself (setpriv execs it), leads its own process group (a terminal's Ctrl-C
  // does not reach it), and is listed in the owner record
  const stat = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  for (const x of cluster.members) {
    t.match(fs.readFileSync(`/proc/${x.pid}/cmdline`, 'utf8').split('\0')[0], /etcd$/, `${x.name}: the pid is etcd's`);
    t.equal(Number(stat(x.pid!)[2]), x.pid, `${x.name}: its own process group`);
  }
  const record = () => JSON.parse(fs.readFileSync(path.join(cluster.baseDir, OWNER_FILE), 'utf8')) as OwnerRecord;
  t.equal(record().daemon.pid, process.pid);
  t.same(
    record().members.map((x) => x.pid),
    cluster.members.map((x) => x.pid),
    'the owner record lists every member pid',
  );

  const m = cluster.members[1];
  const unexpected: string[] = [];
  cluster.on('member-exit', (name: string) => unexpected.push(name));
  await cluster.stopMember(m.name, 'SIGKILL');
  t.notOk(m.running, 'member stopped');
  t.same(unexpected, [], 'a requested stop is not reported as a crash');
  cluster.startMember(m.name);
  await cluster.waitHealthy(30000);
  t.ok(m.running);
  t.equal(record().members[1].pid, m.pid, 'the record follows the restart');

  const pids = cluster.members.map((x) => x.pid!);
  const dir = cluster.baseDir;
  const t0 = Date.now();
  await cluster.stop();
  // no timing threshold here (a loaded machine varies); the time is reported for the reader
  t.comment(`stopped in ${Date.now() - t0} ms (followers first, the leader last)`);
  t.ok(
    pids.every((p) => !alive(p)),
    'no etcd process left',
  );
  t.notOk(fs.existsSync(dir), 'data removed');
});

t.test('an unexpected member death is reported', async (t) => {
  const cluster = await startCluster({ size: 1 });
  t.teardown(() => cluster.stop());
  const died = new Promise<string>((r) => cluster.once('member-exit', (name: string) => r(name)));
  process.kill(cluster.members[0].pid!, 'SIGKILL');
  t.equal(await died, 's1');
});

t.test('waitHealthy fails at once when a member exits while it waits, with the last lines of its log', async (t) => {
  const cluster = await startCluster({ size: 1 });
  t.teardown(() => cluster.stop());
  const m = cluster.members[0];
  const pid = m.pid!;
  await cluster.stopMember(m.name, 'SIGSTOP'); // unhealthy, still running
  const waiting = cluster.waitHealthy(30000).then(
    () => undefined,
    (e: Error) => e,
  );
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  const err = await waiting;
  t.ok(Date.now() - t0 < 2000, `rejected ${Date.now() - t0} ms after the exit`);
  t.match(
    err?.message,
    /etcd member s1 exited before the cluster was healthy \(signal SIGKILL\); last lines of its log:\n {4}\S/,
  );
});

t.test('a missing etcd binary gives an install hint', async (t) => {
  await t.rejects(startCluster({ size: 1, etcdBin: '/nonexistent/etcd' }), /apt-get install -y etcd-server/);
});
