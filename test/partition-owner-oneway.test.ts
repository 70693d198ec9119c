// Socket-owner partitions on plain-HTTP peers: a one-way cut between two followers (a ↛ b, reset mode)
// stops every byte from a to b and refuses a's dials into b's link while b's traffic to a flows; a
// restarted a (a new pid) is found again, and its dials still do not pass the cut; the listener of a
// port is found by pid.
import t from 'tap';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Lab } from '../src/lab/lab.js';
import { freePorts } from '../src/util/net.js';
import { SocketOwners } from '../src/util/sockowner.js';
import { api, labOverLocalCluster, localLayout, sleep, until } from './helpers/partition.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-partition-owner-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

interface Row {
  name: string;
  ok: boolean;
  isLeader?: boolean;
  revision?: number;
}
interface Pair {
  from: string;
  to: string;
  bytes: number;
  blackholed: number;
  refused: number;
}

const pairOf = (pairs: Pair[], from: string, to: string): Pair =>
  pairs.find((p) => p.from === from && p.to === to) ?? { from, to, bytes: 0, blackholed: 0, refused: 0 };
const peers = async (lab: Lab): Promise<Pair[]> => (await api(lab, 'GET', '/peers')).body;

t.test('the process listening on a port, by its LISTEN row and fds', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const [unused] = await freePorts(1);
  const found = new SocketOwners().listenerPids([port, unused]);
  t.same([...found], [[port, process.pid]], 'this process listens on the port; nothing on the other');
});

t.test('one-way cut on plain peers, reset mode, across a restart of the cut-off member', async (t) => {
  const names = ['s1', 's2', 's3'];
  const layout = await localLayout(names);
  const { lab, cluster } = await labOverLocalCluster(t, layout, { peerTls: false, reportDir });
  const rows0 = await until('a healthy cluster', async () => {
    const rows: Row[] = (await api(lab, 'GET', '/cluster')).body;
    return rows.every((r) => r.ok) && rows.some((r) => r.isLeader) ? rows : undefined;
  });
  // between two followers: the cut one still reaches the leader, so it serves again after its restart
  const leader = rows0.find((r) => r.isLeader)!.name;
  const [a, b] = names.filter((n) => n !== leader);

  const created = await api(lab, 'POST', '/partitions', { from: a, to: b, established: 'reset' });
  t.equal(created.status, 201, JSON.stringify(created.body));
  t.same(created.body.cut, [{ from: a, to: b }]);
  const p1 = await peers(lab);
  const link = lab.daemon.getLink(`${leader}-peer`);
  const l1 = link.stats();
  await sleep(1500);
  const p2 = await peers(lab);
  const l2 = link.stats();
  t.ok(
    l2.tx.forwarded + l2.rx.forwarded > l1.tx.forwarded + l1.rx.forwarded,
    'a peer link keeps counting the bytes of its classified connections',
  );
  t.equal(pairOf(p2, a, b).bytes - pairOf(p1, a, b).bytes, 0, `0 bytes ${a} → ${b}`);
  t.ok(pairOf(p2, a, b).refused > pairOf(p1, a, b).refused, `${a}'s dials into ${b}'s link are refused`);
  t.ok(pairOf(p2, b, a).bytes > pairOf(p1, b, a).bytes, `${b} → ${a} flows`);
  t.ok(pairOf(p2, leader, a).bytes > pairOf(p1, leader, a).bytes, `${leader} → ${a} flows`);

  // a restart: a has a new pid; its new dials are classified again and still cannot reach b
  const member = cluster.members.find((m) => m.name === a)!;
  const oldPid = member.pid;
  await member.restart();
  t.not(member.pid, oldPid, 'a new process');
  const p3 = await peers(lab);
  await sleep(1500);
  const p4 = await peers(lab);
  t.equal(lab.daemon.peers.ownerMode!.memberPids().get(a), member.pid, `${a}'s new pid is found`);
  t.equal(pairOf(p4, a, b).bytes - pairOf(p1, a, b).bytes, 0, `0 bytes ${a} → ${b} across the restart`);
  t.ok(pairOf(p4, a, b).refused > pairOf(p3, a, b).refused, `the new ${a}'s dials into ${b} are refused`);
  t.ok(pairOf(p4, a, leader).bytes > pairOf(p3, a, leader).bytes, `the new ${a} → ${leader} flows`);

  t.equal((await api(lab, 'DELETE', `/partitions/${created.body.id}`)).status, 204);
  const rows = await until('every member healthy at one revision after the heal', async () => {
    const r: Row[] = (await api(lab, 'GET', '/cluster')).body;
    return r.every((m) => m.ok) && new Set(r.map((m) => m.revision)).size === 1 ? r : undefined;
  });
  t.equal(rows.filter((r) => r.isLeader).length, 1, 'one leader');
  const p5 = await peers(lab);
  t.same(
    p5.map((p) => p.from + p.to).sort(),
    p4.map((p) => p.from + p.to).sort(),
    'GET /peers keeps the pairs seen (counters stay)',
  );
});
