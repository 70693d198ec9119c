// What a workload is and what it is given. A workload lives in its own folder under workloads/ and is
// registered by name in workloads/index.ts; the run creates the ones its profile names, side by side.
import type { Metrics } from '../../metrics.js';
import type { LoadProfile } from '../../schema/load.js';
import type { Clock } from '../../util/clock.js';
import type { Logger } from '../../util/log.js';
import type { Checker } from '../checker.js';
import type { ObserverBus } from '../events.js';
import type { Violation } from '../verdict.js';
import type { ClientPool } from '../pool.js';

/** The run's key space: `<prefix>/<runId>/k<i>`, by index. */
export interface KeySpace {
  /** `<prefix>/<runId>/` */
  readonly base: string;
  readonly names: readonly string[];
  readonly bytes: readonly Buffer[];
  /** latin1 key → index */
  readonly index: ReadonlyMap<string, number>;
}

/** The generator's own trouble, counted apart from etcd's violations. */
export type GeneratorFault = 'stall' | 'garbled' | 'streamBroken';

export interface WorkloadContext {
  readonly runId: string;
  /** the parsed profile (its rate changes live) */
  readonly profile: LoadProfile;
  readonly keys: KeySpace;
  readonly pool: ClientPool;
  /** monotonic time for durations; wall time only for display and value stamps */
  readonly clock: Clock;
  /** where operation events go; observers subscribe there */
  readonly events: ObserverBus;
  /** the watch checker (a watch workload asks it about each event; its answer can reset a stream) */
  readonly checker: Checker;
  readonly logger: Logger;
  readonly metrics: Metrics | undefined;
  /** false once the run is stopping (and not draining): nothing new starts, broken streams stay broken */
  readonly active: boolean;
  /** a drop/corrupt fault may have garbled bytes on the way (anomalies are retried on a fresh stream) */
  transitSuspect(): boolean;
  /** the generator's own trouble (counted in the run's ledger, never an etcd verdict) */
  generatorFault(kind: GeneratorFault, message: string): void;
  /** the latest error, for the status */
  error(message: string): void;
  /** a violation found by a workload's own checker (counted with the run's, told to the observers) */
  violation(v: Violation): void;
}

export interface Workload {
  readonly name: string;
  /** Before the run starts (its start revision known): open what must be open first, e.g. watches. */
  prepare?(startRev: number): Promise<void>;
  /** The run starts: begin issuing operations. */
  run?(): void;
  /** Periodic checks while the run goes (and while it drains), monotonic ms. */
  watchdog?(now: number): void;
  /** The target rate changed (open-loop workloads re-base their schedule). */
  setRate?(rate: number): void;
  /** After the drain, before the run's record settles: settle what is open and judge the rest. */
  finish?(): Promise<void>;
  /** Stop issuing new operations (outstanding ones still complete). */
  halt(): void;
  /** operations sent and not answered yet */
  readonly inFlight: number;
  /** The end: close streams and timers (the connections are closed by the run). */
  close(): void;
}

export type WorkloadFactory = (ctx: WorkloadContext) => Workload;
