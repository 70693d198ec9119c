// The watch checker fed random histories: random puts over keys (acknowledged, indeterminate and
// applied, indeterminate and lost, never sent), watchers on one key or the prefix from random start
// revisions, their events cut into random responses interleaved with the acknowledgements, and
// progress notifications where they are true. A clean history yields no violation; one planted
// anomaly yields exactly one, naming its kind, key, revision and watcher.
import fc from 'fast-check';
import t from 'tap';
import { Checker, type Violation } from '../src/loadgen/checker.js';
import { encodeValue } from '../src/loadgen/value.js';

const RUN = 'abcdefgh';
const SETTLE = 1000;
const BASE = 10;
const NUM_RUNS = Number(process.env.PROPS_RUNS ?? 150);

type Fate = 'acked' | 'applied' | 'lost' | 'unsent';
interface Ev {
  key: number;
  rev: number;
  seq: number;
  /** another value than the put's (a planted wrong value) */
  value?: Buffer;
}
type Step = { kind: 'put'; seq: number } | { kind: 'events'; w: number; events: Ev[]; progress?: number };

const arb = fc.record({
  keys: fc.integer({ min: 1, max: 3 }),
  fates: fc.array(fc.constantFrom<Fate>('acked', 'acked', 'acked', 'applied', 'lost', 'unsent'), {
    minLength: 1,
    maxLength: 30,
  }),
  putKeys: fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
  watchers: fc.array(
    fc.record({
      prefix: fc.boolean(),
      key: fc.nat(),
      start: fc.nat(),
      chunks: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 8 }),
      progress: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  ackOrder: fc.array(fc.nat(), { minLength: 30, maxLength: 30 }),
  choices: fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
});
type Shape = typeof arb extends fc.Arbitrary<infer T> ? T : never;

const value = (seq: number) => encodeValue(RUN, { writer: 0, seq, due: 1000 + seq }, 64);
const keyName = (k: number) => `/p/k${k}`;

/** The history a shape describes: etcd's record, and what each watcher should see. */
function build(s: Shape) {
  const puts = s.fates.map((fate, i) => ({ seq: i + 1, key: s.putKeys[i] % s.keys, fate, rev: 0 }));
  const truth = new Map<number, { key: number; seq: number }>();
  let rev = BASE;
  for (const p of puts) if (p.fate === 'acked' || p.fate === 'applied') truth.set((p.rev = rev++), p);
  const watchers = s.watchers.map((w, id) => {
    const start = BASE + (w.start % (truth.size + 1));
    const keys = w.prefix ? Array.from({ length: s.keys }, (_, k) => k) : [w.key % s.keys];
    const events: Ev[] = [];
    for (const [r, p] of truth) if (r >= start && keys.includes(p.key)) events.push({ key: p.key, rev: r, seq: p.seq });
    return { id, prefix: w.prefix, keys, start, events };
  });
  return { puts, truth, watchers, lastRev: rev - 1 };
}

type Built = ReturnType<typeof build>;

/** Cuts each watcher's events into responses (with a progress notification after some) and interleaves them with the puts' outcomes. */
function schedule(s: Shape, b: Built, progressOk = true): Step[] {
  const queues: Step[][] = [];
  const order = [...b.puts].sort((x, y) => s.ackOrder[x.seq - 1] - s.ackOrder[y.seq - 1] || x.seq - y.seq);
  queues.push(order.map((p) => ({ kind: 'put', seq: p.seq })));
  for (const w of b.watchers) {
    const cfg = s.watchers[w.id];
    const q: Step[] = [];
    for (let i = 0, c = 0; i < w.events.length; c++) {
      const n = cfg.chunks[c % cfg.chunks.length];
      const events = w.events.slice(i, i + n);
      i += n;
      const step: Step = { kind: 'events', w: w.id, events };
      // true progress: everything up to just before the watcher's next event was sent
      if (progressOk && cfg.progress[c % cfg.progress.length])
        step.progress = i < w.events.length ? w.events[i].rev - 1 : b.lastRev;
      q.push(step);
    }
    queues.push(q);
  }
  const out: Step[] = [];
  for (let n = 0; ; n++) {
    const open = queues.filter((q) => q.length);
    if (!open.length) return out;
    out.push(open[s.choices[n % s.choices.length] % open.length].shift()!);
  }
}

/** Runs a schedule through a checker, then settles it against the truth as the run's end does. */
function run(s: Shape, b: Built, steps: Step[], extra?: (c: Checker, ws: ReturnType<Checker['addWatcher']>[]) => void) {
  const violations: Violation[] = [];
  const settled = new Map<number, boolean>();
  const c = new Checker({
    runId: RUN,
    keys: Array.from({ length: s.keys }, (_, k) => keyName(k)),
    settleMs: SETTLE,
    onViolation: (v) => violations.push(v),
    onSettled: (p, applied) => settled.set(p.seq, applied),
  });
  c.maxKnownRev = BASE - 1;
  const ws = b.watchers.map((w) => c.addWatcher(w.id, 0, w.keys, w.prefix, w.start));
  for (const p of b.puts) c.registerPut(p.seq, p.key, 1000 + p.seq);
  const dues: [number, number | undefined][] = [];
  for (const st of steps) {
    if (st.kind === 'put') {
      const p = b.puts[st.seq - 1];
      if (p.fate === 'acked') c.ack(p.seq, p.rev, 0);
      else if (p.fate === 'unsent') c.notSent(p.seq);
      else c.indeterminate(p.seq, 0);
      continue;
    }
    for (const e of st.events) dues.push([1000 + e.seq, c.onEvent(ws[st.w], e.key, e.rev, e.value ?? value(e.seq), 0)]);
    if (st.progress !== undefined) c.progress(ws[st.w], st.progress, 0);
  }
  extra?.(c, ws);
  c.sweep(SETTLE * 2);
  for (const q of c.takeQuestions())
    c.recordSays(q.key, q.rev, b.truth.get(q.rev)?.key === q.key ? 'on-key' : 'not-on-key');
  c.sweep(SETTLE * 20, true);
  if (c.hasOpenQuestions()) for (const [r, p] of b.truth) c.replayEvent(p.key, r, value(p.seq), SETTLE * 20);
  c.finish(SETTLE * 20, b.lastRev);
  return { c, violations, settled, dues };
}

const lastOnKey = (b: Built) => (k: number) => {
  let last = 0;
  for (const [r, p] of b.truth) if (p.key === k) last = r;
  return last;
};

/** fast-check's verdict as one tap assertion; a failure shows the shrunk counterexample and what it gave */
function holds<T extends unknown[]>(
  t: Tap.Test,
  name: string,
  arbs: { [K in keyof T]: fc.Arbitrary<T[K]> },
  check: (...args: T) => string | undefined,
) {
  const out = fc.check(
    fc.property(...(arbs as never as [fc.Arbitrary<unknown>]), (...a: unknown[]) => check(...(a as T)) === undefined),
    { numRuns: NUM_RUNS },
  );
  const ce = out.counterexample as T | null;
  t.ok(!out.failed, name, out.failed && ce ? { counterexample: JSON.stringify(ce), got: check(...ce) } : {});
}

t.test('a clean history: no violation, every indeterminate put settled right, nobody behind', async (t) => {
  holds(t, 'no violation, settled right, nobody behind', [arb], (s) => {
    const b = build(s);
    const r = run(s, b, schedule(s, b));
    const wrongDue = r.dues.filter(([due, got]) => got !== due);
    const wrongSettle = b.puts.filter(
      (p) => (p.fate === 'applied' || p.fate === 'lost') && r.settled.get(p.seq) !== (p.fate === 'applied'),
    );
    const behind = r.c.behind(lastOnKey(b));
    if (r.violations.length || wrongDue.length || wrongSettle.length || behind.length || r.c.outstanding())
      return JSON.stringify({ violations: r.violations, wrongDue, wrongSettle, behind });
    return undefined;
  });
});

/** One planted anomaly in one watcher's events: exactly one violation, naming it. */
function planted(
  name: string,
  kind: Violation['kind'],
  plant: (events: Ev[], pick: number) => { events: Ev[]; at: Ev; progress?: number } | undefined,
) {
  t.test(name, async (t) => {
    holds(t, `${kind}: caught once, with key, revision and watcher`, [arb, fc.nat(), fc.nat()], (s, which, pick) => {
      const b = build(s);
      const w = b.watchers[which % b.watchers.length];
      const p = plant(w.events, pick);
      fc.pre(p !== undefined);
      w.events = p!.events;
      // progress notifications only where planted: an unplanned one past a removed event would catch it too
      const steps = schedule(s, b, false);
      const r = run(s, b, steps, (c, ws) => {
        if (p!.progress !== undefined) c.progress(ws[w.id], p!.progress, 0);
      });
      const want = { kind, key: keyName(p!.at.key), revision: p!.at.rev, watcher: w.id };
      const got = r.violations.map((v) => ({ kind: v.kind, key: v.key, revision: v.revision, watcher: v.watcher }));
      if (got.length === 1 && JSON.stringify(got[0]) === JSON.stringify(want)) return undefined;
      return `want ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
    });
  });
}

planted('a skipped revision (a later event follows) is one reliable violation', 'reliable', (events, pick) => {
  if (events.length < 2) return undefined;
  const i = pick % (events.length - 1);
  return { events: events.filter((_, j) => j !== i), at: events[i] };
});

planted('a duplicate is one unique violation', 'unique', (events, pick) => {
  if (!events.length) return undefined;
  const i = pick % events.length;
  const j = i + 1 + (pick % (events.length - i));
  return { events: [...events.slice(0, j), { ...events[i] }, ...events.slice(j)], at: events[i] };
});

planted('an out-of-order event is one ordered violation', 'ordered', (events, pick) => {
  if (events.length < 2) return undefined;
  const i = pick % (events.length - 1);
  const out = [...events];
  [out[i], out[i + 1]] = [out[i + 1], out[i]];
  return { events: out, at: events[i] };
});

planted('a wrong value is one unexpected event', 'unexpected', (events, pick) => {
  if (!events.length) return undefined;
  const i = pick % events.length;
  const out = [...events];
  out[i] = { ...out[i], value: value(9999) };
  return { events: out, at: events[i] };
});

planted('an event missing before a progress notification is one reliable violation', 'reliable', (events) => {
  if (!events.length) return undefined;
  const last = events[events.length - 1];
  return { events: events.slice(0, -1), at: last, progress: last.rev };
});
