// The feature workloads from the command line, exactly as the README gives it: `etcd-soak load
// --endpoints H1:P1,H2:P2,H3:P3 --workloads registry,lock,election,config --duration 30s` on a healthy
// 3-member cluster runs the four beside the default put/watch load and exits 0, its summary.json holding
// one section per workload (operations, latencies, violations by check: all 0), each workload's part of
// the status line, its fields on the timeline and its operations in the 1-s series.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchForTest } from './helpers/cluster.js';
import { run } from './helpers/proc.js';

const FEATURES = ['registry', 'lock', 'election', 'config'];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-features-cli-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const cluster = await launchForTest(t, { size: 3 });
const endpoints = cluster.clientEndpoints().join(',');

t.test('load --workloads registry,lock,election,config --duration 30s', async (t) => {
  const reports = path.join(dir, 'reports');
  const load = run('etcd-soak', [
    'load',
    '--endpoints',
    endpoints,
    '--workloads',
    FEATURES.join(','),
    '--duration',
    '30s',
    '--report-dir',
    reports,
  ]);
  const { code } = await load.exited;
  t.equal(code, 0, `load exits 0: ${load.stdout()}\n${load.stderr().slice(-3000)}`);
  const out = load.stdout();
  t.match(out, /^ {2}puts: \d+ ok/m, 'the default put load ran beside them');
  t.match(out, /^ {2}watch: \d+ events checked/m, 'and the watch fleet');
  for (const w of FEATURES) {
    t.match(out, new RegExp(`^  ${w}: `, 'm'), `the table has the ${w} rows`);
    t.match(load.stderr(), new RegExp(`\\| ${w} `), `the status line has the ${w} part`);
  }
  t.notMatch(out, /VIOLATED/, 'no workload reports a violation');

  const [runId] = fs.readdirSync(reports);
  const runDir = path.join(reports, runId);
  const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
  t.same(summary.profile.workloads, ['put', 'watch', ...FEATURES]);
  for (const w of FEATURES) {
    const sec = summary.features?.[w];
    t.ok(sec, `summary.json has a ${w} section`);
    if (!sec) continue;
    const ok = Object.values(sec.ops as Record<string, { ok: number }>).reduce((n, c) => n + c.ok, 0);
    t.ok(ok > 0, `${w}: operations answered (${ok})`);
    t.ok(Object.keys(sec.violations).length > 0, `${w}: its checks are listed`);
    t.same(
      Object.entries(sec.violations).filter(([, n]) => n),
      [],
      `${w}: no violation (${JSON.stringify(sec.first)})`,
    );
    t.ok(
      Object.values(sec.latency as Record<string, { count: number }>).some((p) => p.count > 0),
      `${w}: latencies`,
    );
    t.equal(summary.violations[w], 0);
    t.equal(summary.verdict[w], 'held');
  }
  const timeline = fs
    .readFileSync(path.join(runDir, 'timeline.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const lines = timeline.filter((x) => x.features);
  t.ok(lines.length >= 4, 'timeline lines carry the workloads’ fields');
  t.same(Object.keys(lines[lines.length - 1].features).sort(), [...FEATURES].sort());
  const series = fs
    .readFileSync(path.join(runDir, 'series.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const seen = new Set(series.flatMap((r) => Object.keys(r.features ?? {})));
  t.same([...seen].sort(), [...FEATURES].sort(), 'the 1-s series counts every workload’s operations');
});
