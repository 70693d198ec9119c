// The election workload on a real 3-member cluster: named alone (so beside the default put/watch load),
// then with an explicit put/watch load and more candidates and observers. A healthy
// cluster gives several terms, 0 violations, no unsafe leader, and every observer saw every elected
// leader, in order; etcd's record of the election matches what the candidates were told. A record read
// through a drop/corrupt fault is in doubt until a Range shows the same live keys.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadProfileSchema } from '../src/schema/load.js';
import { LoadRunner, type LoadSummary } from '../src/loadgen/runner.js';
import { noViolations } from '../src/loadgen/verdict.js';
import { ElectionWorkload } from '../src/loadgen/workloads/election/index.js';
import { ElectionChecker } from '../src/loadgen/workloads/election/checker.js';
import { ElectionRecord } from '../src/loadgen/workloads/election/record.js';
import { ClientPool } from '../src/loadgen/pool.js';
import { EtcdWireClient } from '../src/loadgen/wire/client.js';
import { kvPut, kvRange } from '../src/loadgen/wire/kv.js';
import { createLogger } from '../src/util/log.js';
import { launchForTest } from './helpers/cluster.js';

const cluster = await launchForTest(t, { size: 3 });
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-election-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

async function runLoad(profile: object): Promise<{ s: LoadSummary; w: ElectionWorkload; lines: string[] }> {
  const r = new LoadRunner({
    profile: loadProfileSchema.parse({ connections: 3, interval: '1s', settle: '3s', ...profile }),
    endpoints: cluster.clientEndpoints(),
    reportDir,
  });
  const lines: string[] = [];
  const done = new Promise<LoadSummary>((res) => r.once('done', res));
  await r.start();
  const w = r.workloads.find((x): x is ElectionWorkload => x instanceof ElectionWorkload)!;
  const timer = setInterval(() => lines.push(w.featureLine().text), 1000);
  const s = await done;
  clearInterval(timer);
  return { s, w, lines };
}

function healthy(t: Test, s: LoadSummary, w: ElectionWorkload, observers: number) {
  const sec = s.features?.election;
  t.ok(sec, 'the summary has an election section');
  t.comment(JSON.stringify({ counts: sec?.counts, ops: sec?.ops, lag: sec?.latency.observerLag, notes: sec?.notes }));
  t.same(sec!.violations, { leaderOverlap: 0, observerOrder: 0, missedLeader: 0, proclaimOrder: 0 });
  t.same(sec!.anomalies, { unsafeLeader: 0, ghostLeader: 0 });
  t.equal(s.verdict.election, 'held');
  const c = w.checker;
  t.ok(c.elections.length >= 3, `${c.elections.length} terms`);
  t.equal(sec!.counts.terms, c.elections.length);
  // every term proclaims at least once, but the last one, cut by the run's end
  t.ok(sec!.counts.proclaims >= c.elections.length - 1, `${sec!.counts.proclaims} proclaims`);
  t.equal(c.counts.unjudged, 0, 'every claim judged against a complete record');
  t.equal(sec!.setup.recordComplete, true);
  t.ok(sec!.latency.campaignWait?.count, 'campaign waits measured');
  t.ok(sec!.latency.observerLag?.count, 'observer lag measured');
  t.ok(sec!.latency.proclaim?.count, 'proclaim latency measured');
  // the record's leaders: each elected key led, in the order the Campaigns answered
  const led = new Set(c.tenures.map((x) => x.createRev));
  for (const e of c.elections) t.ok(led.has(e), `the key created at ${e} led in etcd's record`);
  t.same(
    c.elections,
    [...c.elections].sort((a, b) => a - b),
    'Campaigns answered in create-revision order',
  );
  for (let o = 0; o < observers; o++) {
    const seen = c.seen(o);
    t.same(
      seen,
      [...seen].sort((a, b) => a - b),
      `observer ${o} saw leaders in order`,
    );
    const missing = c.elections.filter((e) => !seen.includes(e));
    t.same(missing, [], `observer ${o} saw every elected leader (${seen.length} seen)`);
  }
}

t.test("workloads ['election']: several terms, observers in step, 0 violations", async (t) => {
  const { s, w, lines } = await runLoad({
    workloads: ['election'],
    duration: '10s',
    electionCandidates: 3,
    electionObservers: 3,
    electionTerm: '1s',
    sessionTtl: '5s',
  });
  healthy(t, s, w, 3);
  t.same(s.violations, noViolations());
  t.ok(
    lines.some((l) => /^leader c\d term \d+, observers in step, 0 violations$/.test(l)),
    `a status line like 'leader c2 term 7, observers in step, 0 violations' (${lines.at(-1)})`,
  );
  const f = w.featureLine().fields;
  t.equal(f.terms, w.checker.elections.length);
  t.equal(f.observers, 3);
});

t.test('beside an explicit put/watch load, 4 candidates and 4 observers', async (t) => {
  const { s, w } = await runLoad({
    workloads: ['put', 'watch', 'election'],
    rate: 100,
    watchers: 6,
    keys: 5,
    duration: '8s',
    electionCandidates: 4,
    electionObservers: 4,
    electionTerm: '800ms',
  });
  healthy(t, s, w, 4);
  t.same(s.violations, noViolations(), 'the put/watch checks held');
  t.equal(s.counts.indeterminate, 0);
});

t.test('a record read through a drop/corrupt fault is tainted until a Range shows the same live keys', async (t) => {
  const endpoint = cluster.clientEndpoints()[0];
  const pool = new ClientPool([endpoint], 1, createLogger({ level: 'silent' }), 4 << 20);
  const client = new EtcdWireClient(endpoint);
  const base = `/etcd-soak/test-record-${process.pid}/`;
  const checker = new ElectionChecker(() => undefined);
  let suspect = true;
  const record = new ElectionRecord(
    pool,
    base,
    `${base}e/`,
    checker,
    createLogger({ level: 'silent' }),
    0,
    () => suspect,
  );
  t.teardown(() => {
    record.stop();
    pool.close();
    client.close();
  });
  const head = (await kvRange(client, '/', { timeoutMs: 3000 })).revision;
  record.start(head);
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
  };
  await kvPut(client, `${base}e/a`, 'x', { timeoutMs: 3000 });
  await until(() => checker.aliveKeys.size === 1);
  t.equal(record.tainted, true, 'events read while the fault may garble them taint the record');
  await kvPut(client, `${base}e/b`, 'y', { timeoutMs: 3000 });
  await until(() => checker.aliveKeys.size === 2);
  const model = new Map(checker.aliveKeys);
  t.equal(
    await record.verify(model, record.lastRev, 3000),
    'same',
    "the live keys are etcd's at the record's revision",
  );
  const extra = new Map(model).set(`${base}e/\u00e1`, record.lastRev);
  t.equal(await record.verify(extra, record.lastRev, 3000), 'differs', 'a key under a flipped name differs');
  const shifted = new Map([...model].map(([k, c]) => [k, c + 1] as const));
  t.equal(await record.verify(shifted, record.lastRev, 3000), 'differs', 'a flipped create revision differs');
  t.equal(await record.verify(model, record.lastRev + 1_000_000, 3000), 'unknown', 'a revision etcd never reached');
  record.tainted = false;
  suspect = false;
  await kvPut(client, `${base}e/c`, 'z', { timeoutMs: 3000 });
  await until(() => checker.aliveKeys.size === 3);
  t.equal(record.tainted, false, 'events read on clean links do not');
});
