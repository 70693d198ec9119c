// Property tests of the two linearizability checks on histories of a simulated correct etcd (random
// clients, latencies, keys, failures, timed-out writes applied or not, settled or never):
// (a) clean histories: no finding from the streaming checker, linearizable for the search;
// (b) one planted anomaly: the streaming checker names its kind, and the search agrees where values and
//     times alone show it (a duplicate revision is seen by the witness only);
// (c) random mutations: whenever the search finds no linearization the streaming checker reports
//     something, and whenever it finds one, that order taken as the revisions passes the streaming check.
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { LinChecker } from '../src/loadgen/lin/checker.js';
import { isEffectiveWrite, type FindingKind, type LinOp } from '../src/loadgen/lin/history.js';
import { checkLinearizable } from '../src/loadgen/lin/search.js';
import { simulateHistory } from '../src/loadgen/lin/simulate.js';

const NUM_RUNS = Number(process.env.PROPS_RUNS ?? 100);
if (process.env.PROPS_SEED) fc.configureGlobal({ seed: Number(process.env.PROPS_SEED) });
const TIMEOUT = 40;
const SETTLE = 2 * TIMEOUT;

interface History {
  ops: LinOp[];
  settles: { id: number; rev: number | null }[];
}

const arbHistory = (opts: { minOps: number; maxOps: number; casByRevision?: number }) =>
  fc
    .record({
      seed: fc.integer(),
      ops: fc.integer({ min: opts.minOps, max: opts.maxOps }),
      clients: fc.integer({ min: 2, max: 6 }),
      keys: fc.integer({ min: 1, max: 3 }),
      latency: fc.double({ min: 0.5, max: 8, noNaN: true }),
      think: fc.double({ min: 0.5, max: 10, noNaN: true }),
      fail: fc.double({ min: 0, max: 0.05, noNaN: true }),
      indeterminate: fc.double({ min: 0, max: 0.1, noNaN: true }),
      unsettled: fc.double({ min: 0, max: 0.5, noNaN: true }),
    })
    .map((o): History => simulateHistory({ ...o, timeout: TIMEOUT, casByRevision: opts.casByRevision ?? 0.5 }));

function stream(ops: LinOp[], settles: History['settles'], atEnd = false) {
  const c = new LinChecker({ settle: SETTLE });
  // settles arrive in time: after their write, within the settle window
  const pending = [...settles];
  const byId = new Map(ops.map((o) => [o.id, o]));
  for (const op of ops) {
    while (!atEnd && pending.length && (byId.get(pending[0].id)?.ret ?? 0) + TIMEOUT <= (op.ret ?? 0)) {
      const s = pending.shift()!;
      c.settle(s.id, s.rev);
    }
    c.add(op);
  }
  for (const s of pending) c.settle(s.id, s.rev);
  return c.finish();
}
const notApplied = (h: History) => new Set(h.settles.filter((s) => s.rev === null).map((s) => s.id));
/**
 * The search, bounded: with many timed-out writes (each may take effect anywhere after its invoke)
 * proving a history non-linearizable can take exponential time, so it may answer 'unknown'.
 */
const search = (h: History) => checkLinearizable(h.ops, undefined, { notApplied: notApplied(h), maxSteps: 300_000 });
/** runs where the search gave up: allowed, but rare */
const rare = (t: Test, unknown: number, runs: number) =>
  t.ok(unknown <= Math.max(2, runs / 20), `the search gave up in ${unknown} of ${runs} runs`);
const clone = (h: History): History => ({ ops: h.ops.map((o) => ({ ...o })), settles: h.settles });

/** A key's versions in revision order: acknowledged writes and the indeterminate ones settled or read. */
function versions(h: History, key: string): { op: LinOp; rev: number }[] {
  const settled = new Map(h.settles.map((s) => [s.id, s.rev]));
  const read = new Map(gets(h, key).map((r) => [r.result, r.rev]));
  for (const op of h.ops)
    if (op.status === 'indeterminate' && op.key === key && read.has(op.value)) settled.set(op.id, read.get(op.value)!);
  const out: { op: LinOp; rev: number }[] = [];
  for (const op of h.ops) {
    if (op.key !== key || op.type === 'get') continue;
    if (op.status === 'ok' && isEffectiveWrite(op)) out.push({ op, rev: op.rev! });
    else if (op.status === 'indeterminate' && typeof settled.get(op.id) === 'number')
      out.push({ op, rev: settled.get(op.id)! });
  }
  return out.sort((a, b) => a.rev - b.rev);
}
const okValueWrite = (op: LinOp) => op.status === 'ok' && op.type !== 'del';
const gets = (h: History, key?: string) =>
  h.ops.filter((o) => o.type === 'get' && o.status === 'ok' && (key === undefined || o.key === key));
/** P, then Q, in real time: Q began after P returned */
const forced = (p: LinOp, q: LinOp) => p.status === 'ok' && p.ret! < q.invoke;

type Plant = (h: History, pick: number) => boolean;
const choose = <T>(xs: T[], pick: number): T | undefined => (xs.length ? xs[pick % xs.length] : undefined);

/** A read returns an older value than one that was written, returned and seen before it began. */
const staleRead =
  (lagging: boolean): Plant =>
  (h, pick) => {
    const sites: [LinOp, { op: LinOp; rev: number }, { op: LinOp; rev: number }][] = [];
    for (const r of gets(h)) {
      const vs = versions(h, r.key);
      for (let i = 0; i + 1 < vs.length; i++) {
        const [p, q] = [vs[i], vs[i + 1]];
        if (!okValueWrite(p.op) || !forced(p.op, q.op) || !forced(q.op, r) || r.result === p.op.value) continue;
        if (!lagging && !gets(h, r.key).some((o) => o !== r && o.result === q.op.value)) continue;
        sites.push([r, p, q]);
      }
    }
    const site = choose(sites, pick);
    if (!site) return false;
    const [r, p, q] = site;
    Object.assign(r, { result: p.op.value, rev: p.rev }, lagging ? { header: q.rev - 1 } : {});
    return true;
  };

/** An acknowledged put that every read after it misses: they return the value before it. */
const lostWrite: Plant = (h, pick) => {
  const sites: [LinOp, { op: LinOp; rev: number }][] = [];
  for (const key of new Set(h.ops.map((o) => o.key))) {
    const vs = versions(h, key);
    for (let i = 1; i < vs.length; i++) {
      const [p, w] = [vs[i - 1], vs[i]];
      if (w.op.type !== 'put' || w.op.status !== 'ok' || !okValueWrite(p.op) || !forced(p.op, w.op)) continue;
      const seenBy = gets(h, key).filter((r) => r.result === w.op.value);
      const comparedBy = h.ops.some(
        (o) =>
          o.type === 'cas' &&
          o.key === key &&
          ('value' in o.expect! ? o.expect.value === w.op.value : o.expect!.modRevision === w.rev),
      );
      if (comparedBy || !seenBy.some((r) => forced(w.op, r))) continue;
      sites.push([w.op, p]);
    }
  }
  const site = choose(sites, pick);
  if (!site) return false;
  const [w, p] = site;
  for (const r of gets(h, w.key)) if (r.result === w.value) Object.assign(r, { result: p.op.value, rev: p.rev });
  return true;
};

/** A write gets the revision of the key's write before it. */
const duplicateRevision: Plant = (h, pick) => {
  const sites: [{ op: LinOp; rev: number }, { op: LinOp; rev: number }][] = [];
  for (const key of new Set(h.ops.map((o) => o.key))) {
    const vs = versions(h, key);
    for (let i = 1; i < vs.length; i++) if (vs[i].op.status === 'ok') sites.push([vs[i - 1], vs[i]]);
  }
  const site = choose(sites, pick);
  if (!site) return false;
  const [x, y] = site;
  for (const r of gets(h, y.op.key)) if (r.result === y.op.value) r.rev = x.rev;
  Object.assign(y.op, { rev: x.rev, header: x.rev });
  return true;
};

/** A read returns a value no write produced. */
const phantom: Plant = (h, pick) => {
  const r = choose(gets(h), pick);
  if (!r) return false;
  Object.assign(r, { result: `phantom-${r.id}`, rev: r.rev ?? r.header });
  return true;
};

/** A CAS succeeds comparing against a value the key had before a write that returned before it began. */
const casWrongState: Plant = (h, pick) => {
  const sites: [LinOp, string][] = [];
  for (const c of h.ops.filter((o) => o.type === 'cas' && o.status === 'ok' && o.result === true)) {
    const vs = versions(h, c.key).filter((v) => v.rev < c.rev!);
    for (let i = 0; i + 1 < vs.length; i++)
      if (okValueWrite(vs[i].op) && forced(vs[i].op, vs[i + 1].op) && forced(vs[i + 1].op, c))
        sites.push([c, vs[i].op.value!]);
  }
  const site = choose(sites, pick);
  if (!site) return false;
  site[0].expect = { value: site[1] };
  return true;
};

const plants: [string, Plant, FindingKind, boolean][] = [
  ['stale read (a newer value was seen)', staleRead(false), 'stale-read', true],
  ['stale read (a lagging member: old header)', staleRead(true), 'stale-read', true],
  ['lost write', lostWrite, 'lost-write', true],
  ['duplicate revision', duplicateRevision, 'duplicate-revision', false],
  ['read of a value never written', phantom, 'phantom-value', true],
  ['CAS succeeded against the wrong state', casWrongState, 'cas-mismatch', true],
];

t.test('(a) a correct etcd: no findings, linearizable', async (t) => {
  let unknown = 0;
  fc.assert(
    fc.property(arbHistory({ minOps: 10, maxOps: 200 }), (h) => {
      const v = stream(h.ops, h.settles);
      if (v.findings.length) throw new Error(`findings: ${JSON.stringify(v.findings.slice(0, 3))}`);
      const lin = search(h).linearizable;
      if (lin === 'unknown') unknown++;
      return lin !== false;
    }),
    { numRuns: NUM_RUNS },
  );
  rare(t, unknown, NUM_RUNS);
});

for (const [name, plant, kind, visible] of plants) {
  t.test(`(b) planted: ${name}`, async (t) => {
    let planted = 0;
    let unknown = 0;
    fc.assert(
      fc.property(arbHistory({ minOps: 60, maxOps: 200 }), fc.nat(), (clean, pick) => {
        const h = clone(clean);
        fc.pre(plant(h, pick));
        planted++;
        const v = stream(h.ops, h.settles);
        if (!v.findings.some((f) => f.kind === kind)) throw new Error(`no ${kind}: ${JSON.stringify(v.findings)}`);
        const lin = search(h).linearizable;
        if (lin === 'unknown') unknown++;
        return lin === 'unknown' || lin === !visible;
      }),
      { numRuns: Math.ceil(NUM_RUNS / 2) },
    );
    t.equal(planted, Math.ceil(NUM_RUNS / 2), 'planted in every run');
    rare(t, unknown, planted);
  });
}

/** Mutations of results that keep each read's mod revision naming the write of its value. */
const arbMutations = fc.array(
  fc.record({
    kind: fc.constantFrom('read-other', 'read-null', 'drop-write', 'cas-flip', 'swap-reads'),
    a: fc.nat(),
    b: fc.nat(),
  }),
  { minLength: 0, maxLength: 3 },
);
type Mutation = { kind: string; a: number; b: number };

function mutate(h: History, ms: Mutation[]): History {
  let ops = h.ops;
  for (const m of ms) {
    const rs = ops.filter((o) => o.type === 'get' && o.status === 'ok');
    const r = choose(rs, m.a);
    if (m.kind === 'read-other' && r) {
      const w = choose(
        versions({ ops, settles: h.settles }, r.key).filter((v) => v.op.type !== 'del'),
        m.b,
      );
      if (w) Object.assign(r, { result: w.op.value, rev: w.rev });
    } else if (m.kind === 'read-null' && r) Object.assign(r, { result: null, rev: undefined });
    else if (m.kind === 'swap-reads' && r) {
      const o = choose(
        rs.filter((x) => x.key === r.key),
        m.b,
      )!;
      [r.result, r.rev, o.result, o.rev] = [o.result, o.rev, r.result, r.rev];
    } else if (m.kind === 'drop-write') {
      const w = choose(
        ops.filter((o) => o.type !== 'get' && o.status === 'ok'),
        m.a,
      );
      if (w) ops = ops.filter((o) => o !== w);
    } else if (m.kind === 'cas-flip') {
      const c = choose(
        ops.filter((o) => o.type === 'cas' && o.status === 'ok'),
        m.a,
      );
      if (c && c.result === true) Object.assign(c, { result: false, header: c.rev, rev: undefined });
    }
  }
  return { ops, settles: h.settles.filter((s) => ops.some((o) => o.id === s.id)) };
}

/** Revisions re-derived from one key's linearization: the witness an etcd serving that order would give. */
function rewitness(h: History, key: string, order: number[]): History {
  const byId = new Map(h.ops.filter((o) => o.key === key).map((o) => [o.id, { ...o }]));
  const settles: History['settles'] = [];
  let rev = 1;
  let cur: { value: string; mod: number } | null = null;
  const write = (op: LinOp, value: string | null) => {
    rev++;
    cur = value === null ? null : { value, mod: rev };
    if (op.status === 'ok') Object.assign(op, { rev, header: rev });
    else settles.push({ id: op.id, rev });
  };
  for (const id of order) {
    const op = byId.get(id)!;
    const sure = op.status === 'ok';
    if (op.type === 'get') Object.assign(op, { header: rev, rev: cur?.mod });
    else if (op.type === 'put') write(op, op.value!);
    else if (op.type === 'del' && (sure ? op.result === 1 : cur !== null)) write(op, null);
    else if (op.type === 'cas' && (sure ? op.result === true : casHolds(op, cur))) write(op, op.value!);
    else if (sure) Object.assign(op, { header: rev, rev: undefined });
    else settles.push({ id: op.id, rev: null });
  }
  for (const s of h.settles) if (s.rev === null && byId.has(s.id)) settles.push(s);
  return { ops: [...byId.values()], settles };
}
const casHolds = (op: LinOp, cur: { value: string } | null) =>
  'value' in op.expect! && (op.expect.value === 'absent' ? cur === null : cur?.value === op.expect.value);

t.test('(c) the two checks agree on mutated histories', async (t) => {
  const seen = { linearizable: 0, not: 0, unknown: 0 };
  fc.assert(
    fc.property(arbHistory({ minOps: 10, maxOps: 80, casByRevision: 0 }), arbMutations, (clean, ms) => {
      const h = mutate(clone(clean), ms);
      const s = search(h);
      if (s.linearizable === 'unknown') return void seen.unknown++;
      if (s.linearizable === false) {
        seen.not++;
        return stream(h.ops, h.settles).findings.length > 0;
      }
      seen.linearizable++;
      for (const [key, order] of s.orders) {
        const w = rewitness(h, key, order);
        // the order's revisions for indeterminate writes are known at the end (a replay)
        const v = stream(w.ops, w.settles, true);
        if (v.findings.length) throw new Error(`${key}: ${JSON.stringify(v.findings.slice(0, 3))}`);
      }
      return true;
    }),
    { numRuns: NUM_RUNS * 2 },
  );
  t.ok(seen.linearizable > 0 && seen.not > 0, `both verdicts met: ${JSON.stringify(seen)}`);
  rare(t, seen.unknown, NUM_RUNS * 2);
});
