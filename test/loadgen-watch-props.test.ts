// The watch checker fed random multi-key histories: Txns writing random key sets at one revision,
// acknowledged or indeterminate, watchers on one key or the prefix from random start revisions, their
// events cut into random responses at revision boundaries (as etcd must), some watches resumed, true
// progress notifications, every event with its create_revision and prev_kv. A clean history gives no
// violation; one planted anomaly (a revision split across responses, a wrong create_revision, a wrong
// prev_kv, a late resume, an event at or below a progress notification) gives exactly one, of its kind.
import fc from 'fast-check';
import t from 'tap';
import { Checker, type Violation, type ViolationKind } from '../src/loadgen/checker.js';
import { encodeValue } from '../src/loadgen/value.js';
import type { Kv } from '../src/loadgen/wire/proto.js';

const RUN = 'abcdefgh';
const SETTLE = 1000;
const BASE = 10;
const NUM_RUNS = Number(process.env.PROPS_RUNS ?? 150);

const arb = fc.record({
  keys: fc.integer({ min: 2, max: 4 }),
  txns: fc.array(fc.record({ mask: fc.integer({ min: 1, max: 15 }), acked: fc.boolean() }), {
    minLength: 2,
    maxLength: 20,
  }),
  watchers: fc.array(
    fc.record({
      prefix: fc.boolean(),
      key: fc.nat(),
      start: fc.nat(),
      cuts: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 6 }),
      resumeAt: fc.option(fc.nat(), { nil: undefined }),
      progress: fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  pick: fc.nat(),
});
type Shape = typeof arb extends fc.Arbitrary<infer T> ? T : never;

interface Write {
  rev: number;
  key: number;
  seq: number;
  create: number;
  /** the previous write on the key (none: the key is created here) */
  prev?: Write;
}
interface Ev {
  w: Write;
  kv: Kv;
  prevKv?: Kv;
}
type Step =
  | { kind: 'response'; w: number; events: Ev[] }
  | { kind: 'progress'; w: number; rev: number }
  | { kind: 'resume'; w: number; from: number };

const value = (seq: number) => encodeValue(RUN, { writer: 0, seq, due: 1000 + seq }, 64);
const keyName = (k: number) => `/p/k${k}`;
const kvOf = (x: Write): Kv => ({
  key: Buffer.from(keyName(x.key)),
  value: value(x.seq),
  createRevision: x.create,
  modRevision: x.rev,
  version: 1,
});

function build(s: Shape) {
  const writes: Write[] = [];
  const last: (Write | undefined)[] = [];
  const acked = new Set<number>();
  let rev = BASE;
  let seq = 0;
  for (const tx of s.txns) {
    const keys = Array.from({ length: s.keys }, (_, k) => k).filter((k) => tx.mask & (1 << k));
    if (!keys.length) continue;
    for (const key of keys) {
      const prev = last[key];
      const x: Write = { rev, key, seq: ++seq, create: prev ? prev.create : rev, prev };
      writes.push(x);
      last[key] = x;
      if (tx.acked) acked.add(x.seq);
    }
    rev++;
  }
  const lastRev = rev - 1;
  const watchers = s.watchers.map((cfg, id) => {
    const start = BASE + (cfg.start % (lastRev - BASE + 2));
    const keys = cfg.prefix ? Array.from({ length: s.keys }, (_, k) => k) : [cfg.key % s.keys];
    const mine = writes.filter((x) => x.rev >= start && keys.includes(x.key));
    // responses cut at revision boundaries: `cuts` revisions per response
    const revs = [...new Set(mine.map((x) => x.rev))];
    const steps: Step[] = [];
    let resumed = false;
    for (let i = 0, c = 0; i < revs.length; c++) {
      const n = cfg.cuts[c % cfg.cuts.length];
      const take = new Set(revs.slice(i, i + n));
      i += n;
      const events = mine
        .filter((x) => take.has(x.rev))
        .map((x) => ({ w: x, kv: kvOf(x), prevKv: x.prev && kvOf(x.prev) }));
      steps.push({ kind: 'response', w: id, events });
      const upTo = i < revs.length ? revs[i] - 1 : lastRev;
      if (cfg.progress[c % cfg.progress.length]) steps.push({ kind: 'progress', w: id, rev: upTo });
      // a resume from just after what was delivered (the next response is the resumed watch's first)
      if (!resumed && cfg.resumeAt !== undefined && c === cfg.resumeAt % 4 && i < revs.length) {
        resumed = true;
        steps.push({ kind: 'resume', w: id, from: revs[i - 1] + 1 });
      }
    }
    return { id, prefix: cfg.prefix, keys, start, steps };
  });
  return { writes, acked, watchers, lastRev };
}
type Built = ReturnType<typeof build>;

function run(s: Shape, b: Built) {
  const violations: Violation[] = [];
  const c = new Checker({
    runId: RUN,
    keys: Array.from({ length: s.keys }, (_, k) => keyName(k)),
    settleMs: SETTLE,
    onViolation: (v) => violations.push(v),
  });
  c.maxKnownRev = BASE - 1;
  const ws = b.watchers.map((w) => c.addWatcher(w.id, 0, w.keys, w.prefix, w.start));
  for (const x of b.writes) c.registerPut(x.seq, x.key, 1000 + x.seq);
  for (const x of b.writes) if (b.acked.has(x.seq)) c.ack(x.seq, x.rev, 0);
  for (const x of b.writes) if (!b.acked.has(x.seq)) c.indeterminate(x.seq, 0);
  // the watchers' steps, interleaved round-robin
  const queues = b.watchers.map((w) => [...w.steps]);
  for (let open = true; open;) {
    open = false;
    for (const q of queues) {
      const st = q.shift();
      if (!st) continue;
      open = true;
      const w = ws[st.w];
      if (st.kind === 'progress') c.progress(w, st.rev, 0);
      else if (st.kind === 'resume') c.created(w, st.from, true);
      else {
        c.responseStart(w);
        for (const e of st.events) {
          const due = c.onEvent(w, e.w.key, e.kv.modRevision, e.kv.value, 0);
          if (due !== undefined && due >= 0) c.checkKv(w, e.w.key, e.kv, e.prevKv, true);
        }
      }
    }
  }
  c.sweep(SETTLE * 2);
  const on = (key: number, rev: number) => b.writes.some((x) => x.key === key && x.rev === rev);
  for (const q of c.takeQuestions()) c.recordSays(q.key, q.rev, on(q.key, q.rev) ? 'on-key' : 'not-on-key');
  c.sweep(SETTLE * 20, true);
  if (c.hasOpenQuestions()) for (const x of b.writes) c.replayEvent(x.key, x.rev, value(x.seq), SETTLE * 20);
  c.finish(SETTLE * 20, b.lastRev);
  return violations;
}

t.test('a clean multi-key history: no violation', async (t) => {
  fc.assert(
    fc.property(arb, (s) => {
      const v = run(s, build(s));
      if (v.length) throw new Error(JSON.stringify(v));
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass(`${NUM_RUNS} random histories`);
});

/** One anomaly planted in a watcher's steps: exactly one violation, of `kind`, at the planted revision. */
function planted(name: string, kind: ViolationKind, plant: (b: Built, s: Shape) => number | undefined): void {
  t.test(name, async (t) => {
    let planted = 0;
    fc.assert(
      fc.property(arb, (s) => {
        const b = build(s);
        const rev = plant(b, s);
        if (rev === undefined) return;
        planted++;
        const v = run(s, b);
        if (v.length !== 1 || v[0].kind !== kind || v[0].revision !== rev)
          throw new Error(`expected one ${kind} at ${rev}, got ${JSON.stringify(v)}`);
      }),
      { numRuns: NUM_RUNS },
    );
    t.ok(planted > 0, `${planted} histories with the anomaly planted`);
  });
}

const responses = (b: Built) =>
  b.watchers.flatMap((w) =>
    w.steps.filter((x): x is Extract<Step, { kind: 'response' }> => x.kind === 'response').map((r) => ({ w, r })),
  );

planted('a multi-key revision split across two responses: one atomic violation', 'atomic', (b, s) => {
  const hits = responses(b).filter(({ w, r }) => w.prefix && r.events.length >= 2);
  for (const { w, r } of hits.slice(s.pick % Math.max(hits.length, 1))) {
    const lastRev = r.events[r.events.length - 1].w.rev;
    const at = r.events.findIndex((e) => e.w.rev === lastRev);
    if (r.events.length - at < 2) continue;
    // the last revision's last event moves into a response of its own, right after
    const i = w.steps.indexOf(r);
    const moved = r.events.pop()!;
    w.steps.splice(i + 1, 0, { kind: 'response', w: w.id, events: [moved] });
    return lastRev;
  }
  return undefined;
});

/** events whose watcher delivered the key's previous write too (so the checker knows the key existed) */
const sawPrevious = (b: Built, depth: 1 | 2) =>
  responses(b).flatMap(({ w, r }) =>
    r.events.filter((e) => {
      const p = depth === 1 ? e.w.prev : e.w.prev?.prev;
      return p && w.start <= p.rev;
    }),
  );

planted('a wrong create_revision: one created violation', 'created', (b, s) => {
  const withPrev = sawPrevious(b, 1);
  if (!withPrev.length) return undefined;
  const e = withPrev[s.pick % withPrev.length];
  e.kv = { ...e.kv, createRevision: e.kv.modRevision };
  e.prevKv = undefined;
  return e.w.rev;
});

planted('a prev_kv of the wrong write: one created violation', 'created', (b, s) => {
  const deep = sawPrevious(b, 2);
  if (!deep.length) return undefined;
  const e = deep[s.pick % deep.length];
  e.prevKv = kvOf(e.w.prev!.prev!);
  return e.w.rev;
});

planted('a resume whose first response starts a revision late: one resumable violation', 'resumable', (b) => {
  for (const w of b.watchers) {
    const i = w.steps.findIndex((x) => x.kind === 'resume');
    if (i < 0) continue;
    const next = w.steps.slice(i + 1).find((x): x is Extract<Step, { kind: 'response' }> => x.kind === 'response');
    if (!next) continue;
    // a later event must come on the resumed watch (with none, nothing says where it started)
    if (next.events.length < 2) continue;
    const first = next.events[0].w.rev;
    // the first event owed is gone from the resumed watch (and any progress claiming it)
    next.events = next.events.slice(1);
    w.steps = w.steps.filter((x) => x.kind !== 'progress' || x.rev < first);
    return first;
  }
  return undefined;
});

planted('an event after a progress notification that claimed it: one bookmarkable violation', 'bookmarkable', (b) => {
  for (const w of b.watchers) {
    for (let i = 0; i + 1 < w.steps.length; i++) {
      const r = w.steps[i];
      if (r.kind !== 'response' || w.steps.slice(0, i).some((x) => x.kind === 'resume')) continue;
      const later = w.steps.slice(i + 1);
      if (later.some((x) => x.kind === 'resume')) continue;
      // a true progress at the response's last revision, sent before the response itself
      const rev = r.events[r.events.length - 1].w.rev;
      const priorEvents = w.steps.slice(0, i).some((x) => x.kind === 'response');
      const lastBefore = w.steps
        .slice(0, i)
        .filter((x): x is Extract<Step, { kind: 'progress' }> => x.kind === 'progress')
        .pop();
      if (lastBefore && lastBefore.rev > rev) continue;
      void priorEvents;
      w.steps.splice(i, 0, { kind: 'progress', w: w.id, rev });
      return r.events[0].w.rev;
    }
  }
  return undefined;
});
