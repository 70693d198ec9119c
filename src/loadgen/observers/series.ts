// The run's 1-second series, reports/<runId>/series.jsonl: per epoch second, the puts due in it by
// outcome, their latency (due → ok, the same values the put stats record) and the watch delivery latency
// of the events that arrived in it, as compressed HDR histograms so any span of seconds merges exactly;
// schedule slips, watch events, violations and the generator's own faults. A second's row is written
// `lagMs` after it ends (a put due in it may answer up to putTimeout later); what comes later still
// (an indeterminate put settled by etcd's record, a put answered after a stall) goes into an extra row
// for the same second: readers sum the rows of a second (src/report/series-read.ts).
import fs from 'node:fs';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import type { Clock, TimerHandle } from '../../util/clock.js';
import type { Observer, OpEvent, TimelineMark } from '../events.js';
import type { Violation } from '../verdict.js';
import type { WorkloadOpEvent } from '../workloads/section.js';

/** A feature workload's operations answered in one second: by result, and the ok ones' latency sum and max. */
export interface FeatureCounts {
  ok: number;
  failed: number;
  indeterminate: number;
  /** sum of the ok operations' latencies, ms (a span's mean is the sums over the counts) */
  okMs: number;
  maxMs: number;
}

/** One line of series.jsonl; only `t` is always there (absent counts are 0). */
export interface SeriesRow {
  /** epoch second */
  t: number;
  /** puts due in this second, by outcome */
  puts?: { ok: number; failed: number; indeterminate: number };
  /** indeterminate puts due in this second, settled (possibly much later) */
  settled?: { applied: number; notApplied: number };
  /** the earliest ok answer (epoch ms) of a put due in this second */
  firstOkAt?: number;
  /** exact: the first ok answer (epoch ms) of a put due at or after a window's start (`t` is the start's second) */
  firstOk?: { id: string; target: string; at: number }[];
  /** ok puts' latency (due → ok) in µs: HDR histogram, compressed base64 */
  put?: string;
  /** watch delivery latency of events arriving in this second, in µs: HDR histogram, compressed base64 */
  watch?: string;
  /** this row's `put` and `watch` histograms read: p50, p99, p99.9 in ms (charts need no decoding) */
  putMs?: [number, number, number];
  watchMs?: [number, number, number];
  slips?: number;
  /** watch events checked */
  events?: number;
  violations?: Record<string, number>;
  generator?: { stalls: number; garbled: number; streamBreaks: number };
  /** the feature workloads' operations answered in this second, by workload */
  features?: Record<string, FeatureCounts>;
}

/** Running totals the series reads once a second (their deltas go to the second that just ended). */
export interface SeriesCounters {
  slips: number;
  events: number;
  stalls: number;
  garbled: number;
  streamBreaks: number;
}

export interface SeriesOptions {
  /** the run's report folder */
  dir: string;
  clock: Clock;
  /** how long after its second a row is written (the put timeout: a put due in it answers by then) */
  lagMs: number;
  counters: () => SeriesCounters;
}

const MAX_US = 3_600_000_000;

function newHdr(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3 });
}

class Bucket {
  sec = -1;
  ok = 0;
  failed = 0;
  indeterminate = 0;
  applied = 0;
  notApplied = 0;
  firstOkAt = Infinity;
  violations: Record<string, number> | undefined;
  features: Record<string, FeatureCounts> | undefined;
  // made on first use (a late bucket often holds only settlements), then reused
  private putHdr: hdr.Histogram | undefined;
  private watchHdr: hdr.Histogram | undefined;

  get put(): hdr.Histogram {
    return (this.putHdr ??= newHdr());
  }

  get watch(): hdr.Histogram {
    return (this.watchHdr ??= newHdr());
  }

  /** the histogram encoded and its p50, p99, p99.9 in ms (undefined when empty) */
  encoded(which: 'put' | 'watch'): [string, [number, number, number]] | undefined {
    const h = which === 'put' ? this.putHdr : this.watchHdr;
    if (!h?.totalCount) return undefined;
    const ms = (p: number) => Math.round(h.getValueAtPercentile(p)) / 1000;
    return [hdr.encodeIntoCompressedBase64(h), [ms(50), ms(99), ms(99.9)]];
  }

  reset(sec: number): void {
    this.sec = sec;
    this.ok = this.failed = this.indeterminate = this.applied = this.notApplied = 0;
    this.firstOkAt = Infinity;
    this.violations = undefined;
    this.features = undefined;
    this.putHdr?.reset();
    this.watchHdr?.reset();
  }
}

function us(ms: number): number {
  const v = Math.round(ms * 1000);
  return v < 1 ? 1 : v > MAX_US ? MAX_US : v;
}

export class SeriesWriter implements Observer {
  readonly name = 'series';
  readonly file: string;
  private readonly ring: Bucket[];
  private readonly lagSec: number;
  /** epoch ms − monotonic ms, fixed at the start */
  private offset = 0;
  /** the first second not yet written */
  private next = 0;
  private late: Map<number, Bucket> | undefined;
  private last: SeriesCounters = { slips: 0, events: 0, stalls: 0, garbled: 0, streamBreaks: 0 };
  private timer: TimerHandle | undefined;
  private started = false;
  /** window starts still waiting for their first ok put (epoch ms) */
  private awaiting: { id: string; target: string; start: number }[] = [];

  constructor(private readonly opts: SeriesOptions) {
    this.file = path.join(opts.dir, 'series.jsonl');
    this.lagSec = Math.ceil(opts.lagMs / 1000) + 1;
    this.ring = Array.from({ length: this.lagSec + 4 }, () => new Bucket());
  }

  onStart(): void {
    const { clock } = this.opts;
    this.offset = clock.wallNow() - clock.now();
    this.next = Math.floor(clock.wallNow() / 1000);
    this.last = { ...this.opts.counters() };
    this.started = true;
    fs.mkdirSync(this.opts.dir, { recursive: true });
    this.arm();
  }

  private arm(): void {
    const wall = this.opts.clock.wallNow();
    this.timer = this.opts.clock.setTimeout(() => this.tick(), 1000 - (wall % 1000) + 5, { unref: true });
  }

  /** the bucket of epoch second `sec` (a late one when that second is already written) */
  private bucket(sec: number): Bucket {
    if (sec < this.next) {
      this.late ??= new Map();
      let b = this.late.get(sec);
      if (!b) {
        b = new Bucket();
        b.reset(sec);
        this.late.set(sec, b);
      }
      return b;
    }
    // a stalled timer: write what must leave the ring first
    if (sec >= this.next + this.ring.length) this.flushBefore(sec - this.ring.length + 1);
    const b = this.ring[sec % this.ring.length];
    if (b.sec !== sec) b.reset(sec);
    return b;
  }

  private secOf(monoMs: number): number {
    return Math.floor((monoMs + this.offset) / 1000);
  }

  onOp(e: OpEvent): void {
    if (e.op !== 'put' || e.type === 'invoke' || !this.started) return;
    const b = this.bucket(this.secOf(e.due));
    switch (e.type) {
      case 'ok': {
        b.ok++;
        b.put.recordValue(us(e.at - e.due));
        const wall = e.at + this.offset;
        if (wall < b.firstOkAt) b.firstOkAt = wall;
        if (this.awaiting.length) this.firstOk(e.due + this.offset, wall);
        return;
      }
      case 'fail':
        b.failed++;
        return;
      case 'indeterminate':
        b.indeterminate++;
        return;
      case 'settled':
        if (e.applied) b.applied++;
        else b.notApplied++;
        return;
    }
  }

  onWorkloadOp(e: WorkloadOpEvent): void {
    if (!this.started) return;
    const b = this.bucket(this.secOf(e.at));
    const f = ((b.features ??= {})[e.workload] ??= { ok: 0, failed: 0, indeterminate: 0, okMs: 0, maxMs: 0 });
    f[e.result]++;
    if (e.result !== 'ok') return;
    f.okMs += e.ms;
    if (e.ms > f.maxMs) f.maxMs = e.ms;
  }

  onMark(m: TimelineMark): void {
    if (this.started && m.mark === 'window' && m.edge === 'start')
      this.awaiting.push({ id: m.id, target: m.target, start: m.at });
  }

  /** an ok put due at `due` answered at `at` (epoch ms): the first one of the windows started before it */
  private firstOk(due: number, at: number): void {
    for (let i = this.awaiting.length - 1; i >= 0; i--) {
      const w = this.awaiting[i];
      if (due < w.start) continue;
      this.awaiting.splice(i, 1);
      this.pending.push({
        t: Math.floor(w.start / 1000),
        firstOk: [{ id: w.id, target: w.target, at }],
      });
    }
  }

  /** one checked watch event's delivery latency (ms from its put's due), as the watch workload records it */
  recordWatch(ms: number): void {
    if (this.started) this.bucket(this.secOf(this.opts.clock.now())).watch.recordValue(us(ms));
  }

  onViolation(v: Violation): void {
    if (!this.started) return;
    const b = this.bucket(this.secOf(this.opts.clock.now()));
    b.violations ??= {};
    b.violations[v.kind] = (b.violations[v.kind] ?? 0) + 1;
  }

  private tick(): void {
    const sec = Math.floor(this.opts.clock.wallNow() / 1000);
    this.takeCounters(sec - 1);
    this.flushBefore(sec - this.lagSec);
    this.arm();
  }

  /** the counters' deltas since the last look go to second `sec` */
  private takeCounters(sec: number): void {
    const c = this.opts.counters();
    const l = this.last;
    const d = {
      slips: c.slips - l.slips,
      events: c.events - l.events,
      stalls: c.stalls - l.stalls,
      garbled: c.garbled - l.garbled,
      streamBreaks: c.streamBreaks - l.streamBreaks,
    };
    this.last = { ...c };
    if (!d.slips && !d.events && !d.stalls && !d.garbled && !d.streamBreaks) return;
    const row: SeriesRow = { t: Math.max(sec, this.next) };
    if (d.slips) row.slips = d.slips;
    if (d.events) row.events = d.events;
    if (d.stalls || d.garbled || d.streamBreaks)
      row.generator = { stalls: d.stalls, garbled: d.garbled, streamBreaks: d.streamBreaks };
    this.pending.push(row);
  }

  /** counter rows waiting for their second's row (merged into it when it is written) */
  private pending: SeriesRow[] = [];

  /** writes every second before `end` (and the late rows) */
  private flushBefore(end: number): void {
    const lines: string[] = [];
    if (this.late) {
      for (const b of this.late.values()) lines.push(JSON.stringify(rowOf(b, undefined, true)));
      this.late = undefined;
    }
    // rows for seconds already written go out as they are (the readers sum a second's rows)
    if (this.pending.some((p) => p.t < this.next)) {
      for (const p of this.pending) if (p.t < this.next) lines.push(JSON.stringify(p));
      this.pending = this.pending.filter((p) => p.t >= this.next);
    }
    for (; this.next < end; this.next++) {
      const sec = this.next;
      const b = this.ring[sec % this.ring.length];
      let extra: SeriesRow | undefined;
      if (this.pending.some((p) => p.t === sec)) {
        for (const p of this.pending) if (p.t === sec) extra = extra ? mergeRows(extra, p) : p;
        this.pending = this.pending.filter((p) => p.t !== sec);
      }
      if (b.sec !== sec) b.reset(sec);
      lines.push(JSON.stringify(rowOf(b, extra, false)));
      b.reset(-1);
    }
    if (!lines.length) return;
    try {
      fs.appendFileSync(this.file, lines.join('\n') + '\n');
    } catch {
      // a full disk must not stop the load
    }
  }

  onDone(): void {
    if (!this.started) return;
    this.timer?.cancel();
    const sec = Math.floor(this.opts.clock.wallNow() / 1000);
    this.takeCounters(sec);
    this.flushBefore(sec + 1);
    this.started = false;
  }
}

/** two extra rows of one second as one (counts summed) */
function mergeRows(a: SeriesRow, b: SeriesRow): SeriesRow {
  const n = (x?: number, y?: number) => (x ?? 0) + (y ?? 0) || undefined;
  const g = a.generator ?? b.generator;
  return {
    t: a.t,
    slips: n(a.slips, b.slips),
    events: n(a.events, b.events),
    ...(g && {
      generator: {
        stalls: (a.generator?.stalls ?? 0) + (b.generator?.stalls ?? 0),
        garbled: (a.generator?.garbled ?? 0) + (b.generator?.garbled ?? 0),
        streamBreaks: (a.generator?.streamBreaks ?? 0) + (b.generator?.streamBreaks ?? 0),
      },
    }),
    ...((a.firstOk || b.firstOk) && { firstOk: [...(a.firstOk ?? []), ...(b.firstOk ?? [])] }),
  };
}

function rowOf(b: Bucket, extra: SeriesRow | undefined, late: boolean): SeriesRow {
  const row: SeriesRow = { t: b.sec, ...extra };
  if (!late || b.ok || b.failed || b.indeterminate)
    row.puts = { ok: b.ok, failed: b.failed, indeterminate: b.indeterminate };
  if (b.applied || b.notApplied) row.settled = { applied: b.applied, notApplied: b.notApplied };
  if (b.firstOkAt !== Infinity) row.firstOkAt = Math.round(b.firstOkAt);
  const put = b.encoded('put');
  if (put) [row.put, row.putMs] = put;
  const watch = b.encoded('watch');
  if (watch) [row.watch, row.watchMs] = watch;
  if (b.violations) row.violations = b.violations;
  if (b.features) {
    row.features = b.features;
    for (const f of Object.values(b.features)) f.okMs = Math.round(f.okMs * 1000) / 1000;
  }
  return row;
}
