// A feature workload's ledger: its operations by result and latency, the figures its checker judges,
// its violations (etcd's, by check) and anomalies (a fault's expected effect, by kind), each told to the
// run (verdict, timeline, metrics) as it happens and kept for the section of the summary. The four feature
// workloads keep their books here rather than each counting its own way.
import { LatencyStats } from '../stats.js';
import type { FeatureWorkload } from '../verdict.js';
import type { OpCounts, OpResult, WorkloadFinding, WorkloadSection } from './section.js';
import type { WorkloadContext } from './types.js';

/** findings kept for reading (all are counted) */
const KEPT = 20;
const NOTES = 20;

export class WorkloadBook {
  readonly ops: Record<string, OpCounts> = {};
  readonly counts: Record<string, number> = {};
  readonly violations: Record<string, number> = {};
  /** findings by check that a drop/corrupt fault may have made (see `violation`) */
  readonly unverified: Record<string, number> = {};
  readonly anomalies: Record<string, number> = {};
  readonly first: WorkloadFinding[] = [];
  private readonly notes: string[] = [];
  private readonly latencies = new Map<string, LatencyStats>();

  constructor(
    private readonly ctx: WorkloadContext,
    readonly workload: FeatureWorkload,
    declared: { checks: readonly string[]; anomalies?: readonly string[]; counts?: readonly string[] },
  ) {
    for (const c of declared.checks) this.violations[c] = 0;
    for (const a of declared.anomalies ?? []) this.anomalies[a] = 0;
    for (const c of declared.counts ?? []) this.counts[c] = 0;
  }

  /** An operation answered (ok), failed before it was sent (failed) or without an answer (indeterminate). */
  op(op: string, result: OpResult, ms: number): void {
    const c = (this.ops[op] ??= { ok: 0, failed: 0, indeterminate: 0 });
    c[result]++;
    if (result === 'ok') this.stats(op).record(ms);
    this.ctx.metrics?.workloadOps.inc({ workload: this.workload, op, result });
    this.ctx.opDone({ workload: this.workload, op, result, ms, at: this.ctx.clock.now() });
  }

  /** A judged figure in ms (expiry latency, convergence time, lock wait). */
  figure(name: string, ms: number): void {
    this.stats(name).record(ms);
  }

  count(name: string, n = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + n;
  }

  /** total operations by result */
  get totals(): OpCounts {
    const t = { ok: 0, failed: 0, indeterminate: 0 };
    for (const c of Object.values(this.ops)) {
      t.ok += c.ok;
      t.failed += c.failed;
      t.indeterminate += c.indeterminate;
    }
    return t;
  }

  get violationTotal(): number {
    let n = 0;
    for (const v of Object.values(this.violations)) n += v;
    return n;
  }

  /**
   * etcd broke a promise this workload checks: counted in the run's verdict and on the timeline. Found
   * while a drop/corrupt fault was active on a link (or within `settle` after), or on evidence such a
   * fault may have garbled (`inDoubt`), it is counted apart as unverified: a flipped bit in an answer (a
   * Range that leaves out a lower lock key, a token, a version) tells a story etcd never told. It is
   * marked with its window as an anomaly `unverified:<check>`.
   */
  violation(
    check: string,
    f: { key: string; revision?: number; detail: string; watcher?: number; connection?: number },
    inDoubt = false,
  ): void {
    if (inDoubt || this.ctx.transitSuspect()) {
      this.unverified[check] = (this.unverified[check] ?? 0) + 1;
      this.keep('unverified', check, f);
      const kind = `unverified:${check}`;
      this.ctx.metrics?.workloadAnomalies.inc({ workload: this.workload, kind });
      this.ctx.anomaly({ workload: this.workload, kind, key: f.key, revision: f.revision, detail: f.detail });
      return;
    }
    this.violations[check] = (this.violations[check] ?? 0) + 1;
    this.keep('violation', check, f);
    this.ctx.metrics?.workloadViolations.inc({ workload: this.workload, check });
    this.ctx.violation({
      kind: this.workload,
      check,
      key: f.key,
      revision: f.revision ?? 0,
      watcher: f.watcher ?? -1,
      connection: f.connection ?? -1,
      detail: `${check}: ${f.detail}`,
    });
  }

  /** a fault's expected effect, not etcd's violation: counted apart, on the timeline with its window */
  anomaly(kind: string, f: { key: string; revision?: number; detail: string }): void {
    this.anomalies[kind] = (this.anomalies[kind] ?? 0) + 1;
    this.keep('anomaly', kind, f);
    this.ctx.metrics?.workloadAnomalies.inc({ workload: this.workload, kind });
    this.ctx.anomaly({ workload: this.workload, kind, key: f.key, revision: f.revision, detail: f.detail });
  }

  /** a line for people in the summary (deduplicated, bounded) */
  note(text: string): void {
    if (this.notes.length < NOTES && !this.notes.includes(text)) this.notes.push(text);
  }

  section(setup: WorkloadSection['setup']): WorkloadSection {
    const latency: WorkloadSection['latency'] = {};
    for (const [k, s] of this.latencies) latency[k] = s.summary();
    return {
      setup,
      ops: structuredClone(this.ops),
      counts: { ...this.counts },
      latency,
      violations: { ...this.violations },
      unverified: { ...this.unverified },
      anomalies: { ...this.anomalies },
      first: this.first.slice(),
      notes: this.notes.slice(),
    };
  }

  private stats(name: string): LatencyStats {
    let s = this.latencies.get(name);
    if (!s) {
      const h = this.ctx.metrics?.workloadLatency.labels({ workload: this.workload, name });
      s = new LatencyStats(h);
      this.latencies.set(name, s);
    }
    return s;
  }

  private keep(type: WorkloadFinding['type'], check: string, f: { key: string; revision?: number; detail: string }) {
    if (this.first.length >= KEPT) return;
    this.first.push({
      type,
      check,
      at: new Date(this.ctx.clock.wallNow()).toISOString(),
      key: f.key,
      revision: f.revision ?? 0,
      detail: f.detail,
    });
  }
}
