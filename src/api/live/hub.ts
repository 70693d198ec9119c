// What the live page follows, gathered once per daemon: the load's intervals as chart rows (the last
// ROWS kept, for a page that opens or resyncs mid-run), the fault windows' edges, leader changes and new
// violations (from each interval's counts: at most a second late). Each open page holds one SseQueue;
// everything is pushed to every queue as it happens (the queue bounds what a slow page can cost).
import type { Daemon } from '../../daemon.js';
import type { WindowMark, WindowRecord } from '../../daemon/windows.js';
import type { TimelineLine } from '../../loadgen/report.js';
import { DEFAULT_SSE_LIMITS, SseQueue, type SseLimits } from './sse-queue.js';

/** chart rows kept (15 minutes of 1-s intervals) */
const ROWS = 900;
/** violation notes and leader changes kept for a page that opens later */
const NOTES = 200;
/** ended windows a snapshot carries */
const RECENT_WINDOWS = 100;
const PING_MS = 15_000;

/** One interval as the shared chart code draws it (the report's series, one second at a time). */
export interface ChartRow {
  /** epoch seconds */
  t: number;
  putP50: number | null;
  putP99: number | null;
  putP999: number | null;
  watchP99: number | null;
  puts: number;
  notOk: number;
  events: number;
}

export interface ViolationNote {
  at: number;
  kind: string;
  /** new in this interval */
  count: number;
  /** in the run so far */
  total: number;
}

type LeaderMark = Extract<WindowMark, { mark: 'leader' }>;

/** The chart row of an interval, given the one before it in the same run (none for a run's first). */
export function chartRow(line: TimelineLine, prev: TimelineLine | undefined): ChartRow {
  const dt = Math.max(0.001, prev ? line.elapsed - prev.elapsed : line.elapsed || 1);
  const bad = (l: TimelineLine | undefined) => (l ? l.counts.failed + l.counts.indeterminate : 0);
  return {
    t: Date.parse(line.time) / 1000,
    putP50: line.put.count ? line.put.p50 : null,
    putP99: line.put.count ? line.put.p99 : null,
    putP999: line.put.count ? line.put.p999 : null,
    watchP99: line.watch.count ? line.watch.p99 : null,
    puts: line.putRate,
    notOk: Math.max(0, Math.round(((bad(line) - bad(prev)) / dt) * 10) / 10),
    events: line.eventRate,
  };
}

/** A later interval of the same run: its clock and counts only go forward. */
const sameRun = (line: TimelineLine, prev: TimelineLine | undefined): prev is TimelineLine =>
  prev !== undefined && line.elapsed >= prev.elapsed && line.counts.issued >= prev.counts.issued;

export class LiveHub {
  private readonly queues = new Set<SseQueue>();
  private readonly rows: ChartRow[] = [];
  private readonly violations: ViolationNote[] = [];
  private readonly leaders: LeaderMark[] = [];
  private last: TimelineLine | undefined;
  private ping: NodeJS.Timeout | undefined;
  /** events dropped by streams already closed */
  private droppedGone = 0;

  constructor(
    private readonly daemon: Daemon,
    private readonly limits: SseLimits = DEFAULT_SSE_LIMITS,
  ) {
    daemon.on('load-interval', (line: TimelineLine) => this.interval(line));
    daemon.windows.on('start', (w: WindowRecord) => this.broadcast('window', windowView(w)));
    daemon.windows.on('end', (w: WindowRecord) => this.broadcast('window', windowView(w)));
    daemon.windows.on('leader', (m: LeaderMark) => {
      keep(this.leaders, m, NOTES);
      this.broadcast('leader', m);
    });
  }

  private interval(line: TimelineLine): void {
    const prev = sameRun(line, this.last) ? this.last : undefined;
    this.last = line;
    const row = chartRow(line, prev);
    keep(this.rows, row, ROWS);
    const at = Date.parse(line.time);
    for (const [kind, total] of Object.entries(line.violations)) {
      const count = total - (prev?.violations[kind as keyof typeof line.violations] ?? 0);
      if (count <= 0) continue;
      const note = { at, kind, count, total };
      keep(this.violations, note, NOTES);
      this.broadcast('violation', note);
    }
    this.broadcast('interval', {
      row,
      line: {
        time: line.time,
        elapsed: line.elapsed,
        targetRate: line.targetRate,
        putRate: line.putRate,
        eventRate: line.eventRate,
        put: line.put,
        watch: line.watch,
        inFlight: line.inFlight,
        overloaded: line.overloaded,
        counts: line.counts,
        violations: line.violations,
      },
    });
  }

  private broadcast(event: string, data: unknown): void {
    for (const q of this.queues) q.push(event, data);
  }

  /** What a page starts from (and comes back to after a resync). */
  snapshot() {
    const w = this.daemon.windows;
    return {
      rows: [...this.rows],
      windows: [...w.recent().slice(-RECENT_WINDOWS), ...w.active()].map(windowView),
      leader: w.leader ?? null,
      leaders: [...this.leaders],
      violations: [...this.violations],
      streams: this.streams(),
      at: Date.now(),
    };
  }

  /** The open streams: how many, what their queues hold now, and how many events they dropped. */
  streams(): { clients: number; pendingEvents: number; pendingBytes: number; dropped: number } {
    const out = { clients: this.queues.size, pendingEvents: 0, pendingBytes: 0, dropped: this.droppedGone };
    for (const q of this.queues) {
      out.pendingEvents += q.pendingEvents;
      out.pendingBytes += q.pendingBytes;
      out.dropped += q.droppedTotal;
    }
    return out;
  }

  /** A page's stream: its queue, until `drop`. */
  open(): SseQueue {
    const q = new SseQueue(this.limits);
    this.queues.add(q);
    this.ping ??= setInterval(() => this.queues.forEach((x) => x.ping()), PING_MS).unref();
    return q;
  }

  drop(q: SseQueue): void {
    if (!this.queues.delete(q)) return;
    this.droppedGone += q.droppedTotal;
    q.close();
    if (!this.queues.size && this.ping) {
      clearInterval(this.ping);
      this.ping = undefined;
    }
  }

  get clients(): number {
    return this.queues.size;
  }
}

function keep<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}

/** A window as the page draws it (epoch ms; no end while open). */
function windowView(w: WindowRecord) {
  return {
    id: w.id,
    kind: w.kind,
    target: w.target,
    startMs: w.start,
    endMs: w.end ?? null,
    ...(w.scenario && { scenario: w.scenario, step: w.step }),
  };
}
