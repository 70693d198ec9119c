// The shapes of a run's per-window figures (computed in src/report/windows.ts from the 1-s series and
// the timeline's marks) and their rows in the terminal table. Times are epoch ms or ISO strings.
import { humanMs, nonZeroList } from '../util/human.js';

/** One span of seconds (baseline, during or recovery) of a window. */
export interface SpanFigures {
  /** seconds of series data in the span */
  seconds: number;
  /** ok puts' latency (due → ok), ms */
  put: { p50: number; p99: number; p999: number };
  /** watch delivery latency (the put's due → the event's arrival), ms */
  watch: { p99: number };
  /** ok / (ok + failed + indeterminate) × 100; null when no put was due in the span */
  putSuccessPct: number | null;
  indeterminate: { total: number; applied: number; notApplied: number };
  slips: number;
  /** puts due in the span, by outcome */
  puts: { ok: number; failed: number; indeterminate: number };
  leaderChanges: number;
}

/** The generator's own trouble in a window (during and recovery): never etcd's. */
export interface WindowGenerator {
  stalls: number;
  garbled: number;
  streamBreaks: number;
  /** report intervals overlapping the window in which the generator could not keep up */
  overloadedIntervals: number;
}

/** A feature workload's operations in a span: by result, ok %, and the ok ones' mean and max latency. */
export interface FeatureSpan {
  ok: number;
  failed: number;
  indeterminate: number;
  /** null when none answered in the span */
  okPct: number | null;
  meanMs: number | null;
  maxMs: number | null;
}

/** What a window did to one feature workload (registry, lock, election, config). */
export interface FeatureWindow {
  baseline: FeatureSpan | null;
  during: FeatureSpan;
  /** its checker's violations in the window (or within settle after), by check */
  violations: Record<string, number>;
  /** its anomalies (a fault's expected effects, not etcd's) in the window, by kind */
  anomalies: Record<string, number>;
}

export interface ViolationTally {
  byKind: Record<string, number>;
  total: number;
}

export interface WindowFigures {
  id: string;
  kind: string;
  target: string;
  scenario?: string;
  step?: string;
  start: string;
  end: string;
  durationMs: number;
  /** no end mark: the window ends at the last second of the series */
  unended?: boolean;
  leaderAtStart: string | null;
  termAtStart: number | null;
  leaderAtEnd: string | null;
  termAtEnd: number | null;
  /** leader marks from the start to the end of recovery */
  leaderChanges: number;
  /** up to 30 s before the start in which no other window was active; null when there is none */
  baseline: SpanFigures | null;
  during: SpanFigures;
  /** from the end until put p99 is back within 1.5× the baseline's (or the cap) */
  recovery: SpanFigures | null;
  /** from the start to the first ok answer of a put due at or after it (null: none) */
  firstOkPutMs: number | null;
  /** from the end to the first second whose put p99 ≤ 1.5× baseline p99 (null: not within the cap) */
  recoverMs: number | null;
  /** violations that happened while it was active or within `settle` after it ended */
  violations: ViolationTally;
  generator: WindowGenerator;
  /** the feature workloads that ran: what the window did to each */
  features?: Record<string, FeatureWindow>;
}

export interface UnattributedViolations extends ViolationTally {
  /** the first of them (exact marks), for reading */
  first: { at: string; kind: string; key: string; revision: number; watcher: number; detail: string }[];
}

const ms = (x: number | null | undefined) => (x === null || x === undefined ? '-' : x === 0 ? '0' : humanMs(x));
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '-' : `${x}%`);

/** The terminal table's rows of the windows: one line each. */
export function formatWindowRows(windows: readonly WindowFigures[], unattributed?: ViolationTally): string[] {
  if (!windows.length && !unattributed?.total) return [];
  const out = [
    `  fault windows (${windows.length})       duration  p99 before  p99 during   p99 after  ok during  leaders  recovered  violations`,
  ];
  for (const w of windows) {
    const name = `${w.kind} ${w.target}`;
    out.push(
      `  ${(name.length > 24 ? name.slice(0, 23) + '…' : name).padEnd(24)}${ms(w.durationMs).padStart(10)}${ms(w.baseline?.put.p99).padStart(12)}${ms(w.during.put.p99).padStart(12)}${ms(w.recovery?.put.p99).padStart(12)}${pct(w.during.putSuccessPct).padStart(11)}${String(w.leaderChanges).padStart(9)}${(w.recoverMs === null ? (w.baseline ? '> cap' : '-') : ms(w.recoverMs)).padStart(11)}${String(w.violations.total).padStart(12)}`,
    );
    for (const [name, f] of Object.entries(w.features ?? {})) out.push(`    ${name}: ${featureRow(f)}`);
  }
  if (unattributed?.total) out.push(`  violations outside every window: ${unattributed.total}`);
  return out;
}

/** "ok 92% (before 100%), mean 12ms max 2.1s; violations none; anomalies unsafeHold 2" */
export function featureRow(f: FeatureWindow): string {
  const d = f.during;
  const v = nonZeroList(f.violations);
  const a = nonZeroList(f.anomalies);
  return `ok ${pct(d.okPct)} (before ${pct(f.baseline?.okPct)}), ${d.ok + d.failed + d.indeterminate} ops, mean ${ms(d.meanMs)} max ${ms(d.maxMs)}; violations ${v || 'none'}${a ? `; anomalies ${a}` : ''}`;
}
