// The topology model on its own (no etcd): members and the links that attach to them, the endpoints a
// load dials, and who leads from the members' answers.
import t from 'tap';
import fc from 'fast-check';
import type { MemberStatus } from '../src/etcd/control.js';
import { hexId, resolveRoles, Topology, type MemberAnswer } from '../src/cluster/topology.js';
import { Conflict, NotFound, Unprocessable } from '../src/util/errors.js';

t.test('declared members, their links by side, and lookups by name and by link', async (t) => {
  const topo = new Topology([
    { name: 's1', clientUrl: '127.0.0.1:2379', peerUrl: 'https://127.0.0.1:2380' },
    { name: 's2', clientUrl: 'http://127.0.0.1:3379' },
  ]);
  t.same(
    topo.list().map((m) => [m.name, m.client, m.peer, m.clientUrl]),
    [
      ['s1', '127.0.0.1:2379', '127.0.0.1:2380', 'http://127.0.0.1:2379'],
      ['s2', '127.0.0.1:3379', undefined, 'http://127.0.0.1:3379'],
    ],
  );
  t.throws(() => topo.add({ name: 's1' }), Conflict);
  t.throws(() => topo.get('s9'), NotFound);
  t.throws(() => topo.linksOf('s9'), NotFound);
  t.equal(topo.find('s9'), undefined);
  t.throws(() => topo.processOf('s1'), Unprocessable, 'a member this daemon did not launch has no process');
  t.throws(() => topo.processOf('s9'), NotFound);

  topo.attachLink({ name: 's1-client', kind: 'client', member: 's1', upstream: '127.0.0.1:2379' });
  topo.attachLink({ name: 's1-peer', kind: 'peer', member: 's1', upstream: '127.0.0.1:2380' });
  topo.attachLink({ name: 's1-client-b', kind: 'client', member: 's1', upstream: '127.0.0.1:2379' });
  t.throws(
    () => topo.attachLink({ name: 's1-peer', kind: 'peer', member: 's2', upstream: 'x:1' }),
    Conflict,
    'a link attaches once',
  );
  const s1 = topo.get('s1');
  t.equal(s1.clientLink, 's1-client', 'the first client link is the member’s');
  t.equal(s1.peerLink, 's1-peer');
  t.same(topo.linksOf('s1'), { client: ['s1-client', 's1-client-b'], peer: ['s1-peer'] });
  t.same(topo.linksOf('s2'), { client: [], peer: [] });
  t.equal(topo.byLink('s1-peer')?.member, s1);
  t.equal(topo.byLink('s1-peer')?.kind, 'peer');
  t.equal(topo.byLink('nope'), undefined);
  t.equal(s1.peer, '127.0.0.1:2380', "a link's upstream does not override the declared URL");

  topo.detachLink('s1-client');
  t.equal(s1.clientLink, 's1-client-b');
  topo.detachLink('s1-client-b');
  topo.detachLink('s1-peer');
  topo.detachLink('never-attached');
  t.same(
    topo.list().map((m) => m.name),
    ['s1', 's2'],
    'declared members stay when their links go',
  );
  t.equal(topo.byLink('s1-peer'), undefined);
});

t.test('a member known only from links: its URLs from their upstreams, gone with its last link', async (t) => {
  const topo = new Topology();
  topo.attachLink({ name: 'x-peer', kind: 'peer', member: 'x', upstream: '127.0.0.1:12380' });
  topo.attachLink({ name: 'x-client', kind: 'client', member: 'x', upstream: '127.0.0.1:12379' });
  const x = topo.get('x');
  t.equal(x.declared, false);
  t.equal(x.client, '127.0.0.1:12379');
  t.equal(x.peer, '127.0.0.1:12380');
  t.equal(x.state, undefined, 'no process handle');
  topo.detachLink('x-client');
  t.equal(topo.size, 1, 'still named by its peer link');
  topo.detachLink('x-peer');
  t.equal(topo.size, 0, 'gone with its last link');
});

t.test('client endpoints: the client links where any member has one, else the members themselves', async (t) => {
  const topo = new Topology([
    { name: 'a', clientUrl: '10.0.0.1:2379' },
    { name: 'b', clientUrl: '10.0.0.2:2379' },
    { name: 'c' },
  ]);
  const listen: Record<string, string> = { 'a-client': '127.0.0.1:23790', 'b-client': '127.0.0.1:33790' };
  const resolve = (l: string) => listen[l];
  t.same(topo.clientEndpoints(resolve), ['10.0.0.1:2379', '10.0.0.2:2379'], 'no links: own client URLs');
  topo.attachLink({ name: 'a-peer', kind: 'peer', member: 'a', upstream: '10.0.0.1:2380' });
  t.same(topo.clientEndpoints(resolve), ['10.0.0.1:2379', '10.0.0.2:2379'], 'a peer link is no endpoint');
  topo.attachLink({ name: 'b-client', kind: 'client', member: 'b', upstream: '10.0.0.2:2379' });
  topo.attachLink({ name: 'a-client', kind: 'client', member: 'a', upstream: '10.0.0.1:2379' });
  t.same(topo.clientEndpoints(resolve), ['127.0.0.1:23790', '127.0.0.1:33790'], 'through the links, by member');
  topo.attachLink({ name: 'gone', kind: 'client', member: 'c', upstream: '10.0.0.3:2379' });
  t.same(topo.clientEndpoints(resolve), ['127.0.0.1:23790', '127.0.0.1:33790'], 'a link that does not resolve');
  t.same(new Topology().clientEndpoints(resolve), []);
});

function answer(topo: Topology, name: string, s: Partial<MemberStatus>): MemberAnswer {
  return { member: topo.get(name), status: { endpoint: name, ok: true, ...s } };
}

t.test('roles: the leader named in the highest term; followers answered; the rest unreachable', async (t) => {
  const topo = new Topology([
    { name: 'a', id: '1' },
    { name: 'b', id: '2' },
    { name: 'c', id: '3' },
  ]);
  const r = resolveRoles([
    answer(topo, 'a', { memberId: '1', leader: '1', raftTerm: 2 }), // cut off, still thinks it leads
    answer(topo, 'b', { memberId: '2', leader: '3', raftTerm: 3 }),
    answer(topo, 'c', { memberId: '3', leader: '3', raftTerm: 3 }),
  ]);
  t.equal(r.leader?.name, 'c');
  t.same(
    r.followers.map((m) => m.name),
    ['a', 'b'],
  );
  t.same(r.unreachable, []);

  const frozenLeader = resolveRoles([
    { member: topo.get('a'), status: { endpoint: 'a', ok: false, error: 'deadline' } },
    answer(topo, 'b', { memberId: '2', leader: '1', raftTerm: 2 }),
    answer(topo, 'c', { memberId: '3', leader: '1', raftTerm: 2 }),
  ]);
  t.equal(frozenLeader.leader?.name, 'a', 'the others still name it');
  t.same(frozenLeader.unreachable, [], 'the leader is not listed as unreachable');

  const none = resolveRoles([
    answer(topo, 'a', { memberId: '1', leader: '0', raftTerm: 4 }),
    { member: topo.get('b'), status: { endpoint: 'b', ok: false } },
  ]);
  t.equal(none.leader, undefined, 'leader 0: an election is under way');
  t.same(
    none.followers.map((m) => m.name),
    ['a'],
  );
  t.same(
    none.unreachable.map((m) => m.name),
    ['b'],
  );
});

t.test('ids: decimal from the API, hex as etcdctl prints them', async (t) => {
  t.equal(hexId('10276657743932975437'), '8e9e05c52164694d');
  t.equal(hexId('8E9E05C52164694D'), '8e9e05c52164694d');
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (n) => BigInt('0x' + hexId(n.toString())) === n),
    { numRuns: 200 },
  );
});
