// The member book's windows and timed undo on a manual clock, over real processes (a long `sleep` in
// the process handle etcd runs in, so signals and /proc states are real; nothing here needs etcd to
// serve): a timed freeze continues when the clock says so, a continue first cancels it, a kill of a
// frozen member ends the freeze window and opens a kill window, and the errors name the field.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemberProcess } from '../src/cluster/process.js';
import { MemberTie } from '../src/cluster/tie.js';
import { Topology } from '../src/cluster/topology.js';
import { MemberBook, type MemberAction, type MemberWindowEdge } from '../src/daemon/members.js';
import { ManualClock } from '../src/util/clock.js';
import { Invalid, NotFound, Unprocessable } from '../src/util/errors.js';
import { silentLogger } from '../src/util/log.js';
import { Rng } from '../src/util/rng.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-member-book-'));
const tie = new MemberTie('auto', dir);
const procs: MemberProcess[] = [];
t.teardown(async () => {
  for (const p of procs) await p.terminate('SIGKILL');
  tie.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sleeper(name: string): MemberProcess {
  const p = new MemberProcess(
    {
      name,
      clientPort: 1,
      peerPort: 1,
      advertiseClientPort: 1,
      advertisePeerPort: 1,
      clientUrl: 'http://127.0.0.1:1',
      peerUrl: 'http://127.0.0.1:1',
      dataDir: path.join(dir, name),
      logFile: path.join(dir, `${name}.log`),
    },
    { etcdBin: 'sleep', args: ['600'], tie, logger: silentLogger },
  );
  procs.push(p);
  p.start();
  return p;
}

const a = sleeper('a');
const topology = new Topology([{ name: 'a', process: a }, { name: 'ext' }]);
const clock = new ManualClock();
const book = new MemberBook({ topology, clock, logger: silentLogger, rng: new Rng(1) });
const edges: MemberWindowEdge[] = [];
book.on('window', (e: MemberWindowEdge) => edges.push(e));
const until = async (f: () => boolean) => {
  for (let i = 0; !f(); i++) {
    if (i > 3000) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

t.test('a timed freeze continues when the clock says so', async (t) => {
  const r = await book.act('a', 'freeze', { duration: 5000 });
  t.same(
    [r.member, r.action, r.state, r.window, r.at],
    ['a', 'freeze', 'stopped', 'm1', new Date(clock.wallNow()).toISOString()],
  );
  t.equal(r.pid, a.pid);
  t.same(book.active(), [{ id: 'm1', kind: 'freeze', member: 'a', since: r.at }]);
  t.equal(clock.pending, 1);
  clock.advance(4999);
  t.equal(a.state, 'stopped', 'still frozen before its duration');
  clock.advance(1);
  await until(() => book.active().length === 0);
  t.equal(a.state, 'running');
  t.same(
    edges.map((e) => [e.edge, e.id, e.kind, e.member, e.at]),
    [
      ['start', 'm1', 'freeze', 'a', Date.parse(r.at)],
      ['end', 'm1', 'freeze', 'a', Date.parse(r.at) + 5000],
    ],
  );
});

t.test('continue first: the timer is cancelled; nothing-to-do actions open nothing', async (t) => {
  edges.length = 0;
  const f = await book.act('a', 'freeze', { duration: 5000 });
  const again = await book.act('a', 'freeze');
  t.equal(again.window, f.window, 'freezing a frozen member: the same window');
  const c = await book.act('a', 'continue');
  t.equal(c.window, f.window, 'continue closes it');
  t.equal(c.state, 'running');
  t.equal(clock.pending, 0, 'the timed continue is cancelled');
  const idle = await book.act('a', 'continue');
  t.equal(idle.window, undefined);
  const start = await book.act('a', 'start');
  t.same([start.state, start.window], ['running', undefined], 'start of a running member does nothing');
  t.equal(edges.length, 2);
});

t.test('clear(): the timers end and a frozen member continues', async (t) => {
  await book.act('a', 'freeze', { duration: 60000 });
  t.equal(clock.pending, 1);
  t.equal(await book.clear(), 1);
  t.equal(clock.pending, 0);
  t.equal(a.state, 'running');
  t.same(book.active(), []);
});

t.test('kill of a frozen member: the freeze window ends, a kill window opens', async (t) => {
  edges.length = 0;
  const f = await book.act('a', 'freeze');
  const actions: MemberAction[] = [];
  book.on('action', (r: { action: MemberAction }) => actions.push(r.action));
  const k = await book.act('a', 'kill', { duration: 60000 });
  t.same([k.state, k.pid], ['exited', undefined]);
  t.not(k.window, f.window);
  t.same(
    edges.map((e) => [e.edge, e.id, e.kind]),
    [
      ['start', f.window, 'freeze'],
      ['end', f.window, 'freeze'],
      ['start', k.window, 'kill'],
    ],
  );
  t.same(actions, ['kill']);
  const twice = await book.act('a', 'kill');
  t.same([twice.state, twice.window], ['exited', k.window], 'a kill of an exited member: its window stands');
  await t.rejects(book.act('a', 'freeze'), Unprocessable, 'an exited member cannot be frozen');
  t.equal(clock.pending, 1, 'the timed start waits');
  t.equal(book.active().length, 1);
});

t.test('errors name the field', async (t) => {
  const details = async (p: Promise<unknown>) => ((await p.catch((e: unknown) => e)) as { details: unknown }).details;
  await t.rejects(book.act('nobody', 'kill'), NotFound);
  t.same(await details(book.act('nobody', 'kill')), [
    { path: 'target', message: 'no such member (or role: leader, follower, random-follower)' },
  ]);
  await t.rejects(book.act('ext', 'kill'), Unprocessable, 'a member this daemon did not launch');
  t.match(await details(book.act('ext', 'kill')), [{ path: 'target' }]);
  await t.rejects(book.act('a', 'explode' as MemberAction), Invalid);
  t.match(await details(book.act('a', 'explode' as MemberAction)), [{ path: 'action' }]);
  t.match(await details(book.act('a', 'restart', { duration: 1000 })), [{ path: 'duration' }]);
});
