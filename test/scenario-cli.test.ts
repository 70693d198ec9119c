// The scenario from the command line, exactly as the README gives it: a dry run prints the plan and its
// hash and starts nothing; `lab --ephemeral --scenario config/scenarios/leader-isolation.yaml --duration
// 90s` runs the shipped example on a fresh lab and exits by itself, its report folder holding the
// timeline, a summary with one window per applied fault, and report.html. Bad files and flags exit 2
// naming the file, path or flag.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './helpers/proc.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-scenario-cli-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

t.test('--dry-run prints the expanded plan and its hash, the same each time, and starts nothing', async (t) => {
  const args = ['lab', '--scenario', 'config/scenarios/random-30m.yaml', '--dry-run'];
  const a = run('etcd-soak', args);
  const b = run('etcd-soak', args);
  const [ra, rb] = [await a.exited, await b.exited];
  t.equal(ra.code, 0);
  t.equal(rb.code, 0);
  t.match(a.stdout(), /^plan hash [0-9a-f]{16} \(seed \d+\)$/m);
  t.equal(a.stdout(), b.stdout(), 'the same file gives the same plan');
  t.match(a.stdout(), /r1 +/);
  const c = run('etcd-soak', [...args, '--scenario-seed', '5']);
  await c.exited;
  t.not(
    c.stdout().match(/plan hash (\w+)/)![1],
    a.stdout().match(/plan hash (\w+)/)![1],
    '--scenario-seed draws another plan',
  );
  t.equal(a.stderr(), '', 'no lab was started (nothing logged)');
  const r = run('etcd-soak', ['run', '--config', 'config/lab.yaml', ...args.slice(1)]);
  t.equal((await r.exited).code, 0, 'run --config C --scenario F --dry-run');
  t.equal(r.stdout(), a.stdout(), 'the lab config launches 3 members: the same plan');
});

t.test('a bad scenario file or flag exits 2 naming it', async (t) => {
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(
    bad,
    'name: x\nsteps:\n  - at: 1s\n    member: { action: freeze, target: s1 }\n    duration: soon\n',
  );
  const r1 = run('etcd-soak', ['lab', '--scenario', bad, '--dry-run']);
  t.equal((await r1.exited).code, 2);
  t.match(r1.stderr(), new RegExp(`${bad.replace(/[.]/g, '\\.')}.*steps\\[0\\]\\.duration`));
  const r2 = run('etcd-soak', ['lab', '--scenario', path.join(dir, 'missing.yaml'), '--dry-run']);
  t.equal((await r2.exited).code, 2);
  t.match(r2.stderr(), /missing\.yaml.*cannot read the scenario: ENOENT/);
  const r3 = run('etcd-soak', ['lab', '--dry-run']);
  t.equal((await r3.exited).code, 2);
  t.match(r3.stderr(), /--dry-run needs --scenario FILE/);
  const r4 = run('etcd-soak', ['lab', '--scenario', 'config/scenarios/frozen-follower.yaml', '--scenario-seed', 'x']);
  t.equal((await r4.exited).code, 2);
  t.match(r4.stderr(), /--scenario-seed: expected a non-negative integer/);
});

t.test('lab --ephemeral --scenario leader-isolation.yaml --duration 90s runs it and exits by itself', async (t) => {
  const reports = path.join(dir, 'reports');
  const p = run('etcd-soak', [
    'lab',
    '--ephemeral',
    '--scenario',
    'config/scenarios/leader-isolation.yaml',
    '--duration',
    '90s',
    '--report-dir',
    reports,
    '--api',
    '127.0.0.1:0',
  ]);
  const r = await p.exited;
  t.equal(r.code, 0, `exit 0 (stderr: ${p.stderr().slice(-2000)})`);
  t.match(p.stderr(), /scenario sc1: leader-isolation \(plan [0-9a-f]{16}, seed 0\)/);
  t.match(p.stderr(), /scenario sc1 done after \d+(\.\d)?s: 1\/1 steps applied, 0 failed/);
  t.match(p.stderr(), /fault windows \(1\)/, 'the table has the window row');
  const [run0] = fs.readdirSync(reports);
  const folder = path.join(reports, run0);
  for (const f of ['timeline.jsonl', 'summary.json', 'report.html']) t.ok(fs.existsSync(path.join(folder, f)), f);
  const summary = JSON.parse(fs.readFileSync(path.join(folder, 'summary.json'), 'utf8'));
  t.equal(summary.reason, 'duration reached');
  t.equal(summary.windows.length, 1, 'one window per applied fault');
  const w = summary.windows[0];
  t.match(w, { kind: 'partition', target: /^isolate leader s\d/, start: String, end: String, scenario: 'sc1' });
  t.ok(w.during.seconds > 0 && w.baseline && w.during.put.p99 > 0, 'with its figures');
  t.ok(w.leaderChanges >= 1, 'the isolated leader was replaced');
  t.same(summary.violations, noViolations());
});
