// Operation events: what a workload tells the run about each operation it performs, and the observers
// that listen (checkers, stats, metrics, the report writer, the history recorder). Dispatch is a plain
// loop over arrays of handlers, synchronous and allocation-free: it sits on the generator's hot paths
// (every put, every watch response).
import type { LoadSummary, TimelineLine } from './report.js';
import type { LinOp } from './lin/history.js';
import type { Violation } from './verdict.js';
import type { WatchEvent } from './wire/client.js';
import type { WorkloadOpEvent } from './workloads/section.js';

/**
 * One operation's life: `invoke` when it is sent; then `ok` (applied, with the revision it got), `fail`
 * (surely not applied: it never left this process), or `indeterminate` (sent, no answer: it may or may
 * not have been applied); an indeterminate one may later be `settled` (applied or not, as a watcher or
 * etcd's record says).
 */
export interface OpEvent {
  type: 'invoke' | 'ok' | 'fail' | 'indeterminate' | 'settled';
  /** the workload that issued it ('put', ...) */
  workload: string;
  /** the operation ('put', later 'get', 'lease-grant', ...) */
  op: string;
  /** the workload's own sequence number of the operation */
  seq: number;
  /** key index in the run's key space (-1 when none) */
  key: number;
  /** monotonic ms of this event */
  at: number;
  /** monotonic ms when the operation was due (open-loop: latency is measured from here) */
  due: number;
  /** the connection it went through */
  connection: number;
  /** ok: the store revision of the write */
  revision?: number;
  /** settled: whether it was applied */
  applied?: boolean;
  /** fail / indeterminate: why */
  error?: string;
  /** the kv workload's operation as the linearizability history records it (on its return) */
  lin?: LinOp;
}

/** One watch response, with its boundaries as etcd sent them. */
export interface WatchResponseEvent {
  type: 'events' | 'progress' | 'canceled';
  workload: string;
  watcher: number;
  connection: number;
  /** monotonic ms of arrival */
  at: number;
  /** the response header's revision */
  revision: number;
  /** type 'events': the events, in the order received */
  events?: readonly WatchEvent[];
  /** type 'canceled': the compact revision (0 when not compacted) and etcd's reason */
  compactRevision?: number;
  reason?: string;
}

/**
 * A mark on the run's timeline, from outside the load: a fault window's edge as it took effect, a leader
 * change, a scenario's life, and (written by the report writer itself) each violation. `at` is epoch ms.
 */
export type TimelineMark =
  | {
      mark: 'window';
      edge: 'start' | 'end';
      id: string;
      /** a fault type (`delay`, `blackhole`, …), `partition`, or a member action (`kill`, `stop`, `freeze`, `restart`) */
      kind: string;
      /** for people: `link s1-client`, `member s2`, `partition isolate s1` */
      target: string;
      /** epoch ms when it took effect */
      at: number;
      leader?: string | null;
      term?: number;
      scenario?: string;
      step?: string;
      detail?: Record<string, unknown>;
    }
  | { mark: 'leader'; at: number; leader: string | null; term: number; previous: string | null }
  | { mark: 'scenario'; at: number; id: string; name: string; event: 'start' | 'done' | 'aborted'; hash?: string }
  | {
      mark: 'violation';
      at: number;
      kind: string;
      key: string;
      revision: number;
      watcher: number;
      connection: number;
      detail: string;
      /** a feature workload's check (its kind is the workload) */
      check?: string;
    }
  | {
      /** a feature workload's anomaly: a fault's expected effect, not etcd's violation (e.g. an unsafe lock) */
      mark: 'anomaly';
      at: number;
      workload: string;
      kind: string;
      key: string;
      revision?: number;
      detail: string;
    };

/** Listens to a run: its operations, its watch responses, the checkers' violations, its life-cycle. */
export interface Observer {
  /** a short name for logs */
  readonly name: string;
  onOp?(e: OpEvent): void;
  onWatch?(e: WatchResponseEvent): void;
  onViolation?(v: Violation): void;
  /** a feature workload's operation ended (registry, lock, election, config) */
  onWorkloadOp?(e: WorkloadOpEvent): void;
  /** the run started (its description: run id, profile, endpoints, start revision) */
  onStart?(meta: Record<string, unknown>): void;
  onInterval?(line: TimelineLine): void;
  /** a mark on the timeline (a fault window's edge, a leader change, a scenario's life) */
  onMark?(m: TimelineMark): void;
  onDone?(summary: LoadSummary): void;
}

/** Where workloads send their events; observers subscribe. */
export class ObserverBus {
  private ops: ((e: OpEvent) => void)[] = [];
  private watches: ((e: WatchResponseEvent) => void)[] = [];
  readonly observers: Observer[] = [];

  subscribe(o: Observer): void {
    this.observers.push(o);
    if (o.onOp) this.ops.push(o.onOp.bind(o));
    if (o.onWatch) this.watches.push(o.onWatch.bind(o));
  }

  /** whether anyone listens to watch responses (so a workload can skip building the event) */
  get wantsWatch(): boolean {
    return this.watches.length > 0;
  }

  op(e: OpEvent): void {
    const hs = this.ops;
    for (let i = 0; i < hs.length; i++) hs[i](e);
  }

  watch(e: WatchResponseEvent): void {
    const hs = this.watches;
    for (let i = 0; i < hs.length; i++) hs[i](e);
  }

  workloadOp(e: WorkloadOpEvent): void {
    for (const o of this.observers) o.onWorkloadOp?.(e);
  }

  violation(v: Violation): void {
    for (const o of this.observers) o.onViolation?.(v);
  }

  start(meta: Record<string, unknown>): void {
    for (const o of this.observers) o.onStart?.(meta);
  }

  interval(line: TimelineLine): void {
    for (const o of this.observers) o.onInterval?.(line);
  }

  mark(m: TimelineMark): void {
    for (const o of this.observers) o.onMark?.(m);
  }

  done(summary: LoadSummary): void {
    for (const o of this.observers) o.onDone?.(summary);
  }
}
