// Run reports: reports/<runId>/run.json at the start, timeline.jsonl (one line per interval, and one per
// mark: fault windows, leader changes, scenarios, violations; appended synchronously so a crash loses at
// most one interval), summary.json at the end.
import fs from 'node:fs';
import path from 'node:path';
import type { Observer, TimelineMark } from '../events.js';
import type { LoadSummary, TimelineLine } from '../report.js';
import type { Clock } from '../../util/clock.js';
import type { LatencyStats } from '../stats.js';
import type { Violation } from '../verdict.js';
import { KvHistoryWriter } from './kv-history.js';
import { SeriesWriter, type SeriesCounters } from './series.js';

/** violation marks written to timeline.jsonl at most (the counts stay exact in the series and summary) */
export const VIOLATION_MARKS_CAP = 10_000;

export interface ReportWriterOptions {
  /** after summary.json is written: finish the report (window figures, report.html) from the files */
  onReport?: (dir: string, summary: LoadSummary) => void;
  violationMarksCap?: number;
}

/** Writes the run's report files as it goes: an observer of the run's life-cycle. */
export class ReportWriter implements Observer {
  readonly name = 'report';
  readonly dir: string;
  private readonly timeline: string;
  private readonly cap: number;
  private violations = 0;
  private anomalies = 0;

  constructor(
    base: string,
    runId: string,
    private readonly opts: ReportWriterOptions = {},
  ) {
    this.dir = path.resolve(base, runId);
    this.timeline = path.join(this.dir, 'timeline.jsonl');
    this.cap = opts.violationMarksCap ?? VIOLATION_MARKS_CAP;
  }

  onStart(meta: Record<string, unknown>): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'run.json'), JSON.stringify(meta, null, 2) + '\n');
  }

  onInterval(line: TimelineLine): void {
    this.append(line);
  }

  onMark(m: TimelineMark): void {
    // anomalies share the violations' cap: a partition can make thousands of unsafe holds
    if (m.mark === 'anomaly' && ++this.anomalies > this.cap) return;
    this.append(m);
  }

  onViolation(v: Violation): void {
    if (++this.violations > this.cap) return;
    const m: TimelineMark = {
      mark: 'violation',
      at: Date.now(),
      kind: v.kind,
      key: v.key,
      revision: v.revision,
      watcher: v.watcher,
      connection: v.connection,
      detail: v.detail,
      ...(v.check !== undefined && { check: v.check }),
    };
    this.append(m);
  }

  private append(x: TimelineLine | TimelineMark): void {
    try {
      fs.appendFileSync(this.timeline, JSON.stringify(x) + '\n');
    } catch {
      // a full disk must not stop the load; the summary reports the directory
    }
  }

  onDone(summary: LoadSummary): void {
    summary.reportDir = this.dir;
    summary.timelineMarks = {
      violations: Math.min(this.violations, this.cap),
      violationsCap: this.cap,
      violationsOmitted: Math.max(0, this.violations - this.cap),
    };
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
    try {
      this.opts.onReport?.(this.dir, summary);
    } catch (err) {
      // the figures and the page are extras: the summary above is already on disk
      summary.reportError = (err as Error).message;
    }
  }
}

/**
 * A run's report observers: the 1-s series (fed the watch latency as the watch workload records it), then
 * the writer (so the series' last rows are on disk when the report is finished).
 */
export function reportObservers(
  base: string,
  runId: string,
  o: ReportWriterOptions & {
    clock: Clock;
    lagMs: number;
    counters: () => SeriesCounters;
    watchLatency?: LatencyStats;
  },
): Observer[] {
  const writer = new ReportWriter(base, runId, o);
  const series = new SeriesWriter({ dir: writer.dir, clock: o.clock, lagMs: o.lagMs, counters: o.counters });
  if (o.watchLatency) o.watchLatency.tap = (ms) => series.recordWatch(ms);
  // the kv history before the writer, so the summary it writes says where the history is
  return [series, new KvHistoryWriter(writer.dir), writer];
}
