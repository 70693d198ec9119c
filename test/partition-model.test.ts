// The partition request and its expansion, by example: the bodies users write as they are written (the
// README shows them), and each error, with the field it names.
import t from 'tap';
import { describeCuts, planPartition, reachable } from '../src/cluster/partition.js';
import { parsePartitionSpec, partitionSpecSchema, type PartitionSpec } from '../src/schema/partition.js';
import { describeError, Invalid, NotFound, Unprocessable } from '../src/util/errors.js';

const three = { members: ['s1', 's2', 's3'], leader: 's2', seed: 1 };
const pairs = (cuts: { from: string; to: string }[]) => cuts.map((c) => `${c.from}>${c.to}`);

t.test('the bodies of the README, as written', async (t) => {
  const leader = parsePartitionSpec({ isolate: 'leader', duration: '20s' });
  t.same(leader, { isolate: 'leader', duration: 20000, cut: { type: 'total' }, established: 'blackhole' });
  const p1 = planPartition(leader, three);
  t.same(pairs(p1.cuts), ['s1>s2', 's2>s1', 's2>s3', 's3>s2'], 'the leader, resolved when planned, cut both ways');
  t.same(p1.groups, [['s2'], ['s1', 's3']]);
  t.equal(p1.summary, 'isolate leader s2: s2 ⟷ {s1,s3}');
  t.same(pairs(planPartition(leader, { ...three, leader: 's3' }).cuts), ['s1>s3', 's2>s3', 's3>s1', 's3>s2']);

  const byName = planPartition(parsePartitionSpec({ isolate: 's2' }), { members: ['s1', 's2', 's3'] });
  t.same(pairs(byName.cuts), ['s1>s2', 's2>s1', 's2>s3', 's3>s2'], 'by name, no leader needed');
  t.equal(byName.summary, 'isolate s2: s2 ⟷ {s1,s3}');

  const groups = planPartition(parsePartitionSpec({ groups: [['s1'], ['s2', 's3']] }), three);
  t.same(pairs(groups.cuts), ['s1>s2', 's1>s3', 's2>s1', 's3>s1']);
  t.same(groups.groups, [['s1'], ['s2', 's3']]);
  t.equal(groups.summary, 'groups: s1 ⟷ {s2,s3}');

  const oneWay = parsePartitionSpec({ from: 's1', to: 's2' });
  t.same(oneWay.from, ['s1']);
  t.same(oneWay.to, ['s2']);
  const p4 = planPartition(oneWay, three);
  t.same(pairs(p4.cuts), ['s1>s2'], "s1's traffic to s2 only");
  t.equal(p4.groups, undefined);
  t.equal(p4.summary, 'one-way: s1 ↛ s2');
  t.same(reachable(p4.cuts, three.members, 's2'), ['s1', 's2', 's3'], 's2 still reaches s1');
  t.same(reachable(p4.cuts, three.members, 's1'), ['s1', 's3']);
  const lists = planPartition(parsePartitionSpec({ from: ['s1', 's2'], to: ['s3'] }), three);
  t.same(pairs(lists.cuts), ['s1>s3', 's2>s3']);
});

t.test('presets', async (t) => {
  const five = { members: ['s1', 's2', 's3', 's4', 's5'], leader: 's4', seed: 42 };
  const halves = planPartition(parsePartitionSpec({ preset: 'halves' }), five);
  t.equal(halves.groups?.[0].length, 3, 'majority first');
  t.equal(halves.groups?.[1].length, 2);
  t.equal(halves.seed, 42);
  t.equal(halves.cuts.length, 12);
  for (const side of ['minority', 'majority'] as const) {
    const p = planPartition(parsePartitionSpec({ preset: 'halves', leader: side }), five);
    t.ok(p.groups?.[side === 'majority' ? 0 : 1].includes('s4'), `the leader in the ${side}`);
    t.match(p.summary, `leader s4 in the ${side}`);
  }
  const seeded = parsePartitionSpec({ preset: 'halves', seed: 9 });
  t.same(planPartition(seeded, five), planPartition(seeded, { ...five, seed: 1 }), "the spec's seed wins");
  t.equal(planPartition(seeded, five).seed, 9);

  const ring = planPartition(parsePartitionSpec({ preset: 'ring' }), five);
  t.equal(ring.cuts.length, 10, 'five members: each hears 3 of 5, so 2 cuts into each');
  t.match(ring.summary, /^ring s\d→s\d→s\d→s\d→s\d: /);

  const bridge = planPartition(parsePartitionSpec({ preset: 'bridge' }), five);
  t.ok(bridge.bridge);
  t.same(reachable(bridge.cuts, five.members, bridge.bridge!), five.members, 'the bridge reaches everyone');
  t.equal(bridge.groups?.flat().length, 4);
  t.equal(bridge.cuts.length, 8);
  t.match(bridge.summary, `bridge ${bridge.bridge} between `);
});

t.test('cut and established', async (t) => {
  t.same(parsePartitionSpec({ isolate: 's1', cut: { drop: 0.3 } }).cut, { type: 'drop', probability: 0.3 });
  t.same(parsePartitionSpec({ isolate: 's1', cut: { delay: '200ms', jitter: '50ms' } }).cut, {
    type: 'delay',
    latency: 200,
    jitter: 50,
  });
  t.same(parsePartitionSpec({ isolate: 's1', cut: { delay: 200 } }).cut, { type: 'delay', latency: 200, jitter: 0 });
  t.same(parsePartitionSpec({ isolate: 's1', cut: 'total', established: 'reset' }).cut, { type: 'total' });
  t.equal(parsePartitionSpec({ isolate: 's1', established: 'reset' }).established, 'reset');
});

t.test('request errors name the field and what was expected', async (t) => {
  const cases: [unknown, string | RegExp][] = [
    [{}, 'expected exactly one of isolate, groups, from+to, preset'],
    [
      { isolate: 's1', preset: 'ring' },
      'expected exactly one of isolate, groups, from+to, preset (got isolate, preset)',
    ],
    [{ from: 's1' }, 'to: expected the members `from` cannot reach'],
    [
      { isolate: 's1', from: 's2', to: 's3' },
      'expected exactly one of isolate, groups, from+to, preset (got isolate, from+to)',
    ],
    [{ to: 's1' }, /^from: expected the members whose traffic to `to` is cut$/],
    [{ from: ['s1', 2], to: 's2' }, 'from: expected a member name or a list of member names (item 1: expected'],
    [{ from: [], to: 's2' }, 'from: expected at least one member name'],
    [{ isolate: '' }, 'isolate: expected a member name'],
    [{ isolate: 3 }, 'isolate: expected a member name (a string)'],
    [{ groups: [['s1']] }, 'groups: expected at least 2 groups'],
    [{ groups: [['s1'], []] }, 'groups[1]: expected a non-empty group of member names'],
    [{ groups: [['s1'], [7]] }, 'groups[1][0]: expected a member name (a string)'],
    [{ groups: 's1' }, 'groups: expected a list of groups'],
    [{ preset: 'thirds' }, 'preset: expected "halves", "ring" or "bridge"'],
    [{ preset: 'ring', leader: 'minority' }, 'leader: expected only with preset "halves"'],
    [{ preset: 'halves', leader: 'middle' }, 'leader: expected "minority" or "majority"'],
    [{ isolate: 's1', seed: 3 }, 'seed: expected only with a preset'],
    [{ preset: 'ring', seed: 1.5 }, 'seed: expected an integer seed'],
    [{ isolate: 's1', duration: '0s' }, 'duration: expected a duration of at least 1ms'],
    [{ isolate: 's1', duration: 'soon' }, 'duration: time: invalid duration "soon"'],
    [{ isolate: 's1', cut: 'half' }, 'cut: expected "total", {"drop": probability} or {"delay": "200ms"'],
    [{ isolate: 's1', cut: { drop: 1.5 } }, 'cut.drop: expected a probability of at most 1'],
    [{ isolate: 's1', cut: { drop: 0 } }, 'cut.drop: expected a probability above 0'],
    [{ isolate: 's1', cut: { delay: '-1s' } }, 'cut.delay: '],
    [{ isolate: 's1', cut: { drop: 0.1 }, established: 'reset' }, 'established: expected only with a total cut'],
    [{ isolate: 's1', established: 'close' }, 'established: expected "blackhole" or "reset"'],
    [{ isolate: 's1', color: 'red' }, "Unrecognized key(s) in object: 'color'"],
  ];
  for (const [body, message] of cases) {
    const r = partitionSpecSchema.safeParse(body);
    t.notOk(r.success, JSON.stringify(body));
    if (!r.success) t.match(describeError(r.error), message, JSON.stringify(body));
  }
});

t.test('plan errors: NotFound names the field, Unprocessable without a leader, Invalid otherwise', async (t) => {
  const plan = (body: unknown, ctx: Parameters<typeof planPartition>[1] = three) =>
    planPartition(parsePartitionSpec(body), ctx);
  t.throws(() => plan({ isolate: 's9' }), new NotFound('isolate: no member s9 (members: s1, s2, s3)'));
  t.throws(() => plan({ groups: [['s1'], ['s9']] }), { name: 'NotFound', message: /^groups\[1\]\[0\]: no member s9/ });
  t.throws(() => plan({ from: 's9', to: 's1' }), { name: 'NotFound', message: /^from: no member s9/ });
  t.throws(() => plan({ from: ['s1', 's9'], to: 's2' }), { name: 'NotFound', message: /^from\[1\]: no member s9/ });
  t.throws(() => plan({ from: 's1', to: ['s9'] }), { name: 'NotFound', message: /^to: no member s9/ });

  const noLeader = { members: ['s1', 's2', 's3'] };
  t.throws(() => plan({ isolate: 'leader' }, noLeader), new Unprocessable('isolate: no member is known to lead now'));
  t.throws(() => plan({ groups: [['leader'], ['s1']] }, noLeader), {
    name: 'Unprocessable',
    message: /^groups\[0\]\[0\]/,
  });
  t.throws(() => plan({ preset: 'halves', leader: 'majority' }, noLeader), Unprocessable);
  t.ok(plan({ preset: 'halves' }, noLeader), 'random halves need no leader');
  t.throws(() => plan({ isolate: 'leader' }, { members: ['s1', 's2'], leader: 'x' }), NotFound);

  t.throws(() => plan({ groups: [['s1', 's2'], ['s2']] }), new Invalid('groups[1][0]: s2 is already in groups[0][1]'));
  t.throws(() => plan({ groups: [['leader'], ['s2']] }), {
    name: 'Invalid',
    message: /s2 is already in groups\[0\]\[0\]/,
  });
  t.throws(() => plan({ from: ['s1', 's2'], to: ['s2'] }), { name: 'Invalid', message: /both name s2/ });
  t.throws(() => plan({ from: 'leader', to: 's2' }), Invalid, 'the leader is s2');
  t.throws(() => plan({ isolate: 's1' }, { members: ['s1'] }), Invalid, 'fewer than 2 members');
  t.throws(() => plan({ isolate: 's1' }, { members: ['s1', 's1'] }), Invalid, 'the same member twice is one');
  for (const preset of ['halves', 'ring', 'bridge'])
    t.throws(
      () => plan({ preset }, { members: ['s1', 's2'] }),
      new Invalid(`preset ${preset} needs at least 3 members (there are 2)`),
    );

  // what the schema already refuses, refused again when a spec is built in code
  const built = (s: Partial<PartitionSpec>) =>
    ({ cut: { type: 'total' }, established: 'blackhole', ...s }) as PartitionSpec;
  t.throws(
    () => planPartition(built({ groups: [['s1'], []] }), three),
    new Invalid('groups[1]: expected a non-empty group'),
  );
  t.throws(() => planPartition(built({ groups: [['s1']] }), three), Invalid);
  t.throws(() => planPartition(built({ from: [], to: ['s1'] }), three), Invalid);
  t.throws(() => planPartition(built({}), three), Invalid);
});

t.test('describeCuts gathers members with the same counterparts', async (t) => {
  const c = (s: string) => s.split(' ').map((p) => ({ from: p[0], to: p[2] }));
  t.equal(describeCuts([]), 'no cuts');
  t.equal(describeCuts(c('a>b')), 'a ↛ b');
  t.equal(describeCuts(c('a>b b>a')), 'a ⟷ b');
  t.equal(describeCuts(c('a>c a>d b>c b>d c>a c>b d>a d>b')), '{a,b} ⟷ {c,d}');
  t.equal(describeCuts(c('a>b a>c b>a c>a b>c')), 'a ⟷ {b,c}; b ↛ c');
  t.equal(describeCuts(c('a>b a>c')), 'a ↛ {b,c}');
});
