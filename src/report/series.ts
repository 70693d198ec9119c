// Reading the run's 1-s series (series.jsonl, written by src/loadgen/observers/series.ts): the rows of
// one second summed (a late row corrects its second), and spans of seconds merged exactly from their
// HDR histograms.
import * as hdr from 'hdr-histogram-js';
import type { FeatureCounts, SeriesRow } from '../loadgen/observers/series.js';

/** One epoch second, all its rows summed. */
export interface Second {
  t: number;
  ok: number;
  failed: number;
  indeterminate: number;
  applied: number;
  notApplied: number;
  slips: number;
  events: number;
  violations: Record<string, number>;
  generator: { stalls: number; garbled: number; streamBreaks: number };
  /** the earliest ok answer (epoch ms) of a put due in this second */
  firstOkAt?: number;
  /** exact first ok answers after window starts in this second (series.ts SeriesRow.firstOk) */
  firstOk: { id: string; target: string; at: number }[];
  /** encoded HDR histograms (µs) of this second's rows */
  put: string[];
  watch: string[];
  /** the percentiles written with a row's histogram (p50, p99, p99.9 ms): right when it is the only one */
  putMs?: [number, number, number];
  watchMs?: [number, number, number];
  /** the feature workloads' operations answered in this second */
  features: Record<string, FeatureCounts>;
}

function empty(t: number): Second {
  return {
    t,
    ok: 0,
    failed: 0,
    indeterminate: 0,
    applied: 0,
    notApplied: 0,
    slips: 0,
    events: 0,
    violations: {},
    generator: { stalls: 0, garbled: 0, streamBreaks: 0 },
    firstOk: [],
    put: [],
    watch: [],
    features: {},
  };
}

/** The rows summed per second, in time order. */
export function secondsOf(rows: Iterable<SeriesRow>): Second[] {
  const by = new Map<number, Second>();
  for (const r of rows) {
    if (typeof r?.t !== 'number') continue;
    let s = by.get(r.t);
    if (!s) by.set(r.t, (s = empty(r.t)));
    if (r.puts) {
      s.ok += r.puts.ok;
      s.failed += r.puts.failed;
      s.indeterminate += r.puts.indeterminate;
    }
    if (r.settled) {
      s.applied += r.settled.applied;
      s.notApplied += r.settled.notApplied;
    }
    s.slips += r.slips ?? 0;
    s.events += r.events ?? 0;
    for (const [k, n] of Object.entries(r.violations ?? {})) s.violations[k] = (s.violations[k] ?? 0) + n;
    if (r.generator) {
      s.generator.stalls += r.generator.stalls;
      s.generator.garbled += r.generator.garbled;
      s.generator.streamBreaks += r.generator.streamBreaks;
    }
    if (r.firstOkAt !== undefined && (s.firstOkAt === undefined || r.firstOkAt < s.firstOkAt))
      s.firstOkAt = r.firstOkAt;
    if (r.firstOk) s.firstOk.push(...r.firstOk);
    if (r.put) s.put.push(r.put);
    if (r.watch) s.watch.push(r.watch);
    if (r.putMs) s.putMs = r.putMs;
    if (r.watchMs) s.watchMs = r.watchMs;
    for (const [w, f] of Object.entries(r.features ?? {})) addFeature((s.features[w] ??= emptyFeature()), f);
  }
  return [...by.values()].sort((a, b) => a.t - b.t);
}

export function emptyFeature(): FeatureCounts {
  return { ok: 0, failed: 0, indeterminate: 0, okMs: 0, maxMs: 0 };
}

/** adds `f` into `acc` */
export function addFeature(acc: FeatureCounts, f: FeatureCounts): void {
  acc.ok += f.ok;
  acc.failed += f.failed;
  acc.indeterminate += f.indeterminate;
  acc.okMs += f.okMs;
  if (f.maxMs > acc.maxMs) acc.maxMs = f.maxMs;
}

/** Parses series.jsonl (a torn last line of a crashed run is skipped). */
export function parseSeries(text: string): SeriesRow[] {
  const rows: SeriesRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      rows.push(JSON.parse(line) as SeriesRow);
    } catch {
      // a line cut short by a crash
    }
  }
  return rows;
}

/** Latency percentiles in ms of merged histograms. */
export interface Merged {
  count: number;
  p50: number;
  p99: number;
  p999: number;
}

const NONE: Merged = { count: 0, p50: 0, p99: 0, p999: 0 };

/** Merges encoded histograms (µs) exactly and reads their percentiles in ms. */
export function mergeLatency(encoded: readonly string[]): Merged {
  if (!encoded.length) return NONE;
  const acc = hdr.decodeFromCompressedBase64(encoded[0]);
  for (let i = 1; i < encoded.length; i++) {
    const h = hdr.decodeFromCompressedBase64(encoded[i]);
    acc.add(h);
    h.destroy();
  }
  const ms = (us: number) => Math.round(us) / 1000;
  const out = {
    count: acc.totalCount,
    p50: ms(acc.getValueAtPercentile(50)),
    p99: ms(acc.getValueAtPercentile(99)),
    p999: ms(acc.getValueAtPercentile(99.9)),
  };
  acc.destroy();
  return out;
}

/** One second's latency: the percentiles written with its only histogram, else merged from its rows. */
export function secondLatency(s: Second, which: 'put' | 'watch'): Merged {
  const enc = which === 'put' ? s.put : s.watch;
  const p = which === 'put' ? s.putMs : s.watchMs;
  if (enc.length === 1 && p) return { count: 1, p50: p[0], p99: p[1], p999: p[2] };
  return mergeLatency(enc);
}
