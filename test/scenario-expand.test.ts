// Expanding scenarios into plans, purely: offsets, sequences with sleeps and waits, overlaps, repeats
// bounded by `repeat` and by the duration, ranges drawn within bounds, determinism of the random part
// and of the hash, the quorum guard's warnings, and the dry-run text.
import t from 'tap';
import {
  concreteTarget,
  expandScenario,
  formatPlan,
  parseScenario,
  planKinds,
  type ExpandOptions,
  type ScenarioPlan,
  type TrackItem,
} from '../src/scenario/index.js';

const plan = (text: string, opts: ExpandOptions = {}): ScenarioPlan =>
  expandScenario(parseScenario(text, 't.yaml'), opts);
const actions = (p: ScenarioPlan) =>
  p.tracks.flatMap((tr) => tr.items.filter((i): i is Extract<TrackItem, { kind: 'action' }> => i.kind === 'action'));

t.test('steps become tracks at their offsets, in time order, overlapping as written', async (t) => {
  const p = plan(`
name: offsets
steps:
  - at: 40s
    member: { action: kill, target: s2 }
    duration: 10s
  - fault: { type: delay, direction: tx, latency: 200ms, jitter: 20ms }
    target: { role: leader, kind: client }
    duration: 1m
    name: slow leader
  - at: 45s
    load: { rate: 50 }
`);
  t.same(
    p.tracks.map((tr) => [tr.id, tr.at]),
    [
      ['s2', 0],
      ['s1', 40_000],
      ['s3', 45_000],
    ],
    'sorted by offset; `at` defaults to 0; ids name the step (1-based)',
  );
  t.same(p.tracks[0].items, [
    {
      kind: 'action',
      step: 's2',
      label: 'slow leader',
      duration: 60_000,
      action: {
        type: 'fault',
        target: { role: 'leader', kind: 'client' },
        fault: { type: 'delay', direction: 'tx', latency: 200, jitter: 20, distribution: 'uniform' },
      },
    },
  ]);
  t.same(p.tracks[1].items[0], {
    kind: 'action',
    step: 's1',
    label: 'kill on s2',
    duration: 10_000,
    action: { type: 'member', action: 'kill', target: 's2' },
  });
  t.same(p.tracks[2].items[0], { kind: 'action', step: 's3', label: 'load 50/s', action: { type: 'load', rate: 50 } });
  t.equal(p.seed, 0, 'no random part: seed 0, so the hash is the same every time');
  t.equal(p.members, 3, 'members default to 3');
  t.same(p.warnings, []);
});

t.test('a sequence is one track: actions, sleeps and waits in order', async (t) => {
  const p = plan(`
name: seq
steps:
  - at: 1m
    name: roll
    sequence:
      - member: { action: restart, target: s1 }
      - wait: { for: healthy, timeout: 30s }
      - sleep: 5s
      - partition: { groups: [[s1], [s2, s3]] }
        duration: 2s
      - wait: { for: leader, onTimeout: continue }
      - member: { action: restart, target: s2 }
`);
  t.equal(p.tracks.length, 1);
  const tr = p.tracks[0];
  t.match(tr, { id: 's1', at: 60_000, label: 'roll' });
  t.same(
    tr.items.map((i) => (i.kind === 'action' ? `${i.step}:${i.action.type}` : i.kind)),
    ['s1.1:member', 'wait', 'sleep', 's1.4:partition', 'wait', 's1.6:member'],
  );
  t.same(tr.items[1], { kind: 'wait', condition: 'healthy', timeout: 30_000, onTimeout: 'fail' });
  t.same(tr.items[2], { kind: 'sleep', ms: 5000 });
  t.same(
    tr.items[4],
    { kind: 'wait', condition: 'leader', timeout: 60_000, onTimeout: 'continue' },
    'timeout default 60s',
  );
  t.match(tr.items[3], {
    duration: 2000,
    action: { spec: { groups: [['s1'], ['s2', 's3']], cut: { type: 'total' } } },
  });
  t.notOk('duration' in (tr.items[3] as { action: { spec: object } }).action.spec, 'the partition carries no duration');
  t.same(p.warnings, [], 'a restart then a wait then a restart is not two members down');
});

t.test('every/repeat: copies bounded by repeat, by the duration, or by both', async (t) => {
  const step = (extra: string) => `
name: rep
${extra}
steps:
  - at: 10s
    every: 20s
    REPEAT
    fault: { type: blackhole, direction: rx }
    target: { role: random-follower, kind: peer }
    duration: 3s
`;
  const at = (p: ScenarioPlan) => p.tracks.map((tr) => tr.at);
  t.same(at(plan(step('').replace('REPEAT', 'repeat: 3'))), [10_000, 30_000, 50_000], 'repeat: 3');
  t.same(at(plan(step('duration: 70s').replace('REPEAT', ''))), [10_000, 30_000, 50_000], 'until the duration');
  t.same(at(plan(step('duration: 50s').replace('REPEAT', ''))), [10_000, 30_000], 'a copy at the duration is not run');
  t.same(at(plan(step('duration: 1h').replace('REPEAT', 'repeat: 2'))), [10_000, 30_000], 'the smaller bound');
  const p = plan(step('').replace('REPEAT', 'repeat: 2'));
  t.same(
    p.tracks.map((tr) => [tr.id, tr.items[0].kind === 'action' && tr.items[0].step]),
    [
      ['s1#1', 's1#1'],
      ['s1#2', 's1#2'],
    ],
  );
});

const RANDOM = (seed: string, extra = '') => `
name: chaos
duration: 1h
random:
  ${seed}
  start: 1m
  meanGap: 20s
  maxConcurrent: 3
  ${extra}
  menu:
    - weight: 3
      fault: { type: delay, direction: rx, latency: [50ms, 300ms], jitter: [0, 50], distribution: normal }
      target: { role: random-follower, kind: client }
      duration: [5s, 20s]
    - fault: { type: drop, direction: tx, probability: [0.01, 0.2] }
      target: { links: [s1-client] }
      duration: 10s
    - fault: { type: bandwidth, direction: rx, rate: [1000, 2000] }
      target: { kind: client }
      duration: [1s, 2s]
    - member: { action: freeze, target: random-follower }
      duration: [3s, 8s]
`;

t.test('ranges are drawn within their bounds; integers stay integers, durations whole milliseconds', async (t) => {
  const p = plan(RANDOM('seed: 7'));
  const picks = actions(p);
  t.ok(picks.length > 50, `${picks.length} picks`);
  const seen = new Set<string>();
  const outside: string[] = [];
  for (const a of picks) {
    const d = a.duration!;
    const f =
      a.action.type === 'fault' ? (a.action.fault as unknown as Record<string, number> & { type: string }) : undefined;
    const kind = f?.type ?? 'freeze';
    seen.add(kind);
    const inside =
      kind === 'delay'
        ? d >= 5000 && d <= 20_000 && f!.latency >= 50 && f!.latency <= 300 && f!.jitter >= 0 && f!.jitter <= 50
        : kind === 'drop'
          ? d === 10_000 && f!.probability >= 0.01 && f!.probability <= 0.2
          : kind === 'bandwidth'
            ? f!.rate >= 1000 && f!.rate <= 2000 && d >= 1000 && d <= 2000
            : d >= 3000 && d <= 8000;
    const whole =
      Number.isInteger(d) &&
      (kind !== 'delay' || Number.isInteger(f!.latency)) &&
      (kind !== 'bandwidth' || Number.isInteger(f!.rate));
    if (!inside || !whole) outside.push(`${a.step} ${JSON.stringify(a)}`);
  }
  t.same(outside, [], 'every drawn value within its range, whole where the range is');
  t.same([...seen].sort(), ['bandwidth', 'delay', 'drop', 'freeze'], 'every menu item is picked');
  t.ok(
    p.tracks.every((tr) => tr.at >= 60_000 && tr.at < 3_600_000),
    'picks between start and end',
  );
  t.same(
    p.tracks.map((tr) => tr.at),
    [...p.tracks.map((tr) => tr.at)].sort((a, b) => a - b),
    'in time order',
  );
});

t.test('the same file and seed give the same plan and hash; another seed another plan', async (t) => {
  const a = plan(RANDOM('seed: 42'));
  const b = plan(RANDOM('seed: 42'));
  t.same(b, a);
  t.equal(b.hash, a.hash);
  t.match(a.hash, /^[0-9a-f]{16}$/);
  const c = plan(RANDOM('seed: 43'));
  t.not(c.hash, a.hash);
  t.notSame(
    c.tracks.map((tr) => tr.at),
    a.tracks.map((tr) => tr.at),
  );
  t.equal(plan(RANDOM('seed: 42'), { seed: 43 }).hash, c.hash, 'the seed option overrides the file');
  const fresh = plan(RANDOM(''));
  t.equal(plan(RANDOM(''), { seed: fresh.seed }).hash, fresh.hash, 'a fresh seed is shown and replays');
  t.not(plan(RANDOM('seed: 42'), { members: 5 }).hash, a.hash, 'the cluster size is part of the hash');
  const reordered = RANDOM('seed: 42').replace(
    '{ type: delay, direction: rx, latency: [50ms, 300ms], jitter: [0, 50], distribution: normal }',
    '{ jitter: [0, 50], distribution: normal, latency: [50ms, 300ms], direction: rx, type: delay }',
  );
  t.equal(plan(reordered).hash, a.hash, 'key order in the file does not change the draws or the hash');
});

t.test('the quorum guard on explicit steps is a list of warnings, unless turned off', async (t) => {
  const text = (guard: string) => `
name: overlap
members: 3
${guard}
steps:
  - at: 10s
    member: { action: kill, target: s1 }
    duration: 20s
  - at: 20s
    fault: { type: blackhole, direction: rx }
    target: { members: [s2], kind: peer }
    duration: 5s
  - at: 20s
    fault: { type: delay, direction: rx, latency: 1s }
    target: { kind: peer }
    duration: 30s
  - at: 40s
    partition: { isolate: leader }
    duration: 5s
`;
  const p = plan(text(''));
  t.same(p.warnings, ['steps s1 and s2 take 2 of 3 members down at 20s']);
  t.same(plan(text(''), { members: 5 }).warnings, [], 'with 5 members two may go');
  t.same(plan(text('quorumGuard: false')).warnings, []);
  t.match(formatPlan(p), /warning: steps s1 and s2 take 2 of 3 members down at 20s/);
  const forever = plan(`
name: forever
steps:
  - member: { action: stop, target: s1 }
  - at: 1h
    member: { action: freeze, target: s2 }
    duration: 1s
`);
  t.same(forever.warnings, ['steps s1 and s2 take 2 of 3 members down at 1h0m0s'], 'a stop without duration lasts');
  const restored = plan(`
name: restored
steps:
  - sequence:
      - member: { action: stop, target: s1 }
      - sleep: 10s
      - member: { action: start, target: s1 }
  - at: 1h
    member: { action: freeze, target: s2 }
    duration: 1s
`);
  t.same(restored.warnings, [], 'a later start in the same track ends it');
  const late = plan(`
name: late
duration: 1m
steps:
  - at: 50s
    sequence:
      - sleep: 5s
      - member: { action: freeze, target: s2 }
        duration: 10s
`);
  t.same(late.warnings, ['track s1 runs until at least 1m5s, past the duration 1m0s']);
});

t.test('the dry-run text lists every item in time order, the hash and the counts', async (t) => {
  const p = plan(`
name: text
duration: 2m
steps:
  - at: 30s
    sequence:
      - member: { action: freeze, target: s2 }
        duration: 5s
      - wait: { for: healthy, timeout: 10s }
      - sleep: 2s
      - member: { action: kill, target: s3 }
        duration: 3s
  - at: 10s
    fault: { type: delay, direction: tx, latency: 200ms }
    target: { links: [s1-client] }
    duration: 5s
    name: slow s1
`);
  const text = formatPlan(p);
  const lines = text.trimEnd().split('\n');
  t.match(lines[0], /^scenario text: 3 members, 2m0s$/);
  t.match(lines[1], /^offset\s+track\s+step\s+action\s+target\s+duration$/);
  t.match(lines[2], /^10s\s+s2\s+s2\s+delay tx 200ms "slow s1"\s+s1-client\s+5s$/);
  t.match(lines[3], /^30s\s+s1\s+s1\.1\s+freeze\s+s2\s+5s$/);
  t.match(lines[4], /^35s\s+s1\s+wait healthy\s+<=10s \(fail on timeout\)$/);
  t.match(lines[5], /^>=35s\s+s1\s+sleep 2s$/);
  t.match(lines[6], /^>=37s\s+s1\s+s1\.4\s+kill\s+s3\s+3s$/);
  t.equal(lines[7], `plan hash ${p.hash} (seed 0)`);
  t.equal(lines[8], '2 tracks, 3 actions: delay 1, freeze 1, kill 1');
  t.same(planKinds(p), { delay: 1, freeze: 1, kill: 1 });
  t.equal(lines.length, 9);
});

t.test('a random-follower fault target becomes one follower by name when applied', async (t) => {
  const target = { role: 'random-follower' as const, kind: 'peer' as const };
  t.same(
    concreteTarget(target, ['s2', 's3'], () => 0),
    { kind: 'peer', members: ['s2'] },
  );
  t.same(
    concreteTarget(target, ['s2', 's3'], () => 0.99),
    { kind: 'peer', members: ['s3'] },
  );
  t.same(
    concreteTarget({ ...target, members: ['s1', 's3'] }, ['s2', 's3'], () => 0),
    { kind: 'peer', members: ['s3'] },
  );
  t.throws(() => concreteTarget({ ...target, members: ['s1'] }, ['s2', 's3'], () => 0), /no follower to pick/);
  t.throws(() => concreteTarget(target, [], () => 0), /no follower to pick/);
  const leader = { role: 'leader' as const, kind: 'client' as const };
  t.equal(
    concreteTarget(leader, ['s2'], () => 0),
    leader,
    'other targets pass as they are',
  );
});
