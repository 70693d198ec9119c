// What each fault window cost, from the 1-s series and the timeline's marks (pure: no clock, no files).
// A window is a start/end pair of window marks (by id and target); one without an end ends with the
// series. Its baseline is the up to 30 s before it in which no other window was active; during is its
// own span; recovery runs from its end to the first second whose put p99 is back within 1.5× the
// baseline's (capped at 60 s or the next window's start). Violations go to every window active when
// they happened or ended within `settle` before them; the rest are unattributed.
import type { TimelineMark } from '../loadgen/events.js';
import type {
  FeatureSpan,
  FeatureWindow,
  SpanFigures,
  UnattributedViolations,
  ViolationTally,
  WindowFigures,
} from '../loadgen/window-figures.js';
import { addFeature, emptyFeature, mergeLatency, secondLatency, type Second } from './series.js';

export const BASELINE_MS = 30_000;
export const RECOVERY_CAP_MS = 60_000;
export const RECOVERED_FACTOR = 1.5;

type WindowMark = Extract<TimelineMark, { mark: 'window' }>;
type LeaderMark = Extract<TimelineMark, { mark: 'leader' }>;
type ViolationMark = Extract<TimelineMark, { mark: 'violation' }>;
type AnomalyMark = Extract<TimelineMark, { mark: 'anomaly' }>;

export interface WindowInputs {
  /** the series, one entry per second (series.ts secondsOf), in time order */
  seconds: readonly Second[];
  marks: readonly TimelineMark[];
  /** the profile's settle, ms */
  settleMs: number;
  /** the timeline's report intervals: their end (epoch ms) and whether the generator was overloaded */
  intervals?: readonly { end: number; overloaded: boolean }[];
  intervalMs?: number;
}

export interface WindowReport {
  windows: WindowFigures[];
  unattributed: UnattributedViolations;
}

interface Span {
  id: string;
  kind: string;
  target: string;
  scenario?: string;
  step?: string;
  start: number;
  end: number;
  unended: boolean;
  startMark: WindowMark;
  endMark?: WindowMark;
}

/** Pairs window marks into spans: by id and target, else by id; unended ones end at `lastMs`. */
export function pairWindows(marks: readonly TimelineMark[], lastMs: number): Span[] {
  const ws = marks.filter((m): m is WindowMark => m.mark === 'window').sort((a, b) => a.at - b.at);
  const open: Span[] = [];
  const out: Span[] = [];
  for (const m of ws) {
    if (m.edge === 'start') {
      const s: Span = {
        id: m.id,
        kind: m.kind,
        target: m.target,
        scenario: m.scenario,
        step: m.step,
        start: m.at,
        end: m.at,
        unended: true,
        startMark: m,
      };
      open.push(s);
      out.push(s);
      continue;
    }
    let i = open.findIndex((s) => s.id === m.id && s.target === m.target);
    if (i < 0) i = open.findIndex((s) => s.id === m.id);
    if (i < 0) continue;
    const s = open.splice(i, 1)[0];
    s.end = Math.max(m.at, s.start);
    s.unended = false;
    s.endMark = m;
  }
  for (const s of open) s.end = Math.max(s.start, lastMs);
  return out;
}

class SecondIndex {
  readonly by = new Map<number, Second>();
  readonly first: number;
  readonly last: number;
  private readonly p99 = new Map<number, number | null>();

  constructor(readonly seconds: readonly Second[]) {
    for (const s of seconds) this.by.set(s.t, s);
    this.first = seconds.length ? seconds[0].t : 0;
    this.last = seconds.length ? seconds[seconds.length - 1].t : -1;
  }

  /** one second's put p99 (null: no ok put due in it) */
  putP99(t: number): number | null {
    if (!this.p99.has(t)) {
      const s = this.by.get(t);
      this.p99.set(t, s?.put.length ? secondLatency(s, 'put').p99 : null);
    }
    return this.p99.get(t)!;
  }
}

const secOf = (ms: number) => Math.floor(ms / 1000);
/** the last second overlapping [start, end] (at least the start's) */
const lastSecOf = (start: number, end: number) => Math.max(secOf(start), Math.ceil(end / 1000) - 1);

function spanFigures(idx: SecondIndex, secs: readonly number[], leaders: readonly LeaderMark[]): SpanFigures {
  const put: string[] = [];
  const watch: string[] = [];
  const f: SpanFigures = {
    seconds: 0,
    put: { p50: 0, p99: 0, p999: 0 },
    watch: { p99: 0 },
    putSuccessPct: null,
    indeterminate: { total: 0, applied: 0, notApplied: 0 },
    slips: 0,
    puts: { ok: 0, failed: 0, indeterminate: 0 },
    leaderChanges: 0,
  };
  for (const t of secs) {
    const s = idx.by.get(t);
    if (!s) continue;
    f.seconds++;
    f.puts.ok += s.ok;
    f.puts.failed += s.failed;
    f.puts.indeterminate += s.indeterminate;
    f.indeterminate.applied += s.applied;
    f.indeterminate.notApplied += s.notApplied;
    f.slips += s.slips;
    put.push(...s.put);
    watch.push(...s.watch);
  }
  f.indeterminate.total = f.puts.indeterminate;
  const due = f.puts.ok + f.puts.failed + f.puts.indeterminate;
  if (due) f.putSuccessPct = Math.round((f.puts.ok / due) * 1000) / 10;
  const p = mergeLatency(put);
  f.put = { p50: p.p50, p99: p.p99, p999: p.p999 };
  f.watch = { p99: mergeLatency(watch).p99 };
  if (secs.length) {
    const from = secs[0] * 1000;
    const to = (secs[secs.length - 1] + 1) * 1000;
    f.leaderChanges = leaders.filter((l) => isChange(l) && l.at >= from && l.at < to).length;
  }
  return f;
}

const range = (a: number, b: number) => (b < a ? [] : Array.from({ length: b - a + 1 }, (_, i) => a + i));

/** the first leader mark of a run says who led (previous null); only the later ones are changes */
const isChange = (l: LeaderMark) => l.previous !== null;

function leaderAt(leaders: readonly LeaderMark[], at: number): { leader: string | null; term: number | null } {
  let found: LeaderMark | undefined;
  for (const l of leaders) if (l.at <= at) found = l;
  return found ? { leader: found.leader, term: found.term } : { leader: null, term: null };
}

function tally(): ViolationTally {
  return { byKind: {}, total: 0 };
}

function add(t: ViolationTally, kind: string, n: number): void {
  t.byKind[kind] = (t.byKind[kind] ?? 0) + n;
  t.total += n;
}

/** The violations: the exact marks, then per-second counts for what the marks' cap left out. */
function violationsOf(idx: SecondIndex, marks: readonly TimelineMark[]) {
  const exact = marks.filter((m): m is ViolationMark => m.mark === 'violation').sort((a, b) => a.at - b.at);
  const perSecond: { t: number; kind: string; n: number }[] = [];
  let seriesTotal = 0;
  for (const s of idx.seconds) for (const n of Object.values(s.violations)) seriesTotal += n;
  if (seriesTotal > exact.length) {
    // the marks were capped: the seconds from the last mark's on are counted from the series
    const from = exact.length ? secOf(exact[exact.length - 1].at) : -Infinity;
    const marked = new Map<string, number>();
    for (const m of exact) if (secOf(m.at) === from) marked.set(m.kind, (marked.get(m.kind) ?? 0) + 1);
    for (const s of idx.seconds) {
      if (s.t < from) continue;
      for (const [kind, n] of Object.entries(s.violations)) {
        const extra = n - (s.t === from ? (marked.get(kind) ?? 0) : 0);
        if (extra > 0) perSecond.push({ t: s.t, kind, n: extra });
      }
    }
  }
  return { exact, perSecond };
}

export function windowFigures(inp: WindowInputs): WindowReport {
  const idx = new SecondIndex(inp.seconds);
  const lastMs = (idx.last + 1) * 1000;
  const spans = pairWindows(inp.marks, lastMs);
  const leaders = inp.marks.filter((m): m is LeaderMark => m.mark === 'leader').sort((a, b) => a.at - b.at);
  const others = (w: Span, t: number) => spans.some((v) => v !== w && v.start < (t + 1) * 1000 && v.end > t * 1000);
  const windows: { span: Span; fig: WindowFigures; until: number }[] = [];
  for (const w of spans) {
    const startSec = secOf(w.start);
    const baseSecs = range(Math.max(startSec - BASELINE_MS / 1000, idx.first), startSec - 1).filter(
      (t) => idx.by.has(t) && !others(w, t),
    );
    const baseline = baseSecs.length ? spanFigures(idx, baseSecs, leaders) : null;
    const duringSecs = range(startSec, lastSecOf(w.start, w.end));
    const during = spanFigures(idx, duringSecs, leaders);
    // recovery: from the second after the window's last one, up to the cap
    const next = spans.filter((v) => v !== w && v.start >= w.end).reduce((m, v) => Math.min(m, v.start), Infinity);
    const capMs = Math.min(w.end + RECOVERY_CAP_MS, next, lastMs);
    const r0 = duringSecs[duringSecs.length - 1] + 1;
    const recSecs: number[] = [];
    let recoverMs: number | null = null;
    const bar = baseline && baseline.puts.ok ? baseline.put.p99 * RECOVERED_FACTOR : null;
    for (let t = r0; t * 1000 < capMs; t++) {
      recSecs.push(t);
      const p99 = bar === null ? null : idx.putP99(t);
      if (bar !== null && p99 !== null && p99 <= bar) {
        recoverMs = Math.max(0, t * 1000 - w.end);
        break;
      }
    }
    const recovery = recSecs.some((t) => idx.by.has(t)) ? spanFigures(idx, recSecs, leaders) : null;
    const until = Math.max(w.end, recSecs.length ? (recSecs[recSecs.length - 1] + 1) * 1000 : w.end);
    const atStart = leaderAt(leaders, w.start);
    const atEnd = leaderAt(leaders, w.end);
    const gen = { stalls: 0, garbled: 0, streamBreaks: 0, overloadedIntervals: 0 };
    for (const t of [...duringSecs, ...recSecs]) {
      const s = idx.by.get(t);
      if (!s) continue;
      gen.stalls += s.generator.stalls;
      gen.garbled += s.generator.garbled;
      gen.streamBreaks += s.generator.streamBreaks;
    }
    const iv = inp.intervalMs ?? 5000;
    gen.overloadedIntervals = (inp.intervals ?? []).filter(
      (i) => i.overloaded && i.end > w.start && i.end - iv < until,
    ).length;
    windows.push({
      span: w,
      until,
      fig: {
        id: w.id,
        kind: w.kind,
        target: w.target,
        ...(w.scenario !== undefined && { scenario: w.scenario }),
        ...(w.step !== undefined && { step: w.step }),
        start: new Date(w.start).toISOString(),
        end: new Date(w.end).toISOString(),
        durationMs: w.end - w.start,
        ...(w.unended && { unended: true }),
        leaderAtStart: w.startMark.leader !== undefined ? w.startMark.leader : atStart.leader,
        termAtStart: w.startMark.term ?? atStart.term,
        leaderAtEnd: w.endMark?.leader !== undefined ? w.endMark.leader : atEnd.leader,
        termAtEnd: w.endMark?.term ?? atEnd.term,
        leaderChanges: leaders.filter((l) => isChange(l) && l.at >= w.start && l.at < until).length,
        baseline,
        during,
        recovery,
        firstOkPutMs: firstOkPut(idx, w),
        recoverMs,
        violations: tally(),
        generator: gen,
      },
    });
  }
  const unattributed: UnattributedViolations = { ...tally(), first: [] };
  const { exact, perSecond } = violationsOf(idx, inp.marks);
  for (const v of exact) {
    const hit = windows.filter((x) => x.span.start <= v.at && v.at <= x.span.end + inp.settleMs);
    for (const x of hit) add(x.fig.violations, v.kind, 1);
    if (hit.length) continue;
    add(unattributed, v.kind, 1);
    if (unattributed.first.length < 20)
      unattributed.first.push({
        at: new Date(v.at).toISOString(),
        kind: v.kind,
        key: v.key,
        revision: v.revision,
        watcher: v.watcher,
        detail: v.detail,
      });
  }
  for (const v of perSecond) {
    // a second's count: any overlap of the second with the window and its settle tail
    const hit = windows.filter((x) => x.span.start < (v.t + 1) * 1000 && v.t * 1000 <= x.span.end + inp.settleMs);
    for (const x of hit) add(x.fig.violations, v.kind, v.n);
    if (!hit.length) add(unattributed, v.kind, v.n);
  }
  attributeFeatures(idx, windows, inp, exact);
  return { windows: windows.map((x) => x.fig), unattributed };
}

/** A feature workload's operations over some seconds. */
function featureSpan(idx: SecondIndex, secs: readonly number[], name: string): FeatureSpan {
  const acc = emptyFeature();
  for (const t of secs) {
    const f = idx.by.get(t)?.features[name];
    if (f) addFeature(acc, f);
  }
  const n = acc.ok + acc.failed + acc.indeterminate;
  return {
    ok: acc.ok,
    failed: acc.failed,
    indeterminate: acc.indeterminate,
    okPct: n ? Math.round((acc.ok / n) * 1000) / 10 : null,
    meanMs: acc.ok ? Math.round((acc.okMs / acc.ok) * 10) / 10 : null,
    maxMs: acc.ok ? Math.round(acc.maxMs * 10) / 10 : null,
  };
}

/**
 * Each window's part per feature workload that ran: its operations during the window and in the
 * baseline, the workload's violations (by check) and anomalies (by kind) while it was active or within
 * settle after.
 */
function attributeFeatures(
  idx: SecondIndex,
  windows: { span: Span; fig: WindowFigures }[],
  inp: WindowInputs,
  violations: readonly ViolationMark[],
): void {
  const names = new Set<string>();
  for (const s of idx.seconds) for (const w of Object.keys(s.features)) names.add(w);
  const anomalies = inp.marks.filter((m): m is AnomalyMark => m.mark === 'anomaly');
  for (const m of anomalies) names.add(m.workload);
  for (const v of violations) if (v.check !== undefined) names.add(v.kind);
  if (!names.size) return;
  const within = (w: Span, at: number) => w.start <= at && at <= w.end + inp.settleMs;
  for (const { span, fig } of windows) {
    const startSec = secOf(span.start);
    const during = range(startSec, lastSecOf(span.start, span.end));
    const base = range(Math.max(startSec - BASELINE_MS / 1000, idx.first), startSec - 1).filter((t) => idx.by.has(t));
    const features: Record<string, FeatureWindow> = {};
    for (const name of names) {
      const baseline = base.length ? featureSpan(idx, base, name) : null;
      features[name] = {
        baseline: baseline && baseline.okPct !== null ? baseline : null,
        during: featureSpan(idx, during, name),
        violations: {},
        anomalies: {},
      };
    }
    for (const v of violations)
      if (v.check !== undefined && features[v.kind] && within(span, v.at))
        features[v.kind].violations[v.check] = (features[v.kind].violations[v.check] ?? 0) + 1;
    for (const a of anomalies)
      if (features[a.workload] && within(span, a.at))
        features[a.workload].anomalies[a.kind] = (features[a.workload].anomalies[a.kind] ?? 0) + 1;
    fig.features = features;
  }
}

/**
 * From the start to the first ok answer of a put due at or after it: exact when the series saw the
 * window's start mark, else from the seconds' earliest answers (1-s resolution in the start's second).
 */
function firstOkPut(idx: SecondIndex, w: Span): number | null {
  const start = w.start;
  const exact = idx.by.get(secOf(start))?.firstOk.find((x) => x.id === w.id && x.target === w.target);
  if (exact) return Math.max(0, exact.at - start);
  let best = Infinity;
  for (let t = secOf(start); t <= idx.last && t * 1000 < best; t++) {
    const at = idx.by.get(t)?.firstOkAt;
    // puts due in the start's own second may predate it: their answers count only from the start on
    if (at !== undefined && at >= start && at < best) best = at;
  }
  return best === Infinity ? null : best - start;
}
