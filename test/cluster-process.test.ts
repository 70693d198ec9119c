// A launched member's process handle against real etcd members: kill (the others keep a quorum),
// freeze/thaw (it stops answering, then answers again), restart (same member id, data kept), each safe
// in any state; the owner record and the process group follow every restart.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { controlClient, memberStatuses } from '../src/etcd/control.js';
import { OWNER_FILE, type OwnerRecord } from '../src/cluster/owner.js';
import type { MemberProcess } from '../src/cluster/process.js';
import { hexId, Topology } from '../src/cluster/topology.js';
import { Conflict, Unprocessable } from '../src/util/errors.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, { size: 3 });
const unexpected: string[] = [];
cluster.on('member-exit', (name: string) => unexpected.push(name));
const topology = new Topology(
  cluster.members.map((m) => ({ name: m.name, clientUrl: m.clientUrl, peerUrl: m.peerUrl, process: m })),
);

const record = () => JSON.parse(fs.readFileSync(path.join(cluster.baseDir, OWNER_FILE), 'utf8')) as OwnerRecord;
const endpoint = (m: MemberProcess) => `127.0.0.1:${m.clientPort}`;
/** the member's own status, with a short deadline (a frozen member does not answer) */
const status = async (m: MemberProcess) => (await memberStatuses([endpoint(m)], 700))[0];
const pgid = (pid: number) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[2]);

async function put(endpoints: string[], key: string, value: string): Promise<void> {
  const c = controlClient(endpoints, { deadlineMs: 10000 });
  try {
    await c.put(key).value(value);
  } finally {
    c.close();
  }
}

/** a member-local read: what this member itself has, not what the leader has */
async function localGet(m: MemberProcess, key: string): Promise<string | null> {
  const c = controlClient([endpoint(m)], { deadlineMs: 10000 });
  try {
    return await c.get(key).serializable(true).string();
  } finally {
    c.close();
  }
}

/** a follower, so a kill or a restart does not wait out an election */
async function follower(t: Test): Promise<MemberProcess> {
  const roles = await topology.roles();
  t.ok(roles.leader, 'a leader is known');
  return roles.followers[0].process!;
}

t.test('the topology of a launched cluster: ids learned from the members, one leader, two followers', async (t) => {
  const roles = await topology.roles();
  t.equal(roles.followers.length, 2);
  t.same(roles.unreachable, []);
  const leader = await cluster.leader();
  t.equal(roles.leader?.name, leader?.name, "the launcher's leader agrees");
  for (const m of topology.list()) {
    t.match(m.id, /^[0-9a-f]+$/, `${m.name} has a hex id`);
    t.equal(m.state, 'running');
    t.equal(topology.processOf(m.name), m.process, 'its process handle');
  }
  t.same(
    topology.clientEndpoints(() => undefined),
    cluster.clientEndpoints(),
    'no links: the members themselves',
  );
});

t.test('kill: the member exits, the others keep a quorum; safe again; restart from exited', async (t) => {
  const m = await follower(t);
  const others = cluster.members.filter((x) => x !== m);
  const id = hexId((await status(m)).memberId!);
  const oldPid = m.pid!;
  await m.kill();
  t.equal(m.state, 'exited');
  t.equal(m.pid, undefined);
  t.equal(record().members.find((x) => x.name === m.name)?.pid, null, 'the owner record says it is gone');
  await put(others.map(endpoint), 'topology/after-kill', 'quorum');
  t.pass('a put through the other two members is committed');
  await m.kill();
  await m.kill('SIGTERM');
  t.pass('kill of an exited member has nothing to do');
  await t.rejects(m.freeze(), Unprocessable, 'freeze of an exited member says why');
  await t.rejects(m.thaw(), Unprocessable, 'thaw too');

  await m.restart();
  t.equal(m.state, 'running');
  t.not(m.pid, oldPid, 'a new process');
  t.equal(hexId((await status(m)).memberId!), id, 'the same member');
  t.equal(await localGet(m, 'topology/after-kill'), 'quorum', 'it caught up with what it missed');
  t.equal(pgid(m.pid!), m.pid, 'the new process leads its own process group');
  t.match(fs.readFileSync(`/proc/${m.pid}/cmdline`, 'utf8').split('\0')[0], /etcd$/, "the pid is etcd's");
  t.equal(record().members.find((x) => x.name === m.name)?.pid, m.pid, 'the owner record names the new pid');
  t.same(unexpected, [], 'requested exits are not reported as crashes');
});

t.test('freeze: the member stops answering; thaw: it answers again; each twice is safe', async (t) => {
  const m = await follower(t);
  t.ok((await status(m)).ok, 'answers before');
  await m.freeze();
  t.equal(m.state, 'stopped');
  await m.freeze();
  t.equal(m.state, 'stopped', 'a second freeze has nothing to do');
  t.notOk((await status(m)).ok, 'a frozen member does not answer');
  const roles = await topology.roles(700);
  t.ok(
    roles.unreachable.some((x) => x.name === m.name),
    'the topology lists it as unreachable',
  );
  t.equal(m.running, true, 'the process is still there');
  await m.thaw();
  t.equal(m.state, 'running');
  await m.thaw();
  t.equal(m.state, 'running', 'a second thaw has nothing to do');
  let answered = false;
  for (let i = 0; i < 40 && !answered; i++) answered = (await status(m)).ok;
  t.ok(answered, 'it answers again');
  t.same(unexpected, []);
});

t.test(
  'restart of a running member: same id, data kept; a second restart joins; kill while restarting is refused',
  async (t) => {
    const m = await follower(t);
    await put(cluster.clientEndpoints(), 'topology/kept', 'before-restart');
    const id = hexId((await status(m)).memberId!);
    const oldPid = m.pid!;
    const first = m.restart();
    const second = m.restart();
    t.equal(first, second, 'a restart asked for during one joins it');
    await t.rejects(m.kill(), Conflict, 'kill while restarting');
    await t.rejects(m.freeze(), Conflict, 'freeze while restarting');
    await first;
    t.not(m.pid, oldPid);
    t.equal(m.state, 'running');
    t.equal(hexId((await status(m)).memberId!), id, 'the same member id');
    t.equal(await localGet(m, 'topology/kept'), 'before-restart', 'its data survived');
    t.same(unexpected, []);
  },
);

t.test('restart of a frozen member', async (t) => {
  const m = await follower(t);
  await m.freeze();
  await m.restart();
  t.equal(m.state, 'running');
  t.ok((await status(m)).ok);
  t.same(unexpected, []);
});

t.test('an unexpected exit is reported and leaves the handle exited', async (t) => {
  const m = await follower(t);
  const died = new Promise<string>((r) => cluster.once('member-exit', (name: string) => r(name)));
  process.kill(m.pid!, 'SIGKILL');
  t.equal(await died, m.name);
  t.equal(m.state, 'exited');
  unexpected.length = 0;
  await m.restart();
  t.equal(m.state, 'running');
});

t.test('once the cluster is stopped nothing starts again', async (t) => {
  const m = cluster.members[0];
  await cluster.stop();
  t.equal(m.state, 'exited');
  await m.kill();
  await t.rejects(m.restart(), Unprocessable);
  t.throws(() => m.start(), Unprocessable);
});
