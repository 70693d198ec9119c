// The quorum guard of random chaos, for any menu, seed and cluster size: at no instant do the random
// picks exceed maxConcurrent, nor do the picks and the explicit steps together take more than a
// minority of the members down or cut off. And how much each kind of action counts.
import t from 'tap';
import fc from 'fast-check';
import {
  affectedMembers,
  expandScenario,
  parseScenarioObject,
  RESTART_HOLD_MS,
  trackHolds,
  type ScenarioAction,
  type ScenarioPlan,
} from '../src/scenario/index.js';
import type { ScenarioInput } from '../src/scenario/parse.js';

const RUNS = { numRuns: 200 };

const memberTarget = fc.constantFrom('s1', 's2', 's3', 'leader', 'follower', 'random-follower');
const range = (lo: number, hi: number) =>
  fc
    .tuple(fc.integer({ min: lo, max: hi }), fc.integer({ min: lo, max: hi }))
    .map(([a, b]) => [Math.min(a, b), Math.max(a, b)]);
const target = fc.oneof(
  fc.record({
    role: fc.constantFrom('leader', 'follower', 'random-follower'),
    kind: fc.constantFrom('peer', 'client'),
  }),
  fc.record({ members: fc.uniqueArray(fc.constantFrom('s1', 's2', 's3', 's4'), { minLength: 1, maxLength: 3 }) }),
  fc.record({ kind: fc.constantFrom('peer', 'client') }),
  fc.record({
    links: fc.uniqueArray(fc.constantFrom('s1-peer', 's2-peer', 's1-client'), { minLength: 1, maxLength: 3 }),
  }),
);
const fault = fc.oneof(
  fc.constantFrom({ type: 'blackhole', direction: 'rx' }, { type: 'pause', direction: 'tx' }, { type: 'reset' }),
  range(1, 500).map((latency) => ({ type: 'delay', direction: 'tx', latency })),
);
const partition = fc.oneof(
  memberTarget.filter((m) => m !== 'follower' && m !== 'random-follower').map((isolate) => ({ isolate })),
  fc.constant({ groups: [['s1'], ['s2', 's3']] }),
  fc.constant({ preset: 'halves' }),
  fc.constant({ from: ['s1', 's2'], to: ['s3'] }),
);
const menuItem = fc.oneof(
  fc.record({
    weight: fc.integer({ min: 1, max: 5 }),
    member: fc.record({ action: fc.constantFrom('kill', 'stop', 'freeze'), target: memberTarget }),
    duration: range(1000, 60_000),
  }),
  fc.record({
    weight: fc.integer({ min: 1, max: 5 }),
    member: fc.record({ action: fc.constant('restart'), target: memberTarget }),
  }),
  fc.record({ weight: fc.integer({ min: 1, max: 5 }), fault, target, duration: range(1000, 60_000) }),
  fc.record({ weight: fc.integer({ min: 1, max: 5 }), partition, duration: range(1000, 60_000) }),
);
const step = fc.record({
  at: fc.integer({ min: 0, max: 500_000 }),
  member: fc.record({ action: fc.constantFrom('kill', 'freeze'), target: memberTarget }),
  duration: fc.integer({ min: 1000, max: 120_000 }),
});
const scenario = fc.record({
  members: fc.integer({ min: 1, max: 7 }),
  seed: fc.nat({ max: 0xffffffff }),
  maxConcurrent: fc.integer({ min: 1, max: 4 }),
  meanGap: fc.integer({ min: 500, max: 60_000 }),
  menu: fc.array(menuItem, { minLength: 1, maxLength: 6 }),
  steps: fc.array(step, { maxLength: 3 }),
});

type Drawn = typeof scenario extends fc.Arbitrary<infer V> ? V : never;

function expand(s: Drawn, guard = true): ScenarioPlan {
  const input: ScenarioInput = {
    name: 'prop',
    duration: 600_000,
    steps: s.steps,
    random: { seed: s.seed, meanGap: s.meanGap, maxConcurrent: s.maxConcurrent, quorumGuard: guard, menu: s.menu },
  } as ScenarioInput;
  return expandScenario(parseScenarioObject(input, 'prop.json'), { members: s.members });
}

interface Span {
  start: number;
  end: number;
  affected: number;
}

/** the random picks' spans, recomputed from the plan */
function pickSpans(plan: ScenarioPlan): Span[] {
  return plan.tracks
    .filter((tr) => tr.id.startsWith('r'))
    .map((tr) => {
      const it = tr.items[0];
      if (it.kind !== 'action' || tr.items.length !== 1) throw new Error(`a random track holds one action: ${tr.id}`);
      return {
        start: tr.at,
        end: tr.at + (it.duration ?? RESTART_HOLD_MS),
        affected: affectedMembers(it.action, plan.members),
      };
    });
}

/** the largest sum over any instant */
function worst(spans: Span[], weight: (s: Span) => number): number {
  let best = 0;
  for (const p of spans) {
    const sum = spans.filter((s) => s.start <= p.start && s.end > p.start).reduce((n, s) => n + weight(s), 0);
    best = Math.max(best, sum);
  }
  return best;
}

t.test('random picks never exceed maxConcurrent nor, guarded, a minority of members', async (t) => {
  fc.assert(
    fc.property(scenario, (s) => {
      const plan = expand(s);
      const picks = pickSpans(plan);
      const steps = plan.tracks
        .filter((tr) => tr.id.startsWith('s'))
        .flatMap((tr) => trackHolds(tr, plan.members, 600_000));
      const limit = Math.floor((s.members - 1) / 2);
      if (worst(picks, () => 1) > s.maxConcurrent) return false;
      const cutting = [...picks, ...steps].filter((x) => x.affected > 0);
      // explicit steps alone may exceed (they only warn): count the picks' share where they start
      for (const p of picks.filter((x) => x.affected > 0)) {
        const sum = cutting.filter((x) => x.start <= p.start && x.end > p.start).reduce((n, x) => n + x.affected, 0);
        if (sum > limit) return false;
      }
      for (const x of steps.filter((h) => h.affected > 0)) {
        const withPicks = picks.filter((p) => p.affected > 0 && p.start <= x.start && p.end > x.start);
        const sum = cutting.filter((y) => y.start <= x.start && y.end > x.start).reduce((n, y) => n + y.affected, 0);
        if (withPicks.length && sum > limit) return false;
      }
      return picks.every((p) => p.start >= 0 && p.end <= 600_000 + RESTART_HOLD_MS);
    }),
    RUNS,
  );
  t.pass(`${RUNS.numRuns} scenarios`);
});

t.test('without the guard only maxConcurrent holds back picks', async (t) => {
  let exceeded = 0;
  fc.assert(
    fc.property(scenario, (s) => {
      const free = expand(s, false);
      const picks = pickSpans(free);
      if (worst(picks, () => 1) > s.maxConcurrent) return false;
      if (worst(picks, (x) => x.affected) > Math.floor((s.members - 1) / 2)) exceeded++;
      // nothing that takes a member out: the guard changes nothing
      if (picks.every((x) => x.affected === 0) && !s.steps.length) return expand(s, true).hash === free.hash;
      return true;
    }),
    RUNS,
  );
  t.ok(exceeded > 0, `unguarded, ${exceeded} plans exceed a minority (which the guard prevents)`);
});

t.test('how many members an action takes down or cuts off', async (t) => {
  const member = (action: string, target: string) => ({ type: 'member', action, target }) as ScenarioAction;
  const f = (fault: object, target: object) => ({ type: 'fault', fault, target }) as unknown as ScenarioAction;
  const cases: [ScenarioAction, number][] = [
    [member('kill', 's1'), 1],
    [member('freeze', 'random-follower'), 1],
    [member('restart', 'leader'), 1],
    [member('stop', 'follower'), 1],
    [member('start', 's1'), 0],
    [member('continue', 's1'), 0],
    [{ type: 'load', rate: 1 }, 0],
    [f({ type: 'blackhole', direction: 'rx' }, { role: 'leader', kind: 'peer' }), 1],
    [f({ type: 'blackhole', direction: 'rx' }, { role: 'leader', kind: 'client' }), 0],
    [f({ type: 'pause', direction: 'tx' }, { members: ['s1', 's2'] }), 2],
    [f({ type: 'reset' }, { kind: 'peer' }), 5],
    [f({ type: 'reset' }, { role: 'follower', kind: 'peer' }), 4],
    [f({ type: 'blackhole', direction: 'tx' }, { links: ['s1-peer', 's1-client', 's2-peer'] }), 2],
    [f({ type: 'delay', direction: 'tx', latency: 5000 }, { kind: 'peer' }), 0],
  ];
  for (const [a, n] of cases) t.equal(affectedMembers(a, 5), n, JSON.stringify(a));
  const part = (spec: object) => ({ type: 'partition', spec }) as unknown as ScenarioAction;
  t.equal(affectedMembers(part({ isolate: 'leader' }), 5), 1);
  t.equal(
    affectedMembers(
      part({
        groups: [
          ['s1', 's2'],
          ['s3', 's4', 's5'],
        ],
      }),
      5,
    ),
    2,
  );
  t.equal(affectedMembers(part({ groups: [['s1'], ['s2']] }), 5), 1, 'the ungrouped members reach everyone');
  t.equal(affectedMembers(part({ from: ['s1'], to: ['s2', 's3'] }), 5), 1);
  t.equal(affectedMembers(part({ preset: 'halves' }), 5), 2);
});
