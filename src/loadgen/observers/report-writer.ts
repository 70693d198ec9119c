// Run reports: reports/<runId>/run.json at the start, timeline.jsonl (one line per interval, appended
// synchronously so a crash loses at most one interval), summary.json at the end.
import fs from 'node:fs';
import path from 'node:path';
import type { Observer } from '../events.js';
import type { LoadSummary, TimelineLine } from '../report.js';

/** Writes the run's report files as it goes: an observer of the run's life-cycle. */
export class ReportWriter implements Observer {
  readonly name = 'report';
  readonly dir: string;
  private readonly timeline: string;

  constructor(base: string, runId: string) {
    this.dir = path.resolve(base, runId);
    this.timeline = path.join(this.dir, 'timeline.jsonl');
  }

  onStart(meta: Record<string, unknown>): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'run.json'), JSON.stringify(meta, null, 2) + '\n');
  }

  onInterval(line: TimelineLine): void {
    try {
      fs.appendFileSync(this.timeline, JSON.stringify(line) + '\n');
    } catch {
      // a full disk must not stop the load; the summary reports the directory
    }
  }

  onDone(summary: LoadSummary): void {
    summary.reportDir = this.dir;
    fs.mkdirSync(this.dir, { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  }
}
