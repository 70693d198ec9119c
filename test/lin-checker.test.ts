// Hand-made KV histories, one anomaly each, through both linearizability checks: the streaming checker
// (etcd's revisions as the witness) must name the kind; the search (no revisions) must say whether the
// anomaly is visible from values and times alone. Duplicate revisions and cross-key real-time order are
// seen by the witness only.
import t from 'tap';
import { LinChecker } from '../src/loadgen/lin/checker.js';
import type { FindingKind, LinOp } from '../src/loadgen/lin/history.js';
import { checkLinearizable } from '../src/loadgen/lin/search.js';
import { simulate } from '../src/loadgen/lin/simulate.js';

let nextId = 1;
type Partial = Omit<LinOp, 'id' | 'client' | 'status' | 'invoke' | 'ret'> & { status?: LinOp['status'] };
/** an operation over [invoke, ret] */
const op = (invoke: number, ret: number, o: Partial): LinOp => ({
  id: nextId++,
  client: nextId,
  status: 'ok',
  invoke,
  ret,
  ...o,
});
const put = (i: number, r: number, key: string, value: string, rev: number, o: Partial | object = {}) =>
  op(i, r, { type: 'put', key, value, rev, header: rev, ...o });
const get = (i: number, r: number, key: string, value: string | null, header: number, rev?: number) =>
  op(i, r, { type: 'get', key, result: value, header, rev });

function stream(ops: LinOp[], settles: [number, number | null][] = []) {
  const c = new LinChecker({ settle: 50 });
  for (const o of [...ops].sort((a, b) => (a.ret ?? a.invoke) - (b.ret ?? b.invoke))) c.add(o);
  for (const [id, rev] of settles) c.settle(id, rev);
  return c.finish();
}
const kinds = (ops: LinOp[], settles: [number, number | null][] = []) =>
  stream(ops, settles).findings.map((f) => f.kind);
const linearizable = (ops: LinOp[]) => checkLinearizable(ops).linearizable;

function anomaly(name: string, ops: LinOp[], kind: FindingKind, visible: boolean) {
  t.test(name, async (t) => {
    const v = stream(ops);
    t.ok(
      v.findings.some((f) => f.kind === kind),
      `${kind} in ${JSON.stringify(v.findings)}`,
    );
    t.equal(linearizable(ops), !visible, visible ? 'the search sees it too' : 'only the witness sees it');
  });
}

t.test('a clean history: puts, reads, CAS on value and revision, deletes', async (t) => {
  const ops = [
    put(0, 1, 'a', 'v1', 2),
    get(2, 3, 'a', 'v1', 2, 2),
    op(4, 5, { type: 'cas', key: 'a', value: 'v2', expect: { value: 'v1' }, result: true, rev: 3, header: 3 }),
    op(6, 7, { type: 'cas', key: 'a', value: 'v3', expect: { modRevision: 2 }, result: false, header: 3 }),
    op(8, 9, { type: 'cas', key: 'a', value: 'v4', expect: { modRevision: 3 }, result: true, rev: 4, header: 4 }),
    op(10, 11, { type: 'del', key: 'a', result: 1, rev: 5, header: 5 }),
    get(12, 13, 'a', null, 5),
    op(14, 15, { type: 'del', key: 'a', result: 0, header: 5 }),
    op(16, 17, { type: 'cas', key: 'a', value: 'v5', expect: { value: 'absent' }, result: true, rev: 6, header: 6 }),
    // concurrent: the read is served before the write that returns first
    put(18, 30, 'a', 'v6', 7),
    get(19, 25, 'a', 'v5', 6, 6),
    get(20, 26, 'a', 'v6', 7, 7),
  ];
  t.same(stream(ops).findings, []);
  t.equal(stream(ops).counts.judged, ops.length);
  t.equal(linearizable(ops), true);
});

anomaly(
  'stale read: a value overwritten before the read began (another read had seen the new one)',
  [put(0, 1, 'a', 'v1', 2), put(2, 3, 'a', 'v2', 3), get(4, 5, 'a', 'v2', 3, 3), get(6, 7, 'a', 'v1', 3, 2)],
  'stale-read',
  true,
);
anomaly(
  'stale read: a lagging member serves an old header after a newer write returned',
  [put(0, 1, 'a', 'v1', 2), put(2, 3, 'a', 'v2', 3), get(4, 5, 'a', 'v1', 2, 2)],
  'stale-read',
  true,
);
anomaly(
  'lost write: acknowledged, then skipped by every read',
  [put(0, 1, 'a', 'v1', 2), put(2, 3, 'a', 'v2', 3), get(4, 5, 'a', 'v1', 3, 2), get(6, 7, 'a', 'v1', 3, 2)],
  'lost-write',
  true,
);
anomaly(
  'duplicate revision: two writes of one key at one revision',
  [put(0, 1, 'a', 'v1', 2), put(2, 3, 'a', 'v2', 2), get(4, 5, 'a', 'v2', 2, 2)],
  'duplicate-revision',
  false,
);
anomaly(
  'duplicate revision: writes of two keys at one revision',
  [put(0, 1, 'a', 'v1', 2), put(0, 1, 'b', 'v2', 2)],
  'duplicate-revision',
  false,
);
anomaly('phantom value: never written', [put(0, 1, 'a', 'v1', 2), get(2, 3, 'a', 'v9', 2, 2)], 'phantom-value', true);
anomaly(
  'phantom value: written only by a failed put',
  [op(0, 1, { type: 'put', key: 'a', value: 'v1', status: 'fail' }), get(2, 3, 'a', 'v1', 2, 2)],
  'phantom-value',
  true,
);
anomaly(
  'CAS succeeded against a value the key no longer had',
  [
    put(0, 1, 'a', 'v1', 2),
    put(2, 3, 'a', 'v2', 3),
    op(4, 5, { type: 'cas', key: 'a', value: 'v3', expect: { value: 'v1' }, result: true, rev: 4, header: 4 }),
  ],
  'cas-mismatch',
  true,
);
anomaly(
  'CAS on a mod revision failed although the key was at it',
  [
    put(0, 1, 'a', 'v1', 2),
    op(2, 3, { type: 'cas', key: 'a', value: 'v3', expect: { modRevision: 2 }, result: false, header: 2 }),
  ],
  'cas-mismatch',
  false,
);
anomaly(
  'delete of a key that did not exist reports one deleted',
  [op(0, 1, { type: 'del', key: 'a', result: 1, rev: 2, header: 2 })],
  'delete-mismatch',
  true,
);
anomaly(
  'real time: a write placed below one of another key that returned before it began',
  [put(0, 1, 'a', 'v1', 5), put(2, 3, 'b', 'v2', 4)],
  'real-time',
  false,
);
anomaly(
  'real time: a read served at a header below a write of another key that had returned',
  [put(0, 1, 'a', 'v1', 5), get(2, 3, 'b', null, 3)],
  'real-time',
  false,
);
anomaly(
  'an unsettled delete that alone fits the one free revision is taken as applied there',
  [
    put(0, 1, 'a', 'v0', 2),
    op(3, 100, { type: 'del', key: 'a', status: 'indeterminate' }),
    get(5, 6, 'a', null, 3),
    op(7, 8, { type: 'del', key: 'a', result: 1, rev: 4, header: 4 }),
  ],
  'delete-mismatch',
  true,
);
anomaly(
  'future read: the value of a write invoked after the read returned',
  [get(0, 1, 'a', 'v1', 2, 2), put(5, 6, 'a', 'v1', 2)],
  'future-read',
  true,
);
anomaly(
  'revision mismatch: the read names another mod revision than the write created',
  [put(0, 1, 'a', 'v1', 2), get(2, 3, 'a', 'v1', 2, 7)],
  'revision-mismatch',
  false,
);

t.test('indeterminate writes', async (t) => {
  const lost = (o: Partial) => op(0, 100, { status: 'indeterminate', ...o });
  const w = lost({ type: 'put', key: 'a', value: 'v1' });
  t.same(kinds([w, get(5, 6, 'a', 'v1', 2, 2)]), [], 'a read of its value settles it');
  t.same(kinds([w, get(5, 6, 'a', 'v1', 2, 2)], [[w.id, 2]]), [], 'a settle that agrees');
  t.same(kinds([w, get(5, 6, 'a', 'v1', 2, 2)], [[w.id, 3]]), ['revision-mismatch'], 'a settle that does not');
  t.same(kinds([w, get(5, 6, 'a', null, 1)]), [], 'unsettled: maybe never applied');
  const d = lost({ type: 'del', key: 'a' });
  t.same(
    kinds([put(0, 1, 'a', 'v0', 2), { ...d, invoke: 2 }, get(5, 6, 'a', null, 3)]),
    [],
    'an unsettled delete explains a null read',
  );
  const v2 = lost({ type: 'put', key: 'a', value: 'v2', invoke: 2 });
  const history = [put(0, 1, 'a', 'v1', 2), v2, get(5, 6, 'a', 'v1', 4, 2)];
  t.same(kinds(history, [[v2.id, null]]), [], 'settled as not applied');
  t.same(kinds(history, [[v2.id, 3]]), ['lost-write'], 'settled late at a revision a judged read skipped');
  t.equal(linearizable(history), true, 'without the settle the search cannot tell');
});

t.test('memory follows the window, not the run', async (t) => {
  const retained = (ops: number) => {
    const c = new LinChecker({ settle: 200 });
    for (const e of simulate({ seed: 7, ops, clients: 16, keys: 8, timeout: 100 }))
      if ('op' in e) c.add(e.op);
      else c.settle(e.settle.id, e.settle.rev);
    return { retained: c.retained, findings: c.finish().findings.length };
  };
  const short = retained(20_000);
  const long = retained(200_000);
  t.same([short.findings, long.findings], [0, 0]);
  t.ok(long.retained < 2 * short.retained + 1000, `retained ${short.retained} after 20k, ${long.retained} after 200k`);
});
