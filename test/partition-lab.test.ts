// Member-aware partitions on the lab's real members (TLS peers, then plain peers): isolating the leader
// elects a new one among the rest, 0 bytes pass a cut pair, the isolated member cannot commit, healing
// brings back one revision and one KV hash on every member, and the load finds no violation; one-way
// cuts and groups do what the graph says.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseConfig } from '../src/config/schema.js';
import { startLab, type Lab } from '../src/lab/lab.js';
import { api, put, sleep, until } from './helpers/partition.js';

const run = promisify(execFile);
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-partition-lab-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

interface Row {
  name: string;
  ok: boolean;
  isLeader?: boolean;
  revision?: number;
  client: string;
  clientLink: string;
  partition: { cutTo: string[]; cutFrom: string[]; partitions: string[] };
}
interface Pair {
  from: string;
  to: string;
  bytes: number;
}

const bytes = (pairs: Pair[], from: string, to: string) =>
  pairs.find((p) => p.from === from && p.to === to)?.bytes ?? 0;

async function startPartitionLab(t: Tap, peerTls: boolean, extra: object = {}): Promise<Lab> {
  const config = parseConfig({
    ...extra,
    api: { listen: '127.0.0.1:0' },
    reportDir,
    cluster: { launch: { members: 3, ports: 'ephemeral', peerTls } },
    load: { rate: 50, watchers: 12, keys: 4, connections: 3, settle: '15s', putTimeout: '3s', interval: '1s' },
  });
  const lab = await startLab(config, { out: null });
  t.teardown(() => lab.stop());
  return lab;
}
type Tap = Parameters<Parameters<typeof t.test>[1]>[0];

async function isolateTheLeader(t: Tap, lab: Lab): Promise<void> {
  const before: Row[] = (await api(lab, 'GET', '/cluster')).body;
  const old = before.find((m) => m.isLeader)!;
  t.ok(old, `the leader is ${old?.name}`);
  const created = await api(lab, 'POST', '/partitions', { isolate: 'leader', duration: '60s' });
  t.equal(created.status, 201);
  const p = created.body;
  t.match(p.id, /^p\d+$/);
  t.equal(p.cut.length, 4, 'both ways between the leader and each other member');
  t.ok(
    p.cut.every((c: { from: string; to: string }) => c.from === old.name || c.to === old.name),
    'every cut pair touches the old leader',
  );
  const rest = before.filter((m) => m.name !== old.name);
  const fresh = await until('a new leader among the rest', async () => {
    const rows: Row[] = (await api(lab, 'GET', '/cluster')).body;
    return rows.find((m) => m.name !== old.name && m.ok && m.isLeader);
  });
  t.ok(
    rest.some((m) => m.name === fresh.name),
    `${fresh.name} leads the majority`,
  );
  const state: Row[] = (await api(lab, 'GET', '/cluster')).body;
  t.same(state.find((m) => m.name === old.name)!.partition.cutTo.sort(), rest.map((m) => m.name).sort());

  // the window: nothing passes a cut pair
  const p1: Pair[] = (await api(lab, 'GET', '/peers')).body;
  t.ok(
    await put(fresh.clientLink ? linkEndpoint(lab, fresh.clientLink) : fresh.client, 'through-majority'),
    'the majority commits',
  );
  t.notOk(await put(linkEndpoint(lab, old.clientLink), 'through-isolated'), 'the isolated member cannot commit');
  await sleep(1000);
  const p2: Pair[] = (await api(lab, 'GET', '/peers')).body;
  for (const c of p.cut as { from: string; to: string }[])
    t.equal(bytes(p2, c.from, c.to) - bytes(p1, c.from, c.to), 0, `0 bytes ${c.from} → ${c.to} while cut`);
  const [a, b] = rest.map((m) => m.name);
  t.ok(bytes(p2, a, b) > bytes(p1, a, b), `${a} → ${b} keeps flowing`);

  // heal: one revision and one KV hash everywhere
  t.equal((await api(lab, 'DELETE', `/partitions/${p.id}`)).status, 204);
  t.same((await api(lab, 'GET', '/partitions')).body, []);
  const rev = await until('every member healthy at one revision', async () => {
    const rows: Row[] = (await api(lab, 'GET', '/cluster')).body;
    const revs = new Set(rows.map((m) => m.revision));
    return rows.every((m) => m.ok) && revs.size === 1 ? [...revs][0] : undefined;
  });
  const direct = before.map((m) => m.client).join(',');
  const { stdout } = await run('etcdctl', ['--endpoints', direct, 'endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const hashes = new Set((JSON.parse(stdout) as { HashKV: { hash: number } }[]).map((h) => h.HashKV.hash));
  t.equal(hashes.size, 1, `one KV hash on every member at revision ${rev}`);
}

function linkEndpoint(lab: Lab, link: string): string {
  return `127.0.0.1:${lab.daemon.getLink(link).address().port}`;
}

async function loadIsClean(t: Tap, lab: Lab): Promise<void> {
  const s = (await api(lab, 'DELETE', '/load')).body;
  const v = s.violations as Record<string, number>;
  t.same(v, noViolations(), 'no watch violation in the load');
}

t.test('TLS peers: isolate the leader, then heal', async (t) => {
  const lab = await startPartitionLab(t, true);
  await isolateTheLeader(t, lab);
  await loadIsClean(t, lab);
});

t.test('plain peers: isolate the leader; a one-way cut and symmetric groups do what the graph says', async (t) => {
  const lab = await startPartitionLab(t, false);
  await isolateTheLeader(t, lab);

  const rows: Row[] = (await api(lab, 'GET', '/cluster')).body;
  const leader = rows.find((m) => m.isLeader)!;
  const [f1, f2] = rows.filter((m) => !m.isLeader);
  // one-way: f1's traffic to the leader is cut, the leader's to f1 is not
  const oneWay = (await api(lab, 'POST', '/partitions', { from: f1.name, to: leader.name })).body;
  t.same(oneWay.cut, [{ from: f1.name, to: leader.name }]);
  await sleep(500);
  const q1: Pair[] = (await api(lab, 'GET', '/peers')).body;
  t.ok(
    await put(linkEndpoint(lab, leader.clientLink), 'one-way'),
    'the leader still commits (with the other follower)',
  );
  await sleep(1000);
  const q2: Pair[] = (await api(lab, 'GET', '/peers')).body;
  t.equal(bytes(q2, f1.name, leader.name) - bytes(q1, f1.name, leader.name), 0, `0 bytes ${f1.name} → ${leader.name}`);
  t.ok(bytes(q2, leader.name, f1.name) > bytes(q1, leader.name, f1.name), `${leader.name} → ${f1.name} flows`);
  t.equal((await api(lab, 'DELETE', `/partitions/${oneWay.id}`)).status, 204);

  // groups: the side with a majority commits, the other cannot
  const groups = (await api(lab, 'POST', '/partitions', { groups: [[f2.name], [leader.name, f1.name]] })).body;
  t.equal(groups.cut.length, 4);
  t.ok(await put(linkEndpoint(lab, leader.clientLink), 'majority-side'), 'the majority side commits');
  t.notOk(await put(linkEndpoint(lab, f2.clientLink), 'minority-side'), 'the minority side cannot');
  t.same((await api(lab, 'DELETE', '/partitions')).body, { healed: 1 });
  await until('every member healthy again', async () => {
    const r: Row[] = (await api(lab, 'GET', '/cluster')).body;
    return r.every((m) => m.ok) && new Set(r.map((m) => m.revision)).size === 1 ? true : undefined;
  });
  await loadIsClean(t, lab);
});

t.test("a config's partitions apply at start; bad partitions are 4xx naming the field", async (t) => {
  const lab = await startPartitionLab(t, true, {
    partitions: [{ from: 's3', to: 's1', cut: { delay: '5ms' }, duration: '10m' }],
  });
  const [fromConfig] = (await api(lab, 'GET', '/partitions')).body;
  t.same(fromConfig.cut, [{ from: 's3', to: 's1' }], "the config's partition is active");
  t.same(fromConfig.effect, { kind: 'delay', latency: 5, jitter: 0 });
  const bad = await api(lab, 'POST', '/partitions', { isolate: 's9' });
  t.equal(bad.status, 404);
  t.match(bad.body.details[0].path, 'isolate');
  const shape = await api(lab, 'POST', '/partitions', { isolate: 's1', groups: [['s1'], ['s2']] });
  t.equal(shape.status, 400);
  t.equal((await api(lab, 'GET', '/partitions/nope')).status, 404);
  t.equal((await api(lab, 'DELETE', '/partitions/nope')).status, 404);
  t.equal((await api(lab, 'GET', '/healthz')).status, 200);
});

t.test('the partition command: create from flags, list, heal; mistakes named before anything is sent', async (t) => {
  const lab = await startPartitionLab(t, true);
  const cli = async (...args: string[]) => {
    try {
      const r = await run('node', [path.resolve('bin/etcd-soak.js'), 'partition', ...args, '--api', lab.apiUrl]);
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, out: x.stdout, err: x.stderr };
    }
  };
  const made = await cli('create', '--groups', 's1/s2,s3', '--cut', 'delay=50ms±10ms', '--duration', '1m');
  t.equal(made.code, 0, made.err);
  t.match(made.out, /^p\d+ {2}groups: \{?s1\}? ⟷ \{s2,s3\} {2}\(4 pairs, until /);
  const [p] = (await api(lab, 'GET', '/partitions')).body;
  t.same(p.effect, { kind: 'delay', latency: 50, jitter: 10 });
  t.match((await cli('list')).out, p.id);
  const bad = await cli('create', '--isolate', 's1', '--from', 's2', '--to', 's3');
  t.equal(bad.code, 2);
  t.match(bad.err, /exactly one of isolate, groups, from\+to, preset/);
  const unknown = await cli('create', '--isolate', 's9');
  t.equal(unknown.code, 2);
  t.match(unknown.err, /404 isolate: no member s9/);
  t.same(await cli('heal', '--all'), { code: 0, out: 'healed 1\n', err: '' });
  const down = await run('node', [
    path.resolve('bin/etcd-soak.js'),
    'partition',
    'list',
    '--api',
    'http://127.0.0.1:1',
  ]).catch((e: { code: number; stderr: string }) => e);
  t.equal((down as { code: number }).code, 3, 'no daemon there: exit 3');
});
