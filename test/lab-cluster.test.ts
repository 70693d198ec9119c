import t from 'tap';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startCluster } from '../src/lab/cluster.js';

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
  const out = execFileSync('sh', ['-c', `etcdctl --endpoints ${eps} endpoint health 2>&1`], { env: { ...process.env, ETCDCTL_API: '3' } }).toString();
  t.match(out, /is healthy/);

  const m = cluster.members[1];
  const unexpected: string[] = [];
  cluster.on('member-exit', (name: string) => unexpected.push(name));
  await cluster.stopMember(m.name, 'SIGKILL');
  t.notOk(m.running, 'member stopped');
  t.same(unexpected, [], 'a requested stop is not reported as a crash');
  cluster.startMember(m.name);
  await cluster.waitHealthy(30000);
  t.ok(m.running);

  const pids = cluster.members.map((x) => x.pid!);
  const dir = cluster.baseDir;
  await cluster.stop();
  t.ok(pids.every((p) => !alive(p)), 'no etcd process left');
  t.notOk(fs.existsSync(dir), 'data removed');
});

t.test('an unexpected member death is reported', async (t) => {
  const cluster = await startCluster({ size: 1 });
  t.teardown(() => cluster.stop());
  const died = new Promise<string>((r) => cluster.once('member-exit', (name: string) => r(name)));
  process.kill(cluster.members[0].pid!, 'SIGKILL');
  t.equal(await died, 's1');
});

t.test('a missing etcd binary gives an install hint', async (t) => {
  await t.rejects(startCluster({ size: 1, etcdBin: '/nonexistent/etcd' }), /apt-get install -y etcd-server/);
});
