// Faults addressed to targets (FaultBook) over real links: selection by link, member, kind and role, one
// id on every link, parts leaving on replacement and removal, expiry driven by a manual clock.
import t from 'tap';
import { FaultBook, type TargetMember } from '../src/daemon/faults.js';
import type { Link } from '../src/proxy/link.js';
import { parseFaultSpec as fault } from '../src/proxy/faults/registry.js';
import { ManualClock } from '../src/util/clock.js';
import { NotFound, Unprocessable } from '../src/util/errors.js';
import { startLink } from './helpers/net.js';

async function setup(t: Parameters<Parameters<typeof t.test>[1]>[0], leaders: string[] = ['m1']) {
  const clock = new ManualClock();
  const links = new Map<string, Link>();
  for (const name of ['m1-client', 'm1-peer', 'm2-client', 'm2-peer', 'm3-client', 'm3-peer', 'side'])
    links.set(name, await startLink({ name, upstreamPort: 9, clock }));
  t.teardown(async () => {
    for (const l of links.values()) await l.close();
  });
  const members: TargetMember[] = ['m1', 'm2', 'm3'].map((m) => ({
    name: m,
    clientLink: `${m}-client`,
    peerLink: `${m}-peer`,
  }));
  const book = new FaultBook({
    clock,
    link: (n) => links.get(n),
    links: () => [...links.values()],
    members: () => members,
    leaders: async () => leaders,
  });
  for (const l of links.values()) l.on('fault-removed', (info: { id: string }) => book.partRemoved(l.name, info.id));
  return { clock, links, book };
}

t.test('a target resolves to links by name, member, kind and role', async (t) => {
  const { book } = await setup(t);
  t.same(await book.resolve({ links: ['side'] }), ['side']);
  t.same((await book.resolve({ members: ['m2'] })).sort(), ['m2-client', 'm2-peer']);
  t.same((await book.resolve({ members: ['m2', 'm3'], kind: 'peer' })).sort(), ['m2-peer', 'm3-peer']);
  t.same((await book.resolve({ kind: 'client' })).sort(), ['m1-client', 'm2-client', 'm3-client']);
  t.same((await book.resolve({ role: 'leader' })).sort(), ['m1-client', 'm1-peer']);
  t.same((await book.resolve({ role: 'follower', kind: 'peer' })).sort(), ['m2-peer', 'm3-peer']);
  t.same((await book.resolve({ links: ['side'], members: ['m1'], kind: 'client' })).sort(), ['m1-client', 'side']);
  await t.rejects(book.resolve({ links: ['nope'] }), NotFound);
  await t.rejects(book.resolve({ members: ['m9'] }), NotFound);
  await t.rejects(book.resolve({ members: ['m1'], role: 'follower' }), Unprocessable);
});

t.test('no leader: a role target is refused, naming the field', async (t) => {
  const { book } = await setup(t, []);
  const err = await book.resolve({ role: 'leader' }).catch((e: Unprocessable) => e);
  t.type(err, Unprocessable);
  t.equal((err as Unprocessable).details[0].path, 'target.role');
});

t.test('one fault, one id on every selected link; removed everywhere at once', async (t) => {
  const { book, links } = await setup(t);
  const f = await book.add(fault({ type: 'delay', direction: 'tx', latency: '20ms' }), {
    members: ['m1', 'm2'],
    kind: 'peer',
  });
  t.same(f.links.sort(), ['m1-peer', 'm2-peer']);
  t.equal(f.scope, 'tx');
  for (const n of f.links)
    t.same(
      links
        .get(n)!
        .listFaults()
        .map((x) => x.id),
      [f.id],
      `${n} carries ${f.id}`,
    );
  t.equal(links.get('m3-peer')!.listFaults().length, 0);
  t.same(
    book.list().map((x) => x.id),
    [f.id],
  );
  t.ok(book.remove(f.id));
  t.notOk(book.remove(f.id), 'a second removal finds nothing');
  for (const n of f.links) t.equal(links.get(n)!.listFaults().length, 0);
  t.same(book.list(), []);
  t.throws(() => book.get(f.id), NotFound);
});

t.test('a part replaced on one link leaves the fault; the last part ends it', async (t) => {
  const { book, links } = await setup(t);
  const a = await book.add(fault({ type: 'drop', direction: 'rx', probability: 0.5 }), {
    links: ['m1-client', 'm2-client'],
  });
  const b = await book.add(fault({ type: 'drop', direction: 'rx', probability: 0.1 }), { links: ['m2-client'] });
  t.same(book.get(a.id).links, ['m1-client'], 'm2-client now carries the newer fault');
  t.same(book.get(b.id).links, ['m2-client']);
  links.get('m1-client')!.clearFaults();
  t.same(
    book.list().map((x) => x.id),
    [b.id],
    'the first fault lost its last part',
  );
});

t.test('one expiry for every part, driven by the clock', async (t) => {
  const { book, links, clock } = await setup(t);
  const f = await book.add(fault({ type: 'pause', direction: 'tx', duration: '30s' }), {
    role: 'follower',
    kind: 'client',
  });
  t.equal(Date.parse(f.expiresAt!) - Date.parse(f.createdAt), 30_000);
  clock.advance(29_999);
  t.same(book.get(f.id).links.sort(), ['m2-client', 'm3-client'], 'still there 1 ms before expiry');
  clock.advance(1);
  t.same(book.list(), [], 'expired everywhere at once');
  for (const n of f.links) t.equal(links.get(n)!.listFaults().length, 0);
});

t.test('a one-shot fault acts on every selected link and is not kept', async (t) => {
  const { book } = await setup(t);
  const f = await book.add(fault({ type: 'reset' }), { kind: 'client' });
  t.equal(f.links.length, 3);
  t.same(book.list(), []);
});

t.test('faults added to one link are listed and removed through the book too', async (t) => {
  const { book, links } = await setup(t);
  const own = links.get('side')!.addFault(fault({ type: 'blackhole', direction: 'rx' }));
  const f = await book.add(fault({ type: 'pause', direction: 'rx' }), { members: ['m3'] });
  const all = book.list();
  t.same(all.map((x) => x.id).sort(), [f.id, own.id].sort(), 'the targeted fault once, not each of its parts');
  t.same(book.get(own.id).target, { links: ['side'] });
  t.ok(book.remove(own.id));
  t.same(links.get('side')!.listFaults(), []);
  t.equal(book.clear(), 1);
  t.same(book.list(), []);
});
