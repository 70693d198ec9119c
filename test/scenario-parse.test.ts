// Scenario files: YAML and JSON alike, errors that name the file, the path and what was expected, and
// the shipped examples in config/scenarios/ (each parses and expands).
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../src/config/schema.js';
import { expandScenario, formatPlan, parseScenario, planKinds, scenarioSchema } from '../src/scenario/index.js';

const EXAMPLES = new URL('../config/scenarios/', import.meta.url).pathname;

const SAMPLE = `
name: sample
duration: 90s
steps:
  - at: 10s
    fault: { type: blackhole, direction: rx }
    target: { role: leader, kind: peer }
    duration: 15s
    name: cut the leader
  - at: 30s
    member: { action: freeze, target: random-follower }
    duration: 5s
  - at: 40s
    partition: { isolate: leader }
    duration: 10s
  - at: 50s
    load: { rate: 400 }
  - at: 60s
    sequence:
      - member: { action: restart, target: s1 }
      - wait: { for: healthy, timeout: 30s }
      - sleep: 5s
random:
  seed: 42
  start: 10s
  meanGap: 30s
  menu:
    - weight: 3
      fault: { type: delay, direction: rx, latency: [50ms, 300ms], jitter: [0ms, 50ms] }
      target: { role: random-follower, kind: client }
      duration: [5s, 20s]
`;

t.test('YAML and JSON give the same scenario and the same plan', async (t) => {
  const fromYaml = parseScenario(SAMPLE, 'a.yaml');
  const json = JSON.stringify(YAML.parse(SAMPLE), null, 2);
  const fromJson = parseScenario(json, 'a.json');
  t.same(fromJson, fromYaml);
  t.equal(expandScenario(fromJson).hash, expandScenario(fromYaml).hash);
  t.equal(fromYaml.steps[0].at, 10_000, 'Go durations become milliseconds');
  t.equal(fromYaml.steps[0].duration, 15_000);
  t.equal(fromYaml.steps[4].sequence?.[1].wait?.onTimeout, 'fail', 'a wait fails the track by default');
  t.same(fromYaml.random?.menu[0].duration, { min: 5000, max: 20_000 }, 'a duration range');
});

/** the message a scenario text is rejected with */
function rejection(text: string, file = 'bad.yaml'): string {
  try {
    parseScenario(text, file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message;
  }
  throw new Error('accepted');
}

t.test('an invalid scenario is rejected naming the file, the path and the expectation', async (t) => {
  const step = (s: string) => `name: x\nsteps:\n  - load: { rate: 1 }\n  - load: { rate: 2 }\n${s}`;
  const cases: [string, RegExp][] = [
    [
      step('  - member: { action: restart, target: s1 }\n    duration: 5s\n'),
      /^bad\.yaml: steps\[2\]\.duration: expected no duration on restart/,
    ],
    [
      step('  - member: { action: freeze, target: s1 }\n    duration: soon\n'),
      /bad\.yaml: steps\[2\]\.duration: .*expected a Go duration/,
    ],
    [
      step('  - load: { rate: 1 }\n    member: { action: kill, target: s1 }\n'),
      /steps\[2\]: expected exactly one of fault, member, partition, load, sequence \(got member, load\)/,
    ],
    [
      step('  - fault: { type: delay, direction: tx, latency: 1ms }\n'),
      /steps\[2\]\.target: expected the target of the fault/,
    ],
    [
      step('  - fault: { type: delay, direction: tx, latency: 1ms, duration: 2s }\n    target: { kind: peer }\n'),
      /steps\[2\]\.fault\.duration: expected no fault duration here \(use the step's duration\)/,
    ],
    [
      step('  - fault: { type: warp }\n    target: { kind: peer }\n'),
      /steps\[2\]\.fault\.type: Invalid discriminator value/,
    ],
    [
      step('  - partition: { isolate: s1, duration: 5s }\n'),
      /steps\[2\]\.partition\.duration: expected no partition duration here/,
    ],
    [step('  - member: { action: explode, target: s1 }\n'), /steps\[2\]\.member\.action: Invalid enum value/],
    [
      step('  - load: { rate: 1 }\n    every: 10s\n'),
      /steps\[2\]\.every: expected `repeat` or the scenario's `duration` to bound the repeats/,
    ],
    [step('  - load: { rate: 1 }\n    repeat: 3\n'), /steps\[2\]\.every: expected `every` with `repeat`/],
    [step('  - load: { rate: 1 }\n    bogus: 1\n'), /steps\[2\]: Unrecognized key\(s\) in object: 'bogus'/],
    [
      step('  - sequence:\n      - sleep: 1s\n      - wait: { for: quorum }\n'),
      /steps\[2\]\.sequence\[1\]\.wait\.for: Invalid enum value/,
    ],
    [
      'name: x\nduration: 1m\nsteps:\n  - at: 2m\n    load: { rate: 1 }\n',
      /steps\[0\]\.at: expected an offset before the scenario's duration/,
    ],
    [
      'name: x\nrandom:\n  meanGap: 10s\n  menu:\n    - member: { action: kill, target: s1 }\n      duration: 1s\n',
      /random\.end: expected an end \(or the scenario's duration\)/,
    ],
    [
      'name: x\nduration: 1m\nrandom:\n  end: 2m\n  meanGap: 10s\n  menu:\n    - member: { action: kill, target: s1 }\n      duration: 1s\n',
      /random\.end: expected an end within the scenario's duration/,
    ],
    [
      'name: x\nduration: 1m\nrandom:\n  meanGap: 10s\n  menu:\n    - member: { action: kill, target: s1 }\n',
      /random\.menu\[0\]\.duration: expected a duration \(a random pick must end\)/,
    ],
    [
      'name: x\nduration: 1m\nrandom:\n  meanGap: 10s\n  menu:\n    - fault: { type: delay, direction: tx, latency: [300ms, 50ms] }\n      target: { kind: peer }\n      duration: 1s\n',
      /random\.menu\[0\]\.fault\.latency: expected a range \[min, max\] with min <= max/,
    ],
    [
      'name: x\nduration: 1m\nrandom:\n  meanGap: 10s\n  menu:\n    - fault: { type: drop, direction: tx, probability: [0.5, 2] }\n      target: { kind: peer }\n      duration: 1s\n',
      /random\.menu\[0\]\.fault\.probability: expected a number in \(0, 1\]/,
    ],
    [
      'name: x\nduration: 1m\nrandom:\n  meanGap: 10s\n  menu:\n    - member: { action: kill, target: s1 }\n      duration: [9s, 2s]\n',
      /random\.menu\[0\]\.duration: expected min <= max/,
    ],
    ['steps: []\n', /bad\.yaml: name: Required/],
    ['name: x\nsteps: [\n', /bad\.yaml: line \d+: /],
  ];
  for (const [text, re] of cases) t.match(rejection(text), re, re.source);
  t.match(
    rejection('{"name": "x", "steps": [{"load": {"rate": -1}}]}', 'bad.json'),
    /^bad\.json: steps\[0\]\.load\.rate: /,
    'JSON too',
  );
});

t.test('every shipped example parses, expands and prints its plan', async (t) => {
  const files = fs.readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f));
  t.ok(files.length >= 5, `${files.length} examples`);
  for (const f of files) {
    const s = parseScenario(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'), f);
    const plan = expandScenario(s, { members: 3 });
    t.ok(plan.tracks.length > 0, `${f}: ${plan.tracks.length} tracks`);
    t.same(plan.warnings, [], `${f}: no quorum warning`);
    t.match(formatPlan(plan), new RegExp(`plan hash ${plan.hash} \\(seed ${plan.seed}\\)`));
    if (s.duration !== undefined)
      t.ok(
        plan.tracks.every((tr) => tr.at < s.duration!),
        `${f}: every track within its duration`,
      );
  }
});

t.test('the shipped examples do what their names say', async (t) => {
  const load = (f: string) =>
    expandScenario(parseScenario(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'), f), { members: 3 });

  const iso = load('leader-isolation.yaml');
  t.equal(iso.tracks.length, 1);
  t.match(iso.tracks[0], {
    at: 10_000,
    items: [
      { kind: 'action', duration: 15_000, action: { type: 'partition', spec: { isolate: 'leader' } } },
      { kind: 'wait', condition: 'healthy' },
    ],
  });
  t.ok(iso.duration! <= 80_000 && iso.duration! >= 60_000, 'fits a 90 s lab run');

  const rolling = load('rolling-restart.yaml');
  const restarts = rolling.tracks[0].items.flatMap((i) =>
    i.kind === 'action' && i.action.type === 'member' ? [i.action.target] : [],
  );
  t.same(restarts, ['s1', 's2', 's3']);
  const kinds = rolling.tracks[0].items.map((i) => i.kind);
  t.same(kinds.slice(0, 2), ['action', 'wait'], 'a wait after each restart');

  const frozen = load('frozen-follower.yaml');
  t.ok(frozen.tracks.length >= 3);
  t.ok(
    frozen.tracks.every(
      (tr) =>
        tr.items[0].kind === 'action' &&
        tr.items[0].duration === 5000 &&
        tr.items[0].action.type === 'member' &&
        tr.items[0].action.action === 'freeze',
    ),
  );

  const flap = load('flapping-peer-link.yaml');
  t.same(flap.tracks.map((tr) => tr.at).slice(0, 3), [10_000, 20_000, 30_000]);
  t.match(flap.tracks[0].items[0], {
    duration: 3000,
    action: { type: 'fault', fault: { type: 'blackhole' }, target: { kind: 'peer' } },
  });

  const random = load('random-30m.yaml');
  t.equal(random.duration, 30 * 60_000);
  t.ok(random.tracks.length >= 60, `${random.tracks.length} windows (>= 60)`);
  const k = planKinds(random);
  t.ok(Object.keys(k).length >= 6, `kinds: ${JSON.stringify(k)}`);
  for (const kind of ['delay', 'blackhole', 'partition', 'freeze', 'kill']) t.ok(k[kind] > 0, `has ${kind}`);
  t.ok(
    random.tracks.every((tr) =>
      tr.items.every((i) => i.kind !== 'action' || tr.at + (i.duration ?? 0) <= random.duration!),
    ),
    'every window ends by the end',
  );
});

t.test("the README's scenario example parses and expands", async (t) => {
  const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Scenarios\n'));
  const text = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (!text) return t.fail('no yaml block in the Scenarios section');
  const plan = expandScenario(parseScenario(text.replaceAll('…', 'x'), 'README.md'));
  t.equal(plan.seed, 42);
  t.ok(
    plan.tracks.some((tr) => tr.id === 's6#3'),
    'the third copy of the repeating step',
  );
});

t.test('every field of the scenario schema is described (for the API documentation)', async (t) => {
  const missing: string[] = [];
  const seen = new Set<z.ZodTypeAny>();
  const walk = (s: z.ZodTypeAny, path: string): void => {
    if (seen.has(s)) return;
    seen.add(s);
    if (s instanceof z.ZodEffects) return walk(s._def.schema, path);
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault) return walk(s._def.innerType, path);
    if (s instanceof z.ZodBranded || s instanceof z.ZodArray) return walk(s._def.type, path);
    if (s instanceof z.ZodObject)
      for (const [k, v] of Object.entries(s.shape as Record<string, z.ZodTypeAny>)) {
        if (!v.description) missing.push(`${path}.${k}`);
        walk(v, `${path}.${k}`);
      }
  };
  walk(scenarioSchema, '');
  t.ok(seen.size > 20, `${seen.size} schemas walked`);
  t.same(missing, []);
});
