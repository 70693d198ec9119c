// Properties of the partition expansion for arbitrary member sets and requests: the graph each shape
// promises (groups, isolate, one-way, halves, ring, bridge), determinism from a seed, and a summary that
// says exactly the cuts.
import t from 'tap';
import fc from 'fast-check';
import { describeCuts, planPartition, reachable, type Cut } from '../src/cluster/partition.js';
import { parsePartitionSpec, type PartitionSpecInput } from '../src/schema/partition.js';

const RUNS = { numRuns: 300 };

/** 2..9 distinct member names (never the role keyword) */
const memberSet = (min = 2, max = 9) =>
  fc
    .uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: min, maxLength: max })
    .filter((ms) => !ms.includes('leader'));

const key = (c: Cut) => `${c.from}>${c.to}`;
const keys = (cuts: Cut[]) => new Set(cuts.map(key));
const majority = (n: number) => Math.floor(n / 2) + 1;
/** who member `m` hears from (itself included): nobody's traffic to m is cut */
const hears = (cuts: Cut[], members: string[], m: string) =>
  members.filter((x) => !cuts.some((c) => c.from === x && c.to === m));

/** members split into ≥ 2 non-empty groups and some left out, from a per-member label */
const groupsOf = (members: string[]) =>
  fc.array(fc.integer({ min: -1, max: 3 }), { minLength: members.length, maxLength: members.length }).map((labels) => {
    const groups = [0, 1, 2, 3].map((g) => members.filter((_, i) => labels[i] === g)).filter((g) => g.length);
    return groups;
  });

/** Every cut shape, over a member set, with the leader somewhere in it. */
const scenario = memberSet().chain((members) =>
  fc.record({
    members: fc.constant(members),
    leader: fc.constantFrom(...members),
    seed: fc.nat(),
    body: fc.oneof(
      fc.constantFrom(...members, 'leader').map((m): PartitionSpecInput => ({ isolate: m })),
      groupsOf(members)
        .filter((g) => g.length >= 2)
        .map((groups): PartitionSpecInput => ({ groups })),
      fc
        .shuffledSubarray(members, { minLength: 2 })
        .chain((sub) =>
          fc.integer({ min: 1, max: sub.length - 1 }).map((k) => ({ from: sub.slice(0, k), to: sub.slice(k) })),
        ),
      ...(members.length >= 3
        ? [
            fc.constantFrom<PartitionSpecInput>(
              { preset: 'halves' },
              { preset: 'halves', leader: 'minority' },
              { preset: 'halves', leader: 'majority' },
              { preset: 'ring' },
              { preset: 'bridge' },
            ),
          ]
        : []),
    ),
  }),
);

t.test('any plan: members only, never (m, m), sorted and unique', async () => {
  fc.assert(
    fc.property(scenario, ({ members, leader, seed, body }) => {
      const { cuts } = planPartition(parsePartitionSpec(body), { members, leader, seed });
      if (!cuts.length) return false;
      for (const c of cuts) if (c.from === c.to || !members.includes(c.from) || !members.includes(c.to)) return false;
      // sorted by (from, to): a separator below every name character keeps the order of the pairs
      const ks = cuts.map((c) => `${c.from}\u0000${c.to}`);
      return new Set(ks).size === ks.length && ks.join('\n') === [...ks].sort().join('\n');
    }),
    RUNS,
  );
});

t.test('the summary says exactly the cuts (read back)', async () => {
  const side = (s: string) => (s.startsWith('{') ? s.slice(1, -1).split(',') : [s]);
  fc.assert(
    fc.property(scenario, ({ members, leader, seed, body }) => {
      const { cuts } = planPartition(parsePartitionSpec(body), { members, leader, seed });
      const back = new Set<string>();
      for (const part of describeCuts(cuts).split('; ')) {
        const both = part.includes(' ⟷ ');
        const [l, r] = part.split(both ? ' ⟷ ' : ' ↛ ');
        for (const a of side(l))
          for (const b of side(r)) {
            back.add(`${a}>${b}`);
            if (both) back.add(`${b}>${a}`);
          }
      }
      const want = keys(cuts);
      return back.size === want.size && [...back].every((k) => want.has(k));
    }),
    RUNS,
  );
});

t.test('groups: symmetric, exactly the cross-group pairs; unnamed members reach everyone', async () => {
  const arb = memberSet().chain((members) => fc.record({ members: fc.constant(members), groups: groupsOf(members) }));
  fc.assert(
    fc.property(
      arb.filter(({ groups }) => groups.length >= 2),
      ({ members, groups }) => {
        const plan = planPartition(parsePartitionSpec({ groups }), { members });
        const groupOf = new Map(groups.flatMap((g, i) => g.map((m) => [m, i] as const)));
        const want = new Set<string>();
        for (const a of members)
          for (const b of members) {
            const ga = groupOf.get(a);
            const gb = groupOf.get(b);
            if (ga !== undefined && gb !== undefined && ga !== gb) want.add(`${a}>${b}`);
          }
        const got = keys(plan.cuts);
        const symmetric = plan.cuts.every((c) => got.has(`${c.to}>${c.from}`));
        const unnamed = members.filter((m) => !groupOf.has(m));
        const free = unnamed.every((m) => reachable(plan.cuts, members, m).length === members.length);
        return symmetric && free && got.size === want.size && [...want].every((k) => got.has(k));
      },
    ),
    RUNS,
  );
});

t.test('isolate: exactly 2·(n−1) cuts, all touching the member', async () => {
  const arb = memberSet().chain((members) =>
    fc.record({ members: fc.constant(members), m: fc.constantFrom(...members), byRole: fc.boolean() }),
  );
  fc.assert(
    fc.property(arb, ({ members, m, byRole }) => {
      const spec = parsePartitionSpec({ isolate: byRole ? 'leader' : m });
      const { cuts } = planPartition(spec, { members, leader: m });
      return cuts.length === 2 * (members.length - 1) && cuts.every((c) => (c.from === m) !== (c.to === m));
    }),
    RUNS,
  );
});

t.test('one-way: exactly from × to, nothing back', async () => {
  fc.assert(
    fc.property(scenario, ({ members, leader, seed, body }) => {
      if (!('from' in body)) return true;
      const from = body.from as string[];
      const to = body.to as string[];
      const { cuts } = planPartition(parsePartitionSpec(body), { members, leader, seed });
      return cuts.length === from.length * to.length && cuts.every((c) => from.includes(c.from) && to.includes(c.to));
    }),
    RUNS,
  );
});

t.test('halves: a majority of ⌊n/2⌋+1 and the rest, cut both ways; the leader where asked', async () => {
  const arb = memberSet(3).chain((members) =>
    fc.record({
      members: fc.constant(members),
      leader: fc.constantFrom(...members),
      seed: fc.nat(),
      place: fc.constantFrom(undefined, 'minority' as const, 'majority' as const),
    }),
  );
  fc.assert(
    fc.property(arb, ({ members, leader, seed, place }) => {
      const plan = planPartition(parsePartitionSpec({ preset: 'halves', leader: place }), { members, leader, seed });
      const [maj, min] = plan.groups!;
      const n = members.length;
      const placed = place === undefined || (place === 'majority' ? maj : min).includes(leader);
      return (
        placed &&
        maj.length === majority(n) &&
        min.length === n - majority(n) &&
        plan.cuts.length === 2 * maj.length * min.length &&
        maj.every((a) => min.every((b) => !reachable(plan.cuts, members, a).includes(b)))
      );
    }),
    RUNS,
  );
});

t.test('ring: every member hears and reaches a majority (itself included), no two the same', async (t) => {
  const check = (members: string[], seed: number) => {
    const { cuts } = planPartition(parsePartitionSpec({ preset: 'ring' }), { members, seed });
    const m = majority(members.length);
    const heard = members.map((x) => hears(cuts, members, x));
    const reached = members.map((x) => reachable(cuts, members, x));
    const ok = (views: string[][]) =>
      views.every((v, i) => v.length >= m && v.includes(members[i])) &&
      new Set(views.map((v) => v.join())).size === members.length;
    return ok(heard) && ok(reached);
  };
  for (const n of [3, 5, 7])
    t.ok(
      fc.check(
        fc.property(fc.nat(), (seed) =>
          check(
            Array.from({ length: n }, (_, i) => `s${i + 1}`),
            seed,
          ),
        ),
        RUNS,
      ).failed === false,
      `n = ${n}`,
    );
  fc.assert(fc.property(memberSet(3, 11), fc.nat(), check), RUNS);
});

t.test('bridge: the bridge reaches everyone, the halves do not reach each other', async () => {
  fc.assert(
    fc.property(memberSet(3), fc.nat(), (members, seed) => {
      const plan = planPartition(parsePartitionSpec({ preset: 'bridge' }), { members, seed });
      const b = plan.bridge!;
      const [a, c] = plan.groups!;
      const all = members.every((x) => reachable(plan.cuts, members, x).includes(b));
      return (
        reachable(plan.cuts, members, b).length === members.length &&
        all &&
        a.length + c.length === members.length - 1 &&
        Math.abs(a.length - c.length) <= 1 &&
        a.every((x) =>
          c.every(
            (y) => !reachable(plan.cuts, members, x).includes(y) && !reachable(plan.cuts, members, y).includes(x),
          ),
        ) &&
        plan.cuts.length === 2 * a.length * c.length
      );
    }),
    RUNS,
  );
});

t.test('the same seed gives the same plan, whatever order the members come in', async () => {
  fc.assert(
    fc.property(
      scenario.chain((s) =>
        fc.record({ s: fc.constant(s), order: fc.shuffledSubarray(s.members, { minLength: s.members.length }) }),
      ),
      ({ s, order }) => {
        const spec = parsePartitionSpec(s.body);
        const a = planPartition(spec, { members: s.members, leader: s.leader, seed: s.seed });
        const b = planPartition(spec, { members: order, leader: s.leader, seed: s.seed });
        return JSON.stringify(a.cuts) === JSON.stringify(b.cuts) && a.summary === b.summary;
      },
    ),
    RUNS,
  );
});

t.test('different seeds choose different members', async (t) => {
  const members = ['s1', 's2', 's3', 's4', 's5'];
  for (const preset of ['halves', 'ring', 'bridge'] as const) {
    const seen = new Set<string>();
    for (let seed = 0; seed < 50; seed++)
      seen.add(JSON.stringify(planPartition(parsePartitionSpec({ preset }), { members, seed }).cuts));
    t.ok(seen.size > 5, `${preset}: ${seen.size} distinct plans from 50 seeds`);
  }
});
