// Member process faults through the API on a lab's real members, under a put/watch load: a follower
// frozen for 3 s comes back by itself, a killed follower reads as exited until started, a restarted
// leader keeps its data; each is a window (open while the member is away, closed once it serves), the
// status line names it, bad requests name the field, and the load finds no violation of etcd's.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/schema.js';
import { MemberBook, type MemberWindowEdge } from '../src/daemon/members.js';
import { controlClient } from '../src/etcd/control.js';
import { startLab } from '../src/lab/lab.js';
import { formatStatusLine, type TimelineLine } from '../src/loadgen/report.js';
import { systemClock } from '../src/util/clock.js';
import { silentLogger } from '../src/util/log.js';
import { Rng } from '../src/util/rng.js';
import { api, sleep, until } from './helpers/partition.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-member-faults-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

interface Row {
  name: string;
  ok: boolean;
  isLeader?: boolean;
  state?: string;
  pid?: number;
  client: string;
}
interface Win {
  id: string;
  kind: string;
  member: string;
  since: string;
}

const lab = await startLab(
  parseConfig({
    api: { listen: '127.0.0.1:0' },
    reportDir,
    seed: 42,
    cluster: { launch: { members: 3, ports: 'ephemeral' } },
    load: { rate: 50, watchers: 12, keys: 4, connections: 3, settle: '15s', putTimeout: '3s', interval: '1s' },
  }),
  { out: null },
);
t.teardown(() => lab.stop());

const edges: MemberWindowEdge[] = [];
lab.daemon.memberBook.on('window', (e: MemberWindowEdge) => edges.push(e));
const statusLines: string[] = [];
lab.daemon.on('load-interval', (line: TimelineLine) => statusLines.push(formatStatusLine(line)));

const cluster = async (): Promise<Row[]> => (await api(lab, 'GET', '/cluster')).body;
const row = async (name: string) => (await cluster()).find((m) => m.name === name)!;
const windows = async (): Promise<Win[]> => (await api(lab, 'GET', '/members')).body.windows;
const healthy = () =>
  until('every member serving', async () =>
    (await cluster()).every((m) => m.ok && m.state === 'running') ? true : undefined,
  );

/** what a member itself has (a serializable read answered by it alone) */
async function localGet(client: string, key: string): Promise<string | null> {
  const c = controlClient([client], { deadlineMs: 10000 });
  try {
    return await c.get(key).serializable(true).string();
  } finally {
    c.close();
  }
}

t.test('GET /members: the launched members, running, and no window', async (t) => {
  await healthy();
  const { status, body } = await api(lab, 'GET', '/members');
  t.equal(status, 200);
  t.equal(body.members.length, 3);
  t.ok(body.members.every((m: Row) => m.state === 'running' && m.pid! > 0));
  t.same(body.windows, []);
});

t.test('bad requests name the field', async (t) => {
  const action = await api(lab, 'POST', '/members/s1/explode');
  t.equal(action.status, 400);
  t.equal(action.body.details[0].path, 'action');
  const member = await api(lab, 'POST', '/members/s9/kill');
  t.equal(member.status, 404);
  t.equal(member.body.details[0].path, 'target');
  const duration = await api(lab, 'POST', '/members/s1/freeze', { duration: 'soon' });
  t.equal(duration.status, 400);
  t.equal(duration.body.details[0].path, 'duration');
  const notUndoable = await api(lab, 'POST', '/members/s1/restart', { duration: '1s' });
  t.equal(notUndoable.status, 400);
  t.equal(notUndoable.body.details[0].path, 'duration');
  const unknownField = await api(lab, 'POST', '/members/s1/kill', { signal: 9 });
  t.equal(unknownField.status, 400);
  t.same(await windows(), [], 'nothing was applied');
  t.ok((await cluster()).every((m) => m.state === 'running'));
});

t.test('freeze a follower for 3 s: frozen (state stopped) in a window, then running again by itself', async (t) => {
  await healthy();
  const followers = (await cluster())
    .filter((m) => !m.isLeader)
    .map((m) => m.name)
    .sort();
  const before = edges.length;
  const r = await api(lab, 'POST', '/members/follower/freeze', { duration: '3s' });
  t.equal(r.status, 200);
  t.equal(r.body.member, followers[0], 'follower: the first follower by name');
  t.equal(r.body.action, 'freeze');
  t.equal(r.body.state, 'stopped');
  t.match(r.body.window, /^m\d+$/);
  // read at once (GET /members asks no member): the freeze lasts 3 s
  const { members, windows: open } = (await api(lab, 'GET', '/members')).body;
  t.equal(members.find((m: Row) => m.name === r.body.member).state, 'stopped', 'shown frozen');
  t.same(
    open.map((w: Win) => [w.id, w.kind, w.member]),
    [[r.body.window, 'freeze', r.body.member]],
  );
  t.ok(
    lab.daemon.activeFaults().some((f) => f.link === 'members' && f.type === 'freeze' && f.scope === r.body.member),
    'an active fault for the timeline',
  );
  await until('the freeze window closed by itself', async () => ((await windows()).length === 0 ? true : undefined));
  t.equal((await row(r.body.member)).state, 'running');
  const mine = edges.slice(before);
  t.same(
    mine.map((e) => [e.edge, e.id, e.kind, e.member]),
    [
      ['start', r.body.window, 'freeze', r.body.member],
      ['end', r.body.window, 'freeze', r.body.member],
    ],
  );
  const held = mine[1].at - mine[0].at;
  // (wall-clock stamps of a monotonic timer: allow a few ms of rounding)
  t.ok(held >= 2990, `the window lasted its duration (${held} ms)`);
  t.equal(mine[0].at, Date.parse(r.body.at), 'the window starts when the freeze took effect');
  await healthy();
});

t.test('kill a random follower: exited in a kill window; start: serving, the window closed', async (t) => {
  await healthy();
  const rows = await cluster();
  const leader = rows.find((m) => m.isLeader)!.name;
  const followers = rows.filter((m) => !m.isLeader).map((m) => m.name);
  // avoid one follower: the other is the only choice
  const r = await api(lab, 'POST', '/members/random-follower/kill', { avoid: [followers[0]] });
  t.equal(r.status, 200);
  t.equal(r.body.member, followers[1], 'random-follower: a follower, never one to avoid');
  t.not(r.body.member, leader);
  t.equal(r.body.state, 'exited');
  t.notOk('pid' in r.body);
  const killed = await row(r.body.member);
  t.equal(killed.state, 'exited', '/cluster shows it exited');
  t.same(
    (await windows()).map((w) => [w.id, w.kind, w.member]),
    [[r.body.window, 'kill', r.body.member]],
  );
  // a member under a member fault is not picked again
  const again = await api(lab, 'POST', '/members/random-follower/freeze', { avoid: [followers[0]] });
  t.equal(again.status, 422);
  t.equal(again.body.details[0].path, 'target');
  const frozenExited = await api(lab, 'POST', `/members/${r.body.member}/freeze`);
  t.equal(frozenExited.status, 422, 'an exited member cannot be frozen');
  // the load runs with a member down, and says so
  await until('a status line naming the member down', async () =>
    statusLines.some((l) => l.includes(` | member ${r.body.member} down`)) ? true : undefined,
  );
  await sleep(1000);
  const s = await api(lab, 'POST', `/members/${r.body.member}/start`);
  t.equal(s.status, 200);
  t.equal(s.body.state, 'running');
  t.ok(s.body.pid > 0);
  t.equal(s.body.window, r.body.window, 'the start closed the kill window');
  t.same(await windows(), []);
  t.equal((await row(r.body.member)).state, 'running');
  await healthy();
});

t.test('kill a follower, then restart it: the restart closes the kill window', async (t) => {
  await healthy();
  const k = await api(lab, 'POST', '/members/follower/kill');
  t.equal(k.body.state, 'exited');
  const r = await api(lab, 'POST', `/members/${k.body.member}/restart`);
  t.equal(r.status, 200);
  t.same([r.body.state, r.body.window], ['running', k.body.window]);
  t.same(await windows(), []);
  await healthy();
});

t.test('restart the leader: a restart window while away; its data is kept', async (t) => {
  await healthy();
  const rows = await cluster();
  const leader = rows.find((m) => m.isLeader)!;
  const c = controlClient([leader.client], { deadlineMs: 10000 });
  await c.put('member-faults/before-restart').value('kept');
  c.close();
  const before = edges.length;
  const r = await api(lab, 'POST', '/members/leader/restart');
  t.equal(r.status, 200);
  t.equal(r.body.member, leader.name, 'leader: the member that led');
  t.equal(r.body.state, 'running');
  t.not(r.body.pid, leader.pid, 'a new process');
  t.same(
    edges.slice(before).map((e) => [e.edge, e.kind, e.member]),
    [
      ['start', 'restart', leader.name],
      ['end', 'restart', leader.name],
    ],
  );
  t.equal(r.body.window, edges[before].id);
  t.same(await windows(), []);
  t.equal(await localGet(leader.client, 'member-faults/before-restart'), 'kept', 'read from the restarted member');
  await healthy();
});

t.test('random-follower is a seeded pick: the same seed picks the same followers', async (t) => {
  await healthy();
  // continue on a running member has nothing to do: only the pick is seen
  const picks = async (seed: number) => {
    const book = new MemberBook({
      topology: lab.daemon.topology,
      clock: systemClock,
      logger: silentLogger,
      rng: new Rng(seed),
    });
    const out: string[] = [];
    for (let i = 0; i < 8; i++) out.push((await book.act('random-follower', 'continue')).member);
    return out;
  };
  const a = await picks(7);
  t.same(await picks(7), a);
  const leader = (await cluster()).find((m) => m.isLeader)!.name;
  t.notOk(a.includes(leader), 'never the leader');
  t.equal(new Set(a).size, 2, `both followers picked over 8 draws: ${a.join(' ')}`);
});

t.test('clear(): timers end and every member comes back', async (t) => {
  await healthy();
  const f = await lab.daemon.memberBook.act('random-follower', 'freeze', { duration: 60000 });
  t.equal(f.state, 'stopped');
  const frozen = await row(f.member);
  t.equal(frozen.state, 'stopped', '/cluster shows it frozen');
  t.notOk(frozen.ok, 'and it does not answer');
  await until('a status line naming the frozen member', async () =>
    statusLines.some((l) => l.includes(` | member ${f.member} frozen`)) ? true : undefined,
  );
  t.equal(lab.daemon.memberBook.active().length, 1);
  t.equal(await lab.daemon.memberBook.clear(), 1);
  t.same(lab.daemon.memberBook.active(), []);
  t.equal((await row(f.member)).state, 'running');
  await healthy();
});

t.test('the load saw no violation of etcd guarantees through all of it', async (t) => {
  const s = (await api(lab, 'DELETE', '/load')).body;
  t.same(s.violations, noViolations());
  t.ok(s.counts.ok > 0, 'puts went through');
});
