// The generator's own lag on the watch side, sampled on every watchdog tick: how old the oldest known
// event a watcher has not processed yet is, and how many bytes etcd already sent wait unread in this
// process's receive queues. The run is flagged as lagging (the generator's, not etcd's) when events wait
// past the threshold while bytes pile up unread (the last reading) or the event loop was late within the
// last second: current evidence only, so a watch behind for etcd's reasons (a partitioned member, a
// frozen one: no bytes waiting here) is not flagged for one late tick during it.

/** the lag above which the generator may be flagged (the watch p99 the generator should hold) */
export const LAG_FLAG_MS = 1000;
/** bytes waiting unread that show the backlog is the generator's */
export const LAG_FLAG_BYTES = 64 * 1024;
/** a watchdog tick this late means the event loop is busy */
const LATE_TICK_MS = 500;
/** how long a late tick counts as evidence */
const LATE_TICK_HOLD_MS = 1000;

export interface GeneratorLag {
  /** age in seconds of the oldest known event a watcher has not processed yet (now) */
  seconds: number;
  /** its maximum so far */
  maxSeconds: number;
  /** bytes etcd sent that wait unread in this process's receive queues (now; 0 where unknown) */
  receiveBufferedBytes: number;
  /** their maximum so far */
  maxReceiveBufferedBytes: number;
  /** the generator is behind now: its own backlog, not etcd's delay */
  lagging: boolean;
}

export interface LagSample {
  now: number;
  /** the checker's oldest unprocessed age in ms */
  ageMs: number;
  /** receive-queue bytes (undefined: not measurable here) */
  bytes: number | undefined;
}

export class LagMonitor {
  private lastTick = 0;
  private lateTickAt = -Infinity;
  private age = 0;
  private maxAge = 0;
  private bytes = 0;
  private maxBytes = 0;
  private flagged = false;
  /** the current report interval: the flag was up at some tick, the largest age and bytes */
  private interval = { lagged: false, age: 0, bytes: 0 };

  constructor(
    private readonly tickMs: number,
    private readonly onChange?: (lag: GeneratorLag) => void,
  ) {}

  /** One watchdog tick's sample. */
  sample(s: LagSample): void {
    if (this.lastTick > 0 && s.now - this.lastTick > this.tickMs + LATE_TICK_MS) this.lateTickAt = s.now;
    this.lastTick = s.now;
    this.age = s.ageMs;
    this.bytes = s.bytes ?? 0;
    if (this.age > this.maxAge) this.maxAge = this.age;
    if (this.bytes > this.maxBytes) this.maxBytes = this.bytes;
    const behind = this.age >= LAG_FLAG_MS;
    this.flagged = behind && (this.bytes >= LAG_FLAG_BYTES || s.now - this.lateTickAt <= LATE_TICK_HOLD_MS);
    const iv = this.interval;
    if (this.flagged) iv.lagged = true;
    if (this.age > iv.age) iv.age = this.age;
    if (this.bytes > iv.bytes) iv.bytes = this.bytes;
    this.onChange?.(this.status);
  }

  /**
   * The report interval since the last call: lagging when the flag was up at some tick of it, with the
   * largest lag and bytes of its ticks.
   */
  takeInterval(): GeneratorLag {
    const iv = this.interval;
    this.interval = { lagged: false, age: this.age, bytes: this.bytes };
    return {
      ...this.status,
      seconds: round(iv.age),
      receiveBufferedBytes: iv.bytes,
      lagging: iv.lagged || this.lagging,
    };
  }

  /** the generator is behind now */
  get lagging(): boolean {
    return this.flagged;
  }

  get status(): GeneratorLag {
    return {
      seconds: round(this.age),
      maxSeconds: round(this.maxAge),
      receiveBufferedBytes: this.bytes,
      maxReceiveBufferedBytes: this.maxBytes,
      lagging: this.flagged,
    };
  }
}

/** ms as seconds, to a tenth */
function round(ms: number): number {
  return Math.round(ms / 100) / 10;
}
