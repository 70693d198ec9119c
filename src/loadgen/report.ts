// What a run reports: its status, each interval's timeline line, the end-of-run summary with the
// verdict, and their human forms (the table, the status line). The files are written by
// observers/report-writer.ts.
import { humanMs } from '../util/human.js';
import type { HashKvResult } from './hashkv.js';
import type { GeneratorLag } from './lag.js';
import { verdictOf, violationTotal, type CheckerFindings, type Verdict, type ViolationKind } from './verdict.js';
import { DEFAULT_WORKLOADS, type LoadProfile } from '../schema/load.js';
import type { Percentiles } from './stats.js';
import { formatThresholdRows, judgeThresholds, type ThresholdResult } from './thresholds.js';
import { formatWindowRows, type UnattributedViolations, type WindowFigures } from './window-figures.js';
import { formatKvRows, type KvLine, type KvStatus } from './workloads/kv/summary.js';
import {
  formatSectionRows,
  sectionUnverified,
  sectionViolations,
  type WorkloadLine,
  type WorkloadSection,
} from './workloads/section.js';

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
  /** puts that failed before reaching etcd (no connection): certainly not applied, not indeterminate */
  failed: number;
  /** report intervals in which the generator itself could not keep up */
  overloadedIntervals: number;
}

/**
 * The generator's own ledger, kept apart from etcd's violations: its stalls and resets, what injected
 * faults did to the bytes, and its own lateness.
 */
export interface GeneratorLedger {
  /** watch streams found silent while puts on their keys were acknowledged, then reset and resumed */
  stalls: number;
  /** anomalous events re-read on a fresh stream because a drop/corrupt fault may have garbled them */
  garbled: number;
  /** watch streams that broke (reset, closed, unreachable) and were resumed */
  streamBreaks: number;
  overloadedIntervals: number;
  /** report intervals in which the generator fell behind the watch events (counted as overloaded too) */
  laggingIntervals: number;
  /** its watch-side lag now (a timeline line: the largest of its interval) and at most (absent: no watch workload) */
  lag?: GeneratorLag;
}

export type Findings = CheckerFindings & {
  /** watchers that had not reached the last revision of their keys when the run ended */
  behindAtEnd: number;
  /** the first of them: watcher, connection, key, last revision seen, last revision in etcd's record */
  behind: { watcher: number; connection: number; key: string; seen: number; last: number }[];
  /** every member's HashKV at one revision at the end of the run (absent: one endpoint, or not asked) */
  hashKv?: HashKvResult;
};

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
  /**
   * the generator could not keep up in this interval (CPU >= 0.9 core, loop delay p99 > 500 ms, or its
   * watch events waiting in its own receive queues)
   */
  overloaded: boolean;
  counts: LoadCounts;
  violations: Record<ViolationKind, number>;
  generator: GeneratorLedger;
  watchers: Record<string, number>;
  activeFaults: unknown[];
  /** the workloads that run (the status line shows only theirs) */
  workloads?: string[];
  kv?: KvLine;
  /** the feature workloads' parts (registry, lock, election, config): their fields for this interval */
  features?: Record<string, WorkloadLine>;
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
  /** etcd's violations of its watch guarantees */
  violations: Record<ViolationKind, number>;
  /** the generator's own trouble and the injected faults' effects: never etcd's */
  generator: GeneratorLedger;
  findings: Findings;
  watchers: Record<string, number>;
  /** put: due → answer (ok); putError: due → error; putSend: due → sent (the generator's own lateness) */
  latency: { put: Percentiles; putError: Percentiles; putSend: Percentiles; watch: Percentiles };
  /** the kv workload: its counts, the linearizability findings by kind, the first of them, the history */
  kv?: KvStatus;
  /** the feature workloads that run (registry, lock, election, config): one section each */
  features?: Record<string, WorkloadSection>;
  lastError?: string;
  /** the profile's thresholds judged on this status (window thresholds: at the end) */
  thresholds: ThresholdResult[];
  /** every threshold holds (none stated: true) */
  passed: boolean;
}

export interface LoadSummary extends LoadStatus {
  reason: string;
  endedAt: string;
  verdict: Verdict;
  averages: { putRate: number; eventRate: number };
  /** how the end of the run was settled against etcd's record */
  record: { replayedTo: number; events: number; error?: string };
  reportDir?: string;
  /** violation marks written to timeline.jsonl (capped; the counts above stay exact) */
  timelineMarks?: { violations: number; violationsCap: number; violationsOmitted: number };
  /** one entry per fault window recorded on the timeline, with its figures */
  windows?: WindowFigures[];
  /** violations in no window (nor within settle after one) */
  unattributed?: UnattributedViolations;
  /** why the window figures or report.html could not be made */
  reportError?: string;
}

/** The end-of-run summary from the final status: the verdict per guarantee and the averages. */
export function summarize(
  st: LoadStatus,
  reason: string,
  record: { replayedTo: number; events: number; error?: string } | undefined,
): LoadSummary {
  const rate = (n: number) => (st.elapsed ? Math.round((n / st.elapsed) * 10) / 10 : 0);
  const summary: LoadSummary = {
    ...st,
    reason,
    endedAt: new Date().toISOString(),
    verdict: {
      ...verdictOf(st.violations, st.findings),
      ...(st.kv && { linearizable: linearizable(st.kv) }),
      ...featureVerdicts(st.features),
    },
    averages: {
      putRate: rate(st.counts.ok + st.counts.indeterminate + st.counts.failed),
      eventRate: rate(st.counts.events),
    },
    record: { replayedTo: record?.replayedTo ?? 0, events: record?.events ?? 0, error: record?.error },
  };
  return rejudge(summary);
}

/** The summary's thresholds judged again (once its fault windows' figures are in), in place. */
export function rejudge(summary: LoadSummary): LoadSummary {
  Object.assign(summary, judgeThresholds(summary.profile.thresholds, summary));
  return summary;
}

/** each feature workload that ran: held when its checker found nothing, unverified when only in doubt */
function featureVerdicts(features: LoadStatus['features']): Partial<Verdict> {
  const out: Record<string, 'held' | 'violated' | 'unverified'> = {};
  for (const [name, sec] of Object.entries(features ?? {}))
    out[name] = sectionViolations(sec) ? 'violated' : sectionUnverified(sec) ? 'unverified' : 'held';
  return out as Partial<Verdict>;
}

/** held: no finding; unverified: none, but writes whose fate etcd's history could not tell make keys lenient */
function linearizable(kv: KvStatus): 'held' | 'violated' | 'unverified' {
  return kv.findings > 0 ? 'violated' : kv.checked.unsettled > 0 || (kv.unverified ?? 0) > 0 ? 'unverified' : 'held';
}

function generatorNotes(s: LoadSummary): string[] {
  const g = s.generator;
  const fi = s.findings;
  const out: string[] = [];
  const own = [
    g.stalls && `${g.stalls} stalled stream(s) reset`,
    g.streamBreaks && `${g.streamBreaks} stream break(s) resumed`,
    g.garbled && `${g.garbled} garbled event(s) re-read`,
    fi.corruptedWrites && `${fi.corruptedWrites} write(s) stored garbled by an injected fault`,
    fi.falseSkips && `${fi.falseSkips} suspected skip(s) not in etcd's history (garbled acks)`,
  ].filter(Boolean);
  out.push(`  generator (not etcd's): ${own.length ? own.join(', ') : 'nothing to report'}`);
  if (fi.late)
    out.push(
      `  latency finding: ${fi.late} event(s) arrived more than settle after their put (max ${humanMs(fi.maxLateMs)}); etcd promises no delivery time`,
    );
  const unsettled = s.counts.indeterminate - s.counts.applied - s.counts.notApplied;
  if (unsettled > 0 && s.state === 'stopped')
    out.push(
      `  ${unsettled} indeterminate put(s) unsettled: etcd's record of the run could not be read (${s.record.error ?? 'unknown'}); nothing says they were not applied`,
    );
  if (fi.unchecked)
    out.push(
      `  ${fi.unchecked} (watcher, revision) pair(s) were forgotten before a far-behind watcher reached them: not checked`,
    );
  if (fi.behindAtEnd)
    out.push(`  ${fi.behindAtEnd} watcher(s) had not reached the last revision of their keys when the run ended`);
  if (fi.hashKv?.outcome === 'incomplete')
    out.push(
      `  HashKV at revision ${fi.hashKv.revision} could not be compared on every member: ${fi.hashKv.members
        .filter((m) => m.error)
        .map((m) => `${m.endpoint}: ${m.error}`)
        .join('; ')}`,
    );
  if (fi.unverifiedSkips)
    out.push(
      `  ${fi.unverifiedSkips} suspected skip(s) could not be checked against etcd's history (${s.record.error ?? 'compacted'}): reliable is unverified`,
    );
  if (g.laggingIntervals)
    out.push(
      `  WARNING: the generator fell behind the watch events in ${g.laggingIntervals} interval(s) (lag up to ${g.lag?.maxSeconds ?? '?'}s, up to ${Math.round((g.lag?.maxReceiveBufferedBytes ?? 0) / 1024)} KiB unread): their lateness is its own`,
    );
  if (g.overloadedIntervals)
    out.push(
      `  WARNING: the generator could not keep up in ${g.overloadedIntervals} interval(s); late events there are its own lag`,
    );
  return out;
}

/** The end-of-run table for a terminal. */
export function formatSummaryTable(s: LoadSummary): string {
  const c = s.counts;
  const lat = (name: string, p: Percentiles) =>
    `  ${name.padEnd(14)}${String(p.count).padStart(9)}${[p.p50, p.p90, p.p99, p.p999, p.max].map((x) => (p.count ? humanMs(x) : '-').padStart(10)).join('')}`;
  const v = s.violations;
  // a summary written before workloads were named ran puts and watches
  const runs = (w: string) => (s.profile.workloads ?? DEFAULT_WORKLOADS).includes(w);
  const puts = runs('put');
  const watch = runs('watch');
  const lines = [
    `run ${s.runId} — ${s.reason} after ${s.elapsed}s (${s.endpoints.join(', ')})`,
    ...(puts
      ? [
          `  puts: ${c.ok} ok, ${c.failed} failed unsent, ${c.indeterminate} indeterminate (${c.applied} applied, ${c.notApplied} not applied per etcd's record${s.record.replayedTo ? ` up to revision ${s.record.replayedTo}` : ''}), ${c.slips} schedule slips; avg ${s.averages.putRate}/s (target ${s.profile.rate}/s)`,
        ]
      : []),
    ...(watch
      ? [
          `  watch: ${c.events} events checked (avg ${s.averages.eventRate}/s), ${s.profile.watchers} watchers, ${c.resumes} resumes, ${c.compacted} compacted`,
        ]
      : []),
    ...(s.kv ? formatKvRows(s.kv, s.verdict.linearizable ?? 'held') : []),
    ...Object.entries(s.features ?? {}).flatMap(([name, sec]) => formatSectionRows(name, sec)),
    ...(puts || watch ? [`  latency             count       p50       p90       p99     p99.9       max`] : []),
    ...(puts ? [lat('put ok', s.latency.put), lat('put failed', s.latency.putError)] : []),
    ...(puts && s.latency.putSend ? [lat('put sent late', s.latency.putSend)] : []),
    ...(watch ? [lat('watch', s.latency.watch)] : []),
    ...(watch || !s.kv
      ? [
          `  etcd's guarantees: ordered ${s.verdict.ordered} (${v.ordered}), unique ${s.verdict.unique} (${v.unique}), reliable ${s.verdict.reliable} (${v.reliable}), unexpected events ${v.unexpected}`,
          `  and: ${(['atomic', 'bookmarkable', 'resumable', 'created', 'hashkv'] as const).map((k) => `${k} ${s.verdict[k] ?? '-'} (${v[k] ?? 0})`).join(', ')}`,
        ]
      : []),
    ...generatorNotes(s),
    ...formatWindowRows(s.windows ?? [], s.unattributed),
    ...formatThresholdRows(s.thresholds, s.passed),
  ];
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
  const total = violationTotal(v);
  const w = s.watchers;
  const g = s.generator;
  const own = g.stalls + g.garbled;
  const runs = (x: string) => (isLine ? s.workloads : s.profile.workloads)?.includes(x) ?? x !== 'kv';
  const kv = isLine
    ? s.kv
    : s.kv && { rate: 0, ops: s.kv.checked.ops, indeterminate: s.kv.checked.indeterminate, findings: s.kv.findings };
  const parts = [
    runs('put') ? `puts ${puts}/s p99 ${humanMs(p99p)}` : '',
    runs('watch')
      ? `events ${events}/s watch p99 ${humanMs(p99w)} | watchers ${w.watching ?? 0} ok ${w.resuming ?? 0} resuming`
      : '',
    kv
      ? `kv ${isLine ? `${kv.rate}/s` : `${kv.ops} ops`}, ${kv.indeterminate} indeterminate, ${kv.findings} findings`
      : '',
    ...(isLine
      ? Object.entries(s.features ?? {}).map(([name, l]) => `${name} ${l.text}`)
      : Object.entries(s.features ?? {}).map(([name, sec]) => `${name} ${featureStatusText(sec)}`)),
  ].filter(Boolean);
  return `[${humanMs(s.elapsed * 1000)}] ${parts.join(' | ')} | violations ${total}${
    total
      ? ` (${Object.entries(v)
          .filter(([, n]) => n)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')})`
      : ''
  }${runs('put') ? ` | indeterminate ${s.counts.indeterminate}` : ''}${own ? ` | generator: ${g.stalls} stalls ${g.garbled} garbled` : ''}${g.lag?.lagging ? ` | generator lagging ${g.lag.seconds}s` : ''}${isLine ? faultsPart(s.activeFaults) : ''}${isLine && s.overloaded ? ' | GENERATOR OVERLOADED' : ''}`;
}

/** a feature workload's part of GET /load's status line: operations by result, findings, anomalies */
function featureStatusText(sec: WorkloadSection): string {
  let ok = 0;
  let bad = 0;
  for (const c of Object.values(sec.ops)) {
    ok += c.ok;
    bad += c.failed + c.indeterminate;
  }
  let anomalies = 0;
  for (const n of Object.values(sec.anomalies)) anomalies += n;
  const unverified = sectionUnverified(sec);
  return `${ok} ok ${bad} failed, ${sectionViolations(sec)} violations${unverified ? `, ${unverified} unverified` : ''}${anomalies ? `, ${anomalies} anomalies` : ''}`;
}

/** how a member under a member fault (link "members", type its kind) reads */
const MEMBER_FAULT: Record<string, string> = { kill: 'down', stop: 'down', freeze: 'frozen', restart: 'restarting' };

/**
 * " | faults 2 | partition p1 isolate leader s1: s1 ⟷ {s2,s3} | member s2 frozen": what was injected
 * during the interval
 */
function faultsPart(active: unknown[] | undefined): string {
  if (!active?.length) return '';
  const parts = active as { link?: string; type?: string; id?: string; scope?: string }[];
  const partitions = parts.filter((f) => f.type === 'partition');
  const members = parts.filter((f) => f.link === 'members');
  const others = parts.length - partitions.length - members.length;
  return `${others ? ` | faults ${others}` : ''}${partitions.map((p) => ` | partition ${p.id} ${p.scope}`).join('')}${members
    .map((m) => ` | member ${m.scope} ${MEMBER_FAULT[m.type ?? ''] ?? m.type}`)
    .join('')}`;
}
