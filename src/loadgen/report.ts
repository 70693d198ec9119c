// Run reports: reports/<runId>/timeline.jsonl (one line per interval, appended synchronously so a crash
// loses at most one interval), summary.json at the end, and the human table.
import fs from 'node:fs';
import path from 'node:path';
import type { ViolationKind } from './checker.js';
import type { LoadProfile } from './profile.js';
import type { Percentiles } from './stats.js';

export interface LoadCounts {
  issued: number;
  ok: number;
  indeterminate: number;
  applied: number;
  notApplied: number;
  slips: number;
  events: number;
  resumes: number;
  compacted: number;
  /** report intervals in which the generator itself could not keep up */
  overloadedIntervals: number;
}

export interface TimelineLine {
  time: string;
  elapsed: number;
  targetRate: number;
  putRate: number;
  eventRate: number;
  put: Percentiles;
  watch: Percentiles;
  inFlight: number;
  /** this process's CPU over the interval, in cores */
  cpu: number;
  /** this process's resident memory in MiB (flat over a long run) */
  rssMB: number;
  /** p99 of this process's event-loop delay in ms */
  loopDelayP99: number;
  /** the generator could not keep up in this interval (CPU >= 0.9 core or loop delay p99 > 500 ms) */
  overloaded: boolean;
  counts: LoadCounts;
  violations: Record<ViolationKind, number>;
  watchers: Record<string, number>;
  activeFaults: unknown[];
}

export interface LoadStatus {
  runId: string;
  state: 'created' | 'starting' | 'running' | 'stopping' | 'stopped';
  startedAt?: string;
  elapsed: number;
  profile: LoadProfile;
  endpoints: string[];
  rates: { target: number; puts: number; events: number };
  inFlight: number;
  counts: LoadCounts;
  violations: Record<ViolationKind, number>;
  watchers: Record<string, number>;
  latency: { put: Percentiles; putError: Percentiles; watch: Percentiles };
  lastError?: string;
}

export interface LoadSummary extends LoadStatus {
  reason: string;
  endedAt: string;
  verdict: { ordered: 'held' | 'violated'; unique: 'held' | 'violated'; reliable: 'held' | 'violated'; unexpected: 'none' | 'seen' };
  averages: { putRate: number; eventRate: number };
  reportDir?: string;
}

export class ReportWriter {
  readonly dir: string;
  private readonly timeline: string;

  constructor(base: string, runId: string) {
    this.dir = path.resolve(base, runId);
    this.timeline = path.join(this.dir, 'timeline.jsonl');
  }

  start(meta: Record<string, unknown>): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'run.json'), JSON.stringify(meta, null, 2) + '\n');
  }

  appendInterval(line: TimelineLine): void {
    try {
      fs.appendFileSync(this.timeline, JSON.stringify(line) + '\n');
    } catch {
      // a full disk must not stop the load; the summary reports the directory
    }
  }

  finish(summary: LoadSummary): void {
    summary.reportDir = this.dir;
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  }
}

const f = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(3));

/** The end-of-run table for a terminal. */
export function formatSummaryTable(s: LoadSummary): string {
  const c = s.counts;
  const lat = (name: string, p: Percentiles) =>
    `  ${name.padEnd(14)}${String(p.count).padStart(9)}${f(p.p50).padStart(10)}${f(p.p90).padStart(10)}${f(p.p99).padStart(10)}${f(p.p999).padStart(10)}${f(p.max).padStart(10)}`;
  const v = s.violations;
  const lines = [
    `run ${s.runId} — ${s.reason} after ${s.elapsed}s (${s.endpoints.join(', ')})`,
    `  puts: ${c.ok} ok, ${c.indeterminate} indeterminate (${c.applied} applied, ${c.notApplied} not applied), ${c.slips} schedule slips; avg ${s.averages.putRate}/s (target ${s.profile.rate}/s)`,
    `  watch: ${c.events} events checked (avg ${s.averages.eventRate}/s), ${s.profile.watchers} watchers, ${c.resumes} resumes, ${c.compacted} compacted`,
    `  latency (ms)        count       p50       p90       p99     p99.9       max`,
    lat('put ok', s.latency.put),
    lat('put failed', s.latency.putError),
    lat('watch', s.latency.watch),
    `  guarantees: ordered ${s.verdict.ordered} (${v.ordered}), unique ${s.verdict.unique} (${v.unique}), reliable ${s.verdict.reliable} (${v.reliable}), unexpected events ${v.unexpected}`,
  ];
  if (c.overloadedIntervals) lines.push(`  WARNING: the generator could not keep up in ${c.overloadedIntervals} interval(s); "reliable" findings there may be its own lag`);
  if (s.reportDir) lines.push(`  report: ${s.reportDir}`);
  return lines.join('\n');
}

/** One status line for long runs. */
export function formatStatusLine(s: LoadStatus | TimelineLine): string {
  const isLine = 'putRate' in s;
  const puts = isLine ? s.putRate : s.rates.puts;
  const events = isLine ? s.eventRate : s.rates.events;
  const p99p = isLine ? s.put.p99 : s.latency.put.p99;
  const p99w = isLine ? s.watch.p99 : s.latency.watch.p99;
  const v = s.violations;
  const total = v.ordered + v.unique + v.reliable + v.unexpected;
  const w = s.watchers;
  return `[${s.elapsed}s] puts ${puts}/s p99 ${p99p}ms | events ${events}/s watch p99 ${p99w}ms | watchers ${w.watching ?? 0} ok ${w.resuming ?? 0} resuming | violations ${total}${total ? ` (${Object.entries(v).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ')})` : ''} | indeterminate ${s.counts.indeterminate}${isLine && s.overloaded ? ' | GENERATOR OVERLOADED' : ''}`;
}
