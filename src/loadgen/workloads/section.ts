// What a feature workload (registry, lock, election, config) tells the run: its section of the status
// and of summary.json, its part of each status/timeline line, its operations (for the 1-s series and the
// metrics) and its anomalies. One shape for all four, so the summary table, the status line, the metrics
// and the report's window rows need no per-workload code.
import { nonZeroList } from '../../util/human.js';
import type { Percentiles } from '../stats.js';

export type OpResult = 'ok' | 'failed' | 'indeterminate';

/** One feature operation's end (a lease grant, a lock, a campaign, a config write, …). */
export interface WorkloadOpEvent {
  workload: string;
  op: string;
  result: OpResult;
  /** latency in ms (invoke → answer) */
  ms: number;
  /** monotonic ms of the answer */
  at: number;
}

/**
 * What a fault is expected to do and etcd does not promise against: holds of a lock that overlap in
 * wall-clock time under a pause (the Jepsen finding), a service that expired while its member was cut
 * off. Counted and put on the timeline with the window it happened in, never in the verdict.
 */
export interface WorkloadAnomaly {
  workload: string;
  kind: string;
  key: string;
  revision?: number;
  detail: string;
}

/** A violation, an unverified finding or an anomaly kept for reading. */
export interface WorkloadFinding {
  type: 'violation' | 'unverified' | 'anomaly';
  /** the check that failed (violation, unverified) or the anomaly's kind */
  check: string;
  /** ISO time it was found */
  at: string;
  key: string;
  revision: number;
  detail: string;
}

export interface OpCounts {
  ok: number;
  failed: number;
  indeterminate: number;
}

export interface WorkloadSection {
  /** how it was sized (from the profile) */
  setup: Record<string, number | string | boolean>;
  /** its operations by result */
  ops: Record<string, OpCounts>;
  /** other counts (registrations, grants, versions applied, …) */
  counts: Record<string, number>;
  /** each operation's latency (ok answers) and each judged figure (expiry, convergence, …), ms */
  latency: Record<string, Percentiles>;
  /** etcd's violations by check (every declared check is listed, 0 when it held) */
  violations: Record<string, number>;
  /**
   * findings by check made while a drop/corrupt fault was active on a link (or within `settle` after):
   * the bytes they rest on may be the fault's, so they are counted apart, not in the verdict
   */
  unverified: Record<string, number>;
  /** anomalies by kind: effects of faults, not etcd's (every declared kind listed) */
  anomalies: Record<string, number>;
  /** the first violations, unverified findings and anomalies */
  first: WorkloadFinding[];
  /** for people: what a figure means, which known etcd bug a finding matches */
  notes: string[];
}

/** A feature workload's part of a status line (`text`) and of a timeline line (`fields`, also gauges). */
export interface WorkloadLine {
  text: string;
  fields: Record<string, number>;
}

export function sectionViolations(s: WorkloadSection): number {
  return sum(s.violations);
}

/** findings counted apart because a drop/corrupt fault may have garbled what they rest on */
export function sectionUnverified(s: WorkloadSection): number {
  // summaries written before the field existed have none
  return sum(s.unverified ?? {});
}

function sum(r: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(r)) n += v;
  return n;
}

const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)}s` : `${Math.round(x * 10) / 10}ms`);

/** The summary table's rows of one feature workload. */
export function formatSectionRows(name: string, s: WorkloadSection): string[] {
  const ops = Object.entries(s.ops)
    .map(([op, c]) => `${op} ${c.ok}${c.failed || c.indeterminate ? `/${c.failed}f/${c.indeterminate}i` : ''}`)
    .join(', ');
  const counts = nonZeroList(s.counts);
  const v = sectionViolations(s);
  const a = nonZeroList(s.anomalies);
  const u = nonZeroList(s.unverified ?? {});
  const out = [
    `  ${name}: ${ops || 'no operations'}${counts ? ` | ${counts}` : ''}`,
    `    checks: ${[
      v ? `VIOLATED (${nonZeroList(s.violations)})` : u ? '' : `held (${Object.keys(s.violations).join(', ')})`,
      u && `unverified (a drop/corrupt fault may have garbled them): ${u}`,
      a && `anomalies (not etcd's): ${a}`,
    ]
      .filter(Boolean)
      .join(' | ')}`,
  ];
  const lat = Object.entries(s.latency).filter(([, p]) => p.count);
  // three figures a line: a workload has up to a dozen
  for (let i = 0; i < lat.length; i += 3)
    out.push(
      `    ${i ? '       ' : 'latency'}: ${lat
        .slice(i, i + 3)
        .map(([k, p]) => `${k} p50 ${ms(p.p50)} p99 ${ms(p.p99)} max ${ms(p.max)}`)
        .join('; ')}`,
    );
  for (const f of s.first.slice(0, 5)) out.push(`    ${f.type} ${f.check} ${f.key} @${f.revision}: ${f.detail}`);
  for (const n of s.notes.slice(0, 5)) out.push(`    note: ${n}`);
  return out;
}
