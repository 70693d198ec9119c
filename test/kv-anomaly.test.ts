// A real anomaly, nothing planted: with serializable reads spread over every member, a follower cut off
// from the others (a member-aware partition of the lab's peer links) keeps answering reads from its
// own store while the majority moves on — the linearizability checker must flag those reads, in the
// partition's window. The same run with linearizable reads has 0 findings: the cut-off member cannot
// serve them (no quorum), so they time out instead of lying.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import { api, sleep, until } from './helpers/partition.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-kv-anomaly-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

interface Row {
  name: string;
  ok: boolean;
  isLeader?: boolean;
}

const profile = {
  workloads: ['kv'],
  kvRate: 200,
  kvKeys: 4,
  connections: 3,
  putTimeout: '2s',
  settle: '3s',
  interval: '1s',
  serializableReads: true,
};

t.test('a cut-off follower serves stale serializable reads; linearizable reads stay clean', async (t) => {
  const lab = await startLab(
    parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir,
      cluster: { launch: { members: 3, ports: 'ephemeral' } },
      load: profile,
    }),
    { out: null },
  );
  t.teardown(() => lab.stop());

  /** isolates a follower for `ms` while the load runs, heals, and returns the load's summary */
  const cutOffAFollower = async (ms: number) => {
    const rows = await until('a leader', async () => {
      const r: Row[] = (await api(lab, 'GET', '/cluster')).body;
      return r.every((m) => m.ok) && r.some((m) => m.isLeader) ? r : undefined;
    });
    const follower = rows.find((m) => !m.isLeader)!.name;
    await sleep(1500);
    const p = await api(lab, 'POST', '/partitions', { isolate: follower, duration: '60s' });
    t.equal(p.status, 201, `${follower} cut off`);
    await sleep(ms);
    t.equal((await api(lab, 'DELETE', `/partitions/${p.body.id}`)).status, 204, 'healed');
    await sleep(1500);
    return (await api(lab, 'DELETE', '/load')).body;
  };

  const stale = await cutOffAFollower(5000);
  const found = stale.kv.checked.findings as Record<string, number>;
  t.comment(`serializable: ${stale.kv.checked.ops} ops, findings ${JSON.stringify(found)}`);
  t.ok(found['stale-read'] + found['real-time'] > 0, 'stale or out-of-real-time-order reads found');
  t.equal(stale.violations.linearizability, stale.kv.findings, 'each finding is a violation');
  t.equal(stale.verdict.linearizable, 'violated');
  t.match(stale.kv.first[0], { key: /-kv\/k\d$/, revision: Number, ops: Array });
  const w = (stale.windows ?? []).find((x: { kind: string }) => x.kind === 'partition');
  t.ok(w && w.violations.total > 0, `the partition's window holds the findings: ${JSON.stringify(w?.violations)}`);

  const put = await api(lab, 'PUT', '/load', { profile: { ...profile, serializableReads: false } });
  t.equal(put.status, 201);
  const clean = await cutOffAFollower(5000);
  t.comment(
    `linearizable: ${clean.kv.checked.ops} ops, ${clean.kv.checked.failed + clean.kv.checked.indeterminate} not answered, findings ${clean.kv.findings}`,
  );
  t.equal(clean.kv.findings, 0, 'no finding with linearizable reads');
  t.equal(clean.violations.linearizability, 0);
  t.ok(clean.kv.checked.indeterminate > 0, 'the cut-off member timed out instead (indeterminate)');
  t.equal(clean.kv.checked.unsettled, 0, "every indeterminate write settled from etcd's history");
});
