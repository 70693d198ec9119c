// `etcd-soak run --config` against a cluster it did not launch: the members are known by their client
// URLs, so the banner and GET /cluster show what each says of itself, a member's link can serve an
// etcd-proxy admin port, and the load runs through the members' client links.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCluster } from '../src/cluster/launch.js';
import { hexId } from '../src/cluster/topology.js';
import { parseConfig } from '../src/config/schema.js';
import { controlClient } from '../src/etcd/control.js';
import { startLab } from '../src/lab/lab.js';
import { freePorts } from '../src/util/net.js';
import { run } from './helpers/proc.js';

const cluster = await startCluster({ size: 2 });
t.teardown(() => cluster.stop());
/** the members' ids as etcd lists them (hex, as etcdctl prints them), by name */
async function etcdMemberIds(): Promise<Record<string, string>> {
  const c = controlClient(cluster.clientEndpoints());
  try {
    const list = await c.cluster.memberList({ linearizable: false });
    return Object.fromEntries(list.members.map((m) => [m.name, hexId(m.ID)]));
  } finally {
    c.close();
  }
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-existing-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('banner rows and GET /cluster for existing members; admin port; the load through their links', async (t) => {
  const [p1, p2, admin] = await freePorts(3);
  const [m1, m2] = cluster.members;
  const file = path.join(dir, 'existing.yaml');
  fs.writeFileSync(
    file,
    [
      `reportDir: ${JSON.stringify(path.join(dir, 'reports'))}`,
      'cluster:',
      '  existing:',
      '    members:',
      `      - { name: a, client: 127.0.0.1:${m1.clientPort}, peer: 127.0.0.1:${m1.peerPort}, clientProxy: 127.0.0.1:${p1}, compatAdmin: 127.0.0.1:${admin} }`,
      `      - { name: b, client: 127.0.0.1:${m2.clientPort}, clientProxy: 127.0.0.1:${p2} }`,
      'load: { rate: 50, watchers: 6, keys: 3, interval: 1s }',
      '',
    ].join('\n'),
  );
  const p = run('etcd-soak', ['run', '--config', file, '--api', '127.0.0.1:0', '--json-logs']);
  t.teardown(() => void p.child.kill('SIGKILL'));
  await p.waitFor(/API: http:\/\/\S+/, 'stderr', 30000);
  const err = p.stderr();
  const api = /API: (http:\/\/\S+)/.exec(err)![1];
  t.match(
    err,
    new RegExp(
      `\\n  a\\s+127\\.0\\.0\\.1:${m1.clientPort}\\s+127\\.0\\.0\\.1:${p1}\\s+[0-9a-f]+\\s+(yes|no)\\s+\\d+\\s+ok\\n`,
    ),
    'a banner row for member a with its status',
  );
  t.match(
    err,
    new RegExp(
      `\\n  b\\s+127\\.0\\.0\\.1:${m2.clientPort}\\s+127\\.0\\.0\\.1:${p2}\\s+[0-9a-f]+\\s+(yes|no)\\s+\\d+\\s+ok\\n`,
    ),
    'and for member b',
  );

  const members = (await (await fetch(`${api}/cluster`)).json()) as any[];
  t.same(
    members.map((m) => m.name),
    ['a', 'b'],
  );
  t.ok(
    members.every((m) => m.ok && typeof m.revision === 'number' && m.memberId),
    'each member answers with its own status',
  );
  t.equal(members.filter((m) => m.isLeader).length, 1, 'one of them is the leader');
  t.same(
    members.map((m) => m.clientLink),
    ['a-client', 'b-client'],
  );
  const ids = await etcdMemberIds();
  t.same(
    members.map((m) => m.id),
    [ids[m1.name], ids[m2.name]],
    "each member's id as etcd lists it",
  );
  t.same(
    members.map((m) => m.peer),
    [`127.0.0.1:${m1.peerPort}`, undefined],
    'the peer URL where the config gives one',
  );

  t.match(
    await (await fetch(`http://127.0.0.1:${admin}/anything`)).text(),
    new RegExp(`^proxying \\[tcp://.*:${p1} -> tcp://127\\.0\\.0\\.1:${m1.clientPort}\\]\\n$`),
    "member a's etcd-proxy admin port",
  );

  await p.waitFor(/\[1(\.\d+)?s\] puts/, 'stderr', 20000);
  const load = (await (await fetch(`${api}/load`)).json()) as any;
  t.same(load.endpoints, [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`], "the load runs through the members' client links");
  t.equal(load.profile.rate, 50, "the config's load profile");
  p.child.kill('SIGINT');
  const { code } = await p.exited;
  t.equal(code, 0, 'a clean stop');
});

t.test('the topology of an existing cluster: its members, their links, ids learned from etcd', async (t) => {
  const [m1, m2] = cluster.members;
  const lab = await startLab(
    parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir: path.join(dir, 'reports'),
      cluster: {
        existing: {
          members: [
            { name: 'a', client: `127.0.0.1:${m1.clientPort}` },
            { name: 'b', client: `127.0.0.1:${m2.clientPort}`, peer: `127.0.0.1:${m2.peerPort}` },
          ],
        },
      },
    }),
    { out: null },
  );
  t.teardown(() => lab.stop());
  const topo = lab.daemon.topology;
  t.same(
    topo.list().map((m) => [m.name, m.client, m.peer, m.clientLink, m.process]),
    [
      ['a', `127.0.0.1:${m1.clientPort}`, undefined, 'a-client', undefined],
      ['b', `127.0.0.1:${m2.clientPort}`, `127.0.0.1:${m2.peerPort}`, 'b-client', undefined],
    ],
    'members from the config, each with its client link and no process handle',
  );
  const ids = await etcdMemberIds();
  t.same(
    topo.list().map((m) => m.id),
    [ids[m1.name], ids[m2.name]],
    'ids learned from the members (the banner asked them)',
  );
  const roles = await topo.roles();
  t.ok(roles.leader && [roles.leader, ...roles.followers].length === 2, `leader ${roles.leader?.name}, one follower`);
  t.same(
    lab.daemon.clientEndpoints(),
    topo.list().map((m) => lab.daemon.listLinks().find((l) => l.name === m.clientLink)!.listen),
    "the load's endpoints are the members' client links",
  );
});
