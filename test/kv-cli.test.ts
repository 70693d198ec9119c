// The kv workload from the command line, exactly as the README gives it: `etcd-soak load --endpoints
// H1:P1,H2:P2,H3:P3 --workloads kv --duration 30s` on a healthy 3-member cluster exits 0 with 0
// linearizability findings and writes history.jsonl; `etcd-soak check DIR` re-checks it offline with the
// same verdict (exit 0); a copy with one read made stale exits 1; a folder without a history exits 2.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LinOp } from '../src/loadgen/lin/history.js';
import { launchForTest } from './helpers/cluster.js';
import { run } from './helpers/proc.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-kv-cli-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const cluster = await launchForTest(t, { size: 3 });
const endpoints = cluster.clientEndpoints().join(',');

t.test('load --workloads kv --duration 30s, then check DIR', async (t) => {
  const reports = path.join(dir, 'reports');
  const load = run('etcd-soak', [
    'load',
    '--endpoints',
    endpoints,
    '--workloads',
    'kv',
    '--duration',
    '30s',
    '--report-dir',
    reports,
  ]);
  const { code } = await load.exited;
  t.equal(code, 0, `load exits 0: ${load.stdout()}\n${load.stderr().slice(-2000)}`);
  t.match(load.stdout(), /linearizability: held — 0 finding\(s\)/);
  t.notMatch(load.stdout(), /^ {2}puts:|^ {2}watch:/m, 'no put or watch lines when they did not run');
  t.match(load.stderr(), /kv [\d.]+\/s, \d+ indeterminate, 0 findings/, 'the status line shows the kv workload');
  const [runId] = fs.readdirSync(reports);
  const runDir = path.join(reports, runId);
  const summary = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8'));
  t.equal(summary.violations.linearizability, 0);
  t.equal(summary.kv.findings, 0);
  t.equal(summary.verdict.linearizable, 'held');
  t.ok(summary.kv.checked.ops > 2000, `about 100 ops/s for 30 s: ${summary.kv.checked.ops}`);
  t.ok(summary.kv.checked.reads > 0 && summary.kv.checked.writes > 0);
  t.same(summary.kv.history.files, ['history.jsonl']);
  t.equal(summary.kv.history.dropped, 0);
  t.equal(summary.kv.serializableReads, false);

  const check = run('etcd-soak', ['check', runDir]);
  t.equal((await check.exited).code, 0, check.stdout() + check.stderr());
  t.match(check.stdout(), /linearizability: held — 0 finding\(s\)/);
  t.match(check.stdout(), /the run's own verdict \(summary\.json\): 0 finding\(s\), the same/);
  const ops = Number(check.stdout().match(/kv: (\d+) ops/)![1]);
  t.equal(ops, summary.kv.checked.ops, 'the file holds every operation the run checked');

  const searched = run('etcd-soak', ['check', runDir, '--search']);
  t.equal((await searched.exited).code, 0, searched.stdout());
  t.match(searched.stdout(), /search: linearizable/);

  // one read made stale: it returns an older value of its key, one a read had already seen
  const stale = path.join(dir, 'stale');
  fs.mkdirSync(stale);
  fs.copyFileSync(path.join(runDir, 'run.json'), path.join(stale, 'run.json'));
  const lines = fs.readFileSync(path.join(runDir, 'history.jsonl'), 'utf8').trim().split('\n');
  const parsed = lines.map((l) => JSON.parse(l) as LinOp & { settle?: number });
  const reads = parsed.filter((o) => o.type === 'get' && o.status === 'ok' && typeof o.result === 'string');
  let planted: LinOp | undefined;
  for (const g of reads.slice(Math.floor(reads.length / 2))) {
    const older = reads.find(
      (r) => r.key === g.key && r.result !== g.result && (r.rev ?? 0) < (g.rev ?? 0) && r.ret! < g.invoke,
    );
    if (!older) continue;
    g.result = older.result;
    g.rev = older.rev;
    planted = g;
    break;
  }
  t.ok(planted, 'a read to make stale');
  fs.writeFileSync(path.join(stale, 'history.jsonl'), parsed.map((o) => JSON.stringify(o)).join('\n') + '\n');
  const bad = run('etcd-soak', ['check', stale]);
  t.equal((await bad.exited).code, 1, bad.stdout());
  t.match(bad.stdout(), /linearizability: violated — [1-9]\d* finding\(s\) \(.*stale-read \d+/);
  t.match(bad.stdout(), new RegExp(`stale-read ${planted!.key} .*#${planted!.id} get`));

  const none = run('etcd-soak', ['check', dir]);
  t.equal((await none.exited).code, 2, 'not a run folder');
});
