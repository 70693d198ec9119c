// Partitions for an existing cluster on this machine (socket-owner mode): three etcd members started
// here (TLS peers), not by the daemon, advertise the daemon's peer links as their peer URLs. Isolating
// the leader through the API elects a new leader among the rest, 0 bytes pass a cut pair, and healing
// brings every member back at one revision. Also: what a peer link's accept costs with and without a
// partition active (printed, no threshold), and the 422 when the members have no peer links.
import t from 'tap';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import { api, labOverLocalCluster, localLayout, put, sleep, until } from './helpers/partition.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-partition-owner-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

interface Row {
  name: string;
  ok: boolean;
  isLeader?: boolean;
  revision?: number;
  client: string;
}
interface Pair {
  from: string;
  to: string;
  bytes: number;
  blackholed: number;
  refused: number;
  tunnels: number;
}

const pairOf = (pairs: Pair[], from: string, to: string): Pair =>
  pairs.find((p) => p.from === from && p.to === to) ?? { from, to, bytes: 0, blackholed: 0, refused: 0, tunnels: 0 };

/** one fresh TLS connection through a peer link and one request on it: ms */
function versionOnce(port: number): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = https.get(
      { host: '127.0.0.1', port, path: '/version', agent: false, rejectUnauthorized: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(performance.now() - t0));
      },
    );
    req.on('error', reject);
  });
}

async function acceptCost(port: number, n: number): Promise<{ p50: number; mean: number }> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) ms.push(await versionOnce(port));
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(n / 2)], mean: ms.reduce((a, b) => a + b, 0) / n };
}

const layout = await localLayout(['s1', 's2', 's3'], true);

t.test('no peer links: the 422 says why', async (t) => {
  const lab = await startLab(
    parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir,
      cluster: { existing: { members: layout.map((m) => ({ name: m.name, client: `127.0.0.1:${m.client}` })) } },
    }),
    { out: null },
  );
  t.teardown(() => lab.stop());
  const r = await api(lab, 'POST', '/partitions', { isolate: 's1' });
  t.equal(r.status, 422);
  t.match(JSON.stringify(r.body), /have no peer link/, 'names the missing peer links');
});

t.test('isolate the leader of an existing local cluster through its peer links', async (t) => {
  // started by "someone else": the daemon knows only their ports; their peer URLs are the peer links
  const { lab, cluster } = await labOverLocalCluster(t, layout, { peerTls: true, reportDir });
  t.equal(cluster.members.length, 3);

  const linkPort = lab.daemon.getLink('s1-peer').address().port;
  const idle = await acceptCost(linkPort, 40);

  const before: Row[] = await until('a leader', async () => {
    const rows: Row[] = (await api(lab, 'GET', '/cluster')).body;
    return rows.every((r) => r.ok) && rows.some((r) => r.isLeader) ? rows : undefined;
  });
  const old = before.find((m) => m.isLeader)!;
  const rest = before.filter((m) => m.name !== old.name).map((m) => m.name);
  const created = await api(lab, 'POST', '/partitions', { isolate: 'leader' });
  t.equal(created.status, 201, JSON.stringify(created.body));
  t.equal(lab.daemon.peers.mode(), 'socket-owner', 'enforced by socket owner');
  t.same(
    [...lab.daemon.peers.ownerMode!.memberPids().entries()].sort(),
    cluster.members.map((m) => [m.name, m.pid]).sort(),
    "each member's pid found from its peer port",
  );
  const p = created.body;
  t.equal(p.cut.length, 4, 'both ways between the leader and each other member');
  const p1: Pair[] = (await api(lab, 'GET', '/peers')).body;

  const fresh = await until('a new leader among the rest', async () => {
    const rows: Row[] = (await api(lab, 'GET', '/cluster')).body;
    return rows.find((m) => m.name !== old.name && m.ok && m.isLeader);
  });
  t.ok(rest.includes(fresh.name), `${fresh.name} leads the majority`);
  t.ok(await put(fresh.client, 'through-majority'), 'the majority commits');
  t.notOk(
    await put(before.find((m) => m.name === old.name)!.client, 'through-isolated'),
    'the isolated member cannot commit',
  );
  const busy = await acceptCost(linkPort, 5);
  await sleep(1000);
  const p2: Pair[] = (await api(lab, 'GET', '/peers')).body;
  for (const c of p.cut as { from: string; to: string }[]) {
    t.equal(
      pairOf(p2, c.from, c.to).bytes - pairOf(p1, c.from, c.to).bytes,
      0,
      `0 bytes ${c.from} → ${c.to} while cut`,
    );
  }
  const stopped = (p.cut as { from: string; to: string }[]).reduce(
    (n, c) => n + pairOf(p2, c.from, c.to).blackholed + pairOf(p2, c.from, c.to).refused,
    0,
  );
  t.ok(stopped > 0, `the cut pairs blackholed bytes or refused dials (${stopped})`);
  const [a, b] = rest;
  t.ok(pairOf(p2, a, b).bytes > pairOf(p1, a, b).bytes, `${a} → ${b} keeps flowing (classified by its dialler)`);

  t.equal((await api(lab, 'DELETE', `/partitions/${p.id}`)).status, 204);
  t.equal(lab.daemon.getLink('s1-peer').classifier, undefined, 'healed: the accept path is as before');
  const rev = await until('every member healthy at one revision, one leader', async () => {
    const rows: Row[] = (await api(lab, 'GET', '/cluster')).body;
    const revs = new Set(rows.map((m) => m.revision));
    return rows.every((m) => m.ok) && revs.size === 1 && rows.filter((m) => m.isLeader).length === 1
      ? [...revs][0]
      : undefined;
  });
  t.ok(rev! > 1, `one revision (${rev}) on every member`);
  const healed = await acceptCost(linkPort, 40);
  const f = (c: { p50: number; mean: number }) => `p50 ${c.p50.toFixed(2)} ms, mean ${c.mean.toFixed(2)} ms`;
  t.comment('a fresh TLS connection + GET /version through a peer link, from this process (no member):');
  t.comment(`  no partition: ${f(idle)}; healed: ${f(healed)} (40 each; no lookup on accept)`);
  t.comment(`  partition active: ${f(busy)} (5; an unknown dialler waits for a pid search, at most 4 a second)`);
  const acc = lab.daemon.peers.ownerMode!.acceptStats();
  const n = acc.member + acc.refused;
  t.comment(
    `  while partitioned, ${n} member dials (${acc.member} passed, ${acc.refused} refused; ${acc.unknown} other) waited ${(acc.memberWaitMs / Math.max(1, n)).toFixed(2)} ms each on average for their dialler`,
  );
  const counts = lab.daemon.peers.ownerMode!.owners.counts;
  t.comment(`  socket table reads ${counts.tableReads}, fd scans ${counts.fdScans} over the whole test`);
});
