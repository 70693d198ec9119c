// A run's thresholds judged against its live status or its end-of-run summary (the grammar is in
// schema/threshold.ts). A metric with nothing measured (no put answered yet, no put due, no fault
// window) has the value null and its threshold fails: a CI job that states it expects it measured.
// While the run goes, window thresholds wait for the end (their windows' figures are made then).
import { compare, parseThreshold, type Threshold } from '../schema/threshold.js';
import { humanMs } from '../util/human.js';
import type { Percentiles } from './stats.js';
import { violationTotal, type ViolationCounts } from './verdict.js';
import type { WindowFigures } from './window-figures.js';

/** What a threshold reads of a status or summary (report.ts's LoadStatus and LoadSummary are these). */
export interface JudgedRun {
  elapsed: number;
  counts: { ok: number; failed: number; indeterminate: number; slips: number; events: number };
  violations: ViolationCounts;
  generator: { stalls: number; garbled: number; streamBreaks: number; overloadedIntervals: number };
  findings: { late: number };
  latency: { put: Percentiles; putError: Percentiles; putSend?: Percentiles; watch: Percentiles };
  /** a summary's: the end of the run */
  endedAt?: string;
  windows?: WindowFigures[];
}

export interface ThresholdResult {
  expr: string;
  /** the measured value in the metric's unit (ms, %, count, per second); null: nothing measured */
  value: number | null;
  ok: boolean;
  /** a window threshold: the window that decided (the first failing one, else the worst) */
  window?: string;
  /** a window threshold on a live status: judged at the end */
  pending?: boolean;
}

const pct = (ok: number, due: number) => (due ? Math.round((ok / due) * 100000) / 1000 : null);

/** The run-wide metric's value from a status or summary. */
export function metricValue(metric: string, s: JudgedRun): number | null {
  const c = s.counts;
  const [head, tail] = metric.split('.') as [string, string | undefined];
  if (tail && (head === 'put' || head === 'watch' || head === 'putError' || head === 'putSend')) {
    const p = s.latency[head] as unknown as Record<string, number> | undefined;
    if (!p) return null;
    // no failed put, nothing sent late: their absence is the good case, not "unmeasured"
    if (!p.count) return head === 'putError' || head === 'putSend' ? 0 : null;
    return p[tail] ?? null;
  }
  const perSecond = (n: number) => (s.elapsed ? Math.round((n / s.elapsed) * 10) / 10 : null);
  if (head === 'violations' && tail) return s.violations[tail as keyof ViolationCounts] ?? 0;
  switch (metric) {
    case 'availability':
      return pct(c.ok, c.ok + c.failed + c.indeterminate);
    case 'violations':
      return violationTotal(s.violations);

    case 'puts.ok':
      return c.ok;
    case 'puts.failed':
      return c.failed;
    case 'indeterminate':
      return c.indeterminate;
    case 'slips':
      return c.slips;
    case 'events':
      return c.events;
    case 'late':
      return s.findings.late;
    case 'puts.rate':
      return perSecond(c.ok + c.indeterminate + c.failed);
    case 'events.rate':
      return perSecond(c.events);
    case 'generator.overloadedIntervals':
    case 'generator.stalls':
    case 'generator.streamBreaks':
    case 'generator.garbled':
      return s.generator[tail as keyof JudgedRun['generator']];
  }
  return null;
}

/** A window metric's value from one window's figures (during the window). */
export function windowValue(metric: string, w: WindowFigures): number | null {
  const d = w.during;
  switch (metric) {
    case 'put.p50':
    case 'put.p99':
    case 'put.p999':
      return d.seconds ? d.put[metric.slice(4) as 'p50' | 'p99' | 'p999'] : null;
    case 'watch.p99':
      return d.seconds ? d.watch.p99 : null;
    case 'availability':
      return d.putSuccessPct;
    case 'violations':
      return w.violations.total;
    case 'indeterminate':
      return d.indeterminate.total;
    case 'slips':
      return d.slips;
    case 'firstOkPut':
      return w.firstOkPutMs ?? Infinity;
    case 'recover':
      return w.recoverMs ?? Infinity;
  }
  return null;
}

function judgeWindows(t: Threshold, windows: readonly WindowFigures[]): ThresholdResult {
  const judged = windows
    .map((w) => ({ w, v: windowValue(t.metric, w) }))
    .filter((x): x is { w: WindowFigures; v: number } => x.v !== null);
  if (!judged.length) return { expr: t.expr, value: null, ok: false };
  const failing = judged.find((x) => !compare(x.v, t.op, t.value));
  // the worst: the largest against an upper bound, the smallest against a lower one
  const lower = t.op === '>' || t.op === '>=';
  const decider = failing ?? judged.reduce((a, b) => (lower ? (b.v < a.v ? b : a) : b.v > a.v ? b : a), judged[0]);
  return { expr: t.expr, value: decider.v, ok: !failing, window: decider.w.id };
}

/** Every threshold of the run judged; `passed` is whether all hold (none stated: true). */
export function judgeThresholds(
  exprs: readonly string[] | undefined,
  s: JudgedRun,
): { thresholds: ThresholdResult[]; passed: boolean } {
  const windows = s.windows;
  const live = s.endedAt === undefined;
  const thresholds = (exprs ?? []).map((text): ThresholdResult => {
    const t = parseThreshold(text);
    if (t.window) {
      if (live) return { expr: t.expr, value: null, ok: true, pending: true };
      return judgeWindows(t, windows ?? []);
    }
    const value = metricValue(t.metric, s);
    return { expr: t.expr, value, ok: value !== null && compare(value, t.op, t.value) };
  });
  return { thresholds, passed: thresholds.every((r) => r.ok) };
}

/** "12.3ms", "99.52%", "0", "-" */
export function formatThresholdValue(r: ThresholdResult): string {
  if (r.value === null) return r.pending ? 'at the end' : 'not measured';
  const t = parseThreshold(r.expr);
  if (t.unit === 'duration') return Number.isFinite(r.value) ? humanMs(r.value) : 'never';
  if (t.unit === 'percent') return `${r.value}%`;
  if (t.unit === 'rate') return `${r.value}/s`;
  return String(r.value);
}

/** The summary table's rows: one per threshold with ✓/✗ and the measured value. */
export function formatThresholdRows(results: readonly ThresholdResult[] | undefined, passed?: boolean): string[] {
  if (!results?.length) return [];
  return [
    `  thresholds: ${passed ? 'passed' : 'FAILED'}`,
    ...results.map(
      (r) =>
        `    ${r.pending ? '…' : r.ok ? '✓' : '✗'} ${r.expr.padEnd(32)} ${formatThresholdValue(r)}${r.window ? ` (window ${r.window})` : ''}`,
    ),
  ];
}
