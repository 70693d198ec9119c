// A scenario on a lab's real members under the put/watch load, through the API: the leader isolated by
// a partition, a follower frozen 5 s (SIGSTOP), a follower killed and started again, a delay on every
// client link. The run's report has exactly those windows, each with its figures and its step; the
// partition shows a leader change; at the end every member serves, HashKV agrees at one revision, and
// the load found no violation of etcd's. Then: dry runs are deterministic, bad documents are 400s naming
// the field, and an abort removes the faults and brings the members back.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseConfig } from '../src/config/schema.js';
import { controlClient } from '../src/etcd/control.js';
import { startLab } from '../src/lab/lab.js';
import { api, sleep, until } from './helpers/partition.js';

const execFileP = promisify(execFile);
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-scenario-lab-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

const lab = await startLab(
  parseConfig({
    api: { listen: '127.0.0.1:0' },
    reportDir,
    seed: 7,
    cluster: { launch: { members: 3, ports: 'ephemeral' } },
    load: { rate: 60, watchers: 12, keys: 4, connections: 3, settle: '15s', putTimeout: '3s', interval: '1s' },
  }),
  { out: null },
);
t.teardown(() => lab.stop());

interface Row {
  name: string;
  ok: boolean;
  state?: string;
  client: string;
  leader?: string;
}
const cluster = async (): Promise<Row[]> => (await api(lab, 'GET', '/cluster')).body;
const healthy = () =>
  until(
    'every member serving under one leader',
    async () => {
      const rows = await cluster();
      return rows.every((m) => m.ok && m.state === 'running') && new Set(rows.map((m) => m.leader)).size === 1
        ? rows
        : undefined;
    },
    60000,
  );

const scenario = {
  name: 'tour',
  duration: '46s',
  steps: [
    {
      at: '3s',
      sequence: [
        { partition: { isolate: 'leader' }, duration: '8s', name: 'isolate the leader' },
        { wait: { for: 'healthy', timeout: '30s' } },
      ],
    },
    { at: '20s', member: { action: 'freeze', target: 'random-follower' }, duration: '5s' },
    {
      at: '28s',
      sequence: [
        { member: { action: 'kill', target: 'follower' }, duration: '4s' },
        { wait: { for: 'healthy', timeout: '30s' } },
      ],
    },
    {
      at: '40s',
      fault: { type: 'delay', direction: 'tx', latency: '100ms' },
      target: { kind: 'client' },
      duration: '4s',
    },
  ],
};

t.test('a dry run answers the plan; the same document and seed give the same hash', async (t) => {
  await healthy();
  const a = await api(lab, 'POST', '/scenarios?dryRun=true', scenario);
  const b = await api(lab, 'POST', '/scenarios?dryRun=true', scenario);
  const c = await api(lab, 'POST', '/scenarios?dryRun=true&seed=9', { ...scenario, random: undefined });
  t.equal(a.status, 200);
  t.match(a.body, { name: 'tour', members: 3, hash: /^[0-9a-f]{16}$/ });
  t.equal(a.body.tracks.length, 4);
  t.equal(b.body.hash, a.body.hash);
  t.not(c.body.hash, a.body.hash, 'another seed is another plan');
  t.same((await api(lab, 'GET', '/scenarios')).body, [], 'a dry run starts nothing');
});

t.test('bad documents and parameters are 400s naming the field', async (t) => {
  const bad = await api(lab, 'POST', '/scenarios', {
    ...scenario,
    steps: [{ at: '1s', member: { action: 'nap', target: 's1' } }],
  });
  t.equal(bad.status, 400);
  t.match(JSON.stringify(bad.body.details), /steps.*member.*action/);
  const seed = await api(lab, 'POST', '/scenarios?seed=-1', scenario);
  t.equal(seed.status, 400);
  t.equal(seed.body.details[0].path, 'seed');
  t.equal((await api(lab, 'GET', '/scenarios/sc42')).status, 404);
});

t.test('the scenario runs on the real members; the report has its windows and figures', async (t) => {
  const start = await api(lab, 'POST', '/scenarios', scenario);
  t.equal(start.status, 201);
  const id = start.body.id;
  t.match(start.body, { state: 'running', name: 'tour', steps: { planned: 4 } });
  const second = await api(lab, 'POST', '/scenarios', scenario);
  t.equal(second.status, 409, 'one scenario at a time');

  // the partition is in force between 3 s and 11 s
  const during = await until(
    'the partition window',
    async () => {
      const st = (await api(lab, 'GET', `/scenarios/${id}`)).body;
      return st.active.some((w: { kind: string }) => w.kind === 'partition') ? st : undefined;
    },
    20000,
  );
  t.match(during.active[0], { kind: 'partition', scenario: id, step: 's1.1' });

  const done = await until(
    'the scenario done',
    async () => {
      const st = (await api(lab, 'GET', `/scenarios/${id}`)).body;
      return st.state === 'done' ? st : undefined;
    },
    120000,
  );
  t.same(done.errors, [], 'no step failed, no wait timed out');
  t.same(done.steps, { planned: 4, applied: 4, failed: 0 });
  t.ok(
    done.log.every((s: { undoneAt?: number }) => s.undoneAt !== undefined),
    'every step undone',
  );
  t.ok(done.skew.count >= 3, 'skew measured for the steps due at known times');

  const metrics = await (await fetch(`${lab.apiUrl}/metrics`)).text();
  for (const kind of ['partition', 'freeze', 'kill', 'delay'])
    t.match(
      metrics,
      new RegExp(`etcd_soak_fault_windows_total\\{kind="${kind}"\\} 1\\n`),
      `metric: one ${kind} window`,
    );
  t.match(metrics, /etcd_soak_fault_windows_active\{kind="partition"\} 0\n/, 'metric: none active now');
  t.match(metrics, /etcd_soak_scenario_steps_total\{result="applied"\} 4\n/);
  t.match(metrics, /etcd_soak_leader_changes_total [1-9]/);
  const rows = await healthy();
  t.equal(rows.length, 3);
  // every member holds the same keyspace at one revision
  await sleep(1000);
  const revision = Math.min(...(await Promise.all(rows.map(async (m) => revisionOf(m.client)))));
  const hashes = await Promise.all(rows.map((m) => hashKV(m.client, revision)));
  t.equal(new Set(hashes).size, 1, `HashKV at revision ${revision} agrees on every member: ${hashes.join(' ')}`);

  const summary = (await api(lab, 'DELETE', '/load')).body;
  t.same(summary.violations, noViolations(), "no violation of etcd's");
  const windows = summary.windows as {
    kind: string;
    scenario?: string;
    step?: string;
    durationMs: number;
    leaderChanges: number;
    during: { seconds: number; put: { p99: number } };
    firstOkPutMs?: number | null;
  }[];
  t.same(
    windows.map((w) => w.kind),
    ['partition', 'freeze', 'kill', 'delay'],
    'exactly the scenario windows, in order',
  );
  t.ok(
    windows.every((w) => w.scenario === id && w.step),
    'each names its scenario and step',
  );
  t.ok(
    windows.every((w) => w.during.seconds >= 1 && w.during.put.p99 > 0),
    'each has its figures',
  );
  t.ok(windows[0].leaderChanges >= 1, 'isolating the leader changed the leader');
  t.ok(Math.abs(windows[0].durationMs - 8000) < 1500, `the partition lasted ~8 s (${windows[0].durationMs} ms)`);
  t.ok(Math.abs(windows[1].durationMs - 5000) < 1500, `the freeze lasted ~5 s (${windows[1].durationMs} ms)`);
  t.ok(windows[2].durationMs >= 4000, 'the kill lasted until the member served again');
  t.ok(windows[3].during.put.p99 >= 100, 'the client delay shows in the put latency');
  const dir = summary.reportDir as string;
  for (const f of ['timeline.jsonl', 'series.jsonl', 'summary.json', 'report.html'])
    t.ok(fs.existsSync(path.join(dir, f)), `${f} written`);
  const marks = fs
    .readFileSync(path.join(dir, 'timeline.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.mark);
  t.same(
    marks.filter((m) => m.mark === 'scenario').map((m) => m.event),
    ['start', 'done'],
  );
});

t.test('abort: the faults removed, the partition healed, the members brought back', async (t) => {
  await healthy();
  const start = await api(lab, 'POST', '/scenarios', {
    name: 'held',
    quorumGuard: false,
    steps: [
      { member: { action: 'freeze', target: 'random-follower' }, duration: '60s' },
      { at: '1s', partition: { isolate: 'random-follower' }, duration: '60s' },
      { at: '8s', member: { action: 'kill', target: 'leader' } },
    ],
  });
  t.equal(start.status, 201);
  const id = start.body.id;
  await until('both in force', async () => {
    const st = (await api(lab, 'GET', `/scenarios/${id}`)).body;
    return st.active.length === 2 ? st : undefined;
  });
  const st = await api(lab, 'GET', `/scenarios/${id}`);
  const frozen = st.body.log.find((s: { action: string }) => s.action.startsWith('member freeze')).member;
  const isolated = st.body.log.find((s: { action: string }) => s.action === 'partition').member;
  t.not(frozen, isolated, 'the random picks avoid a member the run already took');
  const aborted = await api(lab, 'DELETE', `/scenarios/${id}`);
  t.equal(aborted.status, 200);
  t.equal(aborted.body.state, 'aborted');
  t.same(aborted.body.active, []);
  t.same((await api(lab, 'GET', '/partitions')).body, [], 'partition healed');
  t.same((await api(lab, 'GET', '/members')).body.windows, [], 'no member window open');
  const rows = await healthy();
  t.ok(rows.every((r) => r.state === 'running'));
  await sleep(8000);
  t.ok(
    (await cluster()).every((r) => r.state === 'running'),
    'the aborted run never reached its kill',
  );
});

async function revisionOf(client: string): Promise<number> {
  const c = controlClient([client], { deadlineMs: 5000 });
  try {
    return Number((await c.maintenance.status()).header.revision);
  } finally {
    c.close();
  }
}

/** etcd's HashKV of a member's keyspace up to `revision` (etcdctl endpoint hashkv) */
async function hashKV(client: string, revision: number): Promise<number> {
  const { stdout } = await execFileP(
    'etcdctl',
    ['--endpoints', client, 'endpoint', 'hashkv', `--rev=${revision}`, '-w', 'json'],
    {
      env: { ...process.env, ETCDCTL_API: '3' },
    },
  );
  return JSON.parse(stdout)[0].HashKV.hash;
}
