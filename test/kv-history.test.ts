// The kv history on disk: the writer rotates at its size bound and stops after its last file (saying
// where the history was cut), and the offline check reads the files back in order with the verdict the
// live checker gave on the same events.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OpEvent } from '../src/loadgen/events.js';
import { LinChecker } from '../src/loadgen/lin/checker.js';
import { checkHistoryDir } from '../src/loadgen/lin/history-file.js';
import { simulate } from '../src/loadgen/lin/simulate.js';
import type { LinOp } from '../src/loadgen/lin/history.js';
import { KvHistoryWriter } from '../src/loadgen/observers/kv-history.js';
import type { LoadSummary } from '../src/loadgen/report.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-kv-history-'));
t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));

const opEvent = (op: LinOp): OpEvent => ({
  type: op.status === 'ok' ? 'ok' : op.status === 'fail' ? 'fail' : 'indeterminate',
  workload: 'kv',
  op: `kv:${op.type}`,
  seq: op.id,
  key: 0,
  at: op.ret ?? op.invoke,
  due: op.invoke,
  connection: op.client,
  lin: op,
});
const settleEvent = (id: number, rev: number | null): OpEvent => ({
  type: 'settled',
  workload: 'kv',
  op: 'kv:put',
  seq: id,
  key: 0,
  at: 0,
  due: 0,
  connection: -1,
  revision: rev ?? undefined,
  applied: rev !== null,
});

/** feeds a simulated history to a writer and a live checker; returns the live verdict and the summary's kv */
function record(sub: string, seed: number, ops: number, bounds: { maxFileBytes?: number; maxFiles?: number }) {
  const d = path.join(dir, sub);
  const w = new KvHistoryWriter(d, bounds);
  w.onStart({ runId: 'abcdefgh', profile: { settle: 5000, putTimeout: 4000 } });
  const live = new LinChecker({ settle: 5000 });
  const sim = { seed, ops, keys: 4, clients: 6, indeterminate: 0.05, timeout: 3000, unsettled: 0 };
  for (const e of simulate(sim)) {
    if ('op' in e) {
      w.onOp(opEvent(e.op));
      live.add(e.op);
    } else {
      w.onOp(settleEvent(e.settle.id, e.settle.rev));
      live.settle(e.settle.id, e.settle.rev);
    }
  }
  w.onOp({ ...settleEvent(1, 1), workload: 'put' }); // another workload's event: not in the kv history
  const summary = { kv: {} } as LoadSummary;
  w.onDone(summary);
  return { dir: d, live: live.finish(), info: summary.kv!.history as Record<string, unknown> };
}

t.test('a whole history reads back to the live verdict, over rotated files', async (t) => {
  const r = record('whole', 7, 3000, { maxFileBytes: 64 << 10, maxFiles: 100 });
  const files = r.info.files as string[];
  t.ok(files.length > 3, `rotated into ${files.length} files`);
  t.same(files.slice(0, 3), ['history.jsonl', 'history.1.jsonl', 'history.2.jsonl']);
  for (const f of files) t.ok(fs.statSync(path.join(r.dir, f)).size <= 64 << 10, `${f} within its bound`);
  t.equal(r.info.dropped, 0);
  const off = await checkHistoryDir(r.dir);
  t.ok(off);
  t.equal(off!.meta.runId, 'abcdefgh');
  t.equal(off!.bad, 0);
  t.same(off!.verdict.counts, r.live.counts, 'the same counts offline as live');
  t.equal(off!.verdict.counts.ops, 3000);
  t.ok(off!.verdict.counts.settledApplied + off!.verdict.counts.settledNotApplied > 0, 'settle lines read back');
  t.same(off!.verdict.findings, r.live.findings);
});

t.test('bounded: after the last file nothing more is written, and the summary says where it was cut', async (t) => {
  const r = record('cut', 8, 3000, { maxFileBytes: 32 << 10, maxFiles: 2 });
  t.same(r.info.files, ['history.jsonl', 'history.1.jsonl']);
  t.ok((r.info.dropped as number) > 0);
  t.type(r.info.cutAtOp, 'number');
  const off = await checkHistoryDir(r.dir);
  t.ok(off!.verdict.counts.ops < 3000, `a prefix: ${off!.verdict.counts.ops} ops`);
  t.equal(await checkHistoryDir(path.join(dir, 'nothing-here')), undefined, 'no history: undefined');
});
