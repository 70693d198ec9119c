// A run's report folder read back (run.json, timeline.jsonl, series.jsonl, summary.json) and finished:
// the window figures into summary.json and report.html beside it. The end of a run and
// `etcd-soak report DIR` (also for a crashed run with no summary.json) come here.
import fs from 'node:fs';
import path from 'node:path';
import type { TimelineMark } from '../loadgen/events.js';
import { rejudge, type LoadSummary, type TimelineLine } from '../loadgen/report.js';
import { Invalid } from '../util/errors.js';
import { renderReportHtml } from './html.js';
import { parseSeries, secondsOf, type Second } from './series.js';
import { windowFigures, type WindowReport } from './windows.js';

export interface RunFiles {
  dir: string;
  runId: string;
  run: Record<string, unknown>;
  summary?: LoadSummary;
  intervals: TimelineLine[];
  marks: TimelineMark[];
  seconds: Second[];
}

function lines(file: string): unknown[] {
  if (!fs.existsSync(file)) return [];
  const out: unknown[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // a line cut short by a crash
    }
  }
  return out;
}

/** Reads a run's folder; throws Invalid when it is not one (no run.json). */
export function readRunFiles(dir: string): RunFiles {
  const abs = path.resolve(dir);
  const runFile = path.join(abs, 'run.json');
  if (!fs.existsSync(runFile)) throw new Invalid(`${dir}: not a run's report folder (no run.json)`);
  let run: Record<string, unknown>;
  try {
    run = JSON.parse(fs.readFileSync(runFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Invalid(`${runFile}: not JSON (${(err as Error).message})`);
  }
  const summaryFile = path.join(abs, 'summary.json');
  let summary: LoadSummary | undefined;
  if (fs.existsSync(summaryFile)) {
    try {
      summary = JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as LoadSummary;
    } catch {
      // a summary cut short: the run is read as a crashed one
    }
  }
  const timeline = lines(path.join(abs, 'timeline.jsonl')) as (TimelineLine | TimelineMark)[];
  const seriesFile = path.join(abs, 'series.jsonl');
  return {
    dir: abs,
    runId: typeof run.runId === 'string' ? run.runId : path.basename(abs),
    run,
    summary,
    intervals: timeline.filter((x): x is TimelineLine => !('mark' in x)),
    marks: timeline.filter((x): x is TimelineMark => 'mark' in x),
    seconds: fs.existsSync(seriesFile) ? secondsOf(parseSeries(fs.readFileSync(seriesFile, 'utf8'))) : [],
  };
}

function profileMs(f: RunFiles, name: 'settle' | 'interval', fallback: number): number {
  const p = (f.summary?.profile ?? f.run.profile) as Record<string, unknown> | undefined;
  const v = p?.[name];
  return typeof v === 'number' ? v : fallback;
}

/** The window figures of a run read back. */
export function runWindows(f: RunFiles): WindowReport {
  return windowFigures({
    seconds: f.seconds,
    marks: f.marks,
    settleMs: profileMs(f, 'settle', 5000),
    intervalMs: profileMs(f, 'interval', 5000),
    intervals: f.intervals.map((l) => ({ end: Date.parse(l.time), overloaded: l.overloaded })),
  });
}

function writeHtml(f: RunFiles, w: WindowReport): string {
  const file = path.join(f.dir, 'report.html');
  const html = renderReportHtml({
    runId: f.runId,
    run: f.run,
    summary: f.summary,
    seconds: f.seconds,
    marks: f.marks,
    windows: w.windows,
    unattributed: w.unattributed,
  });
  fs.writeFileSync(file, html);
  return file;
}

/**
 * The end of a run (after summary.json is written): its windows and unattributed violations go into
 * `summary` (the caller's object, for the terminal table) and summary.json; report.html is written.
 */
export function finishRunReport(dir: string, summary: LoadSummary): void {
  const f = readRunFiles(dir);
  f.summary = summary;
  const w = runWindows(f);
  summary.windows = w.windows;
  summary.unattributed = w.unattributed;
  rejudge(summary); // window thresholds need the windows' figures
  fs.writeFileSync(path.join(f.dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeHtml(f, w);
}

/** `etcd-soak report DIR`: report.html (re)rendered from the files; summary.json is left as it is. */
export function renderRunReport(dir: string): { file: string; windows: number; finished: boolean } {
  const f = readRunFiles(dir);
  const w = runWindows(f);
  return { file: writeHtml(f, w), windows: w.windows.length, finished: f.summary !== undefined };
}
