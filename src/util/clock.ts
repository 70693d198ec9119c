// Time for everything that schedules: a monotonic clock for durations and timers, wall time only for
// display and stamps. The system clock is the default; a ManualClock lets tests drive fault expiry and
// scenarios without sleeping.
import { performance } from 'node:perf_hooks';
import { LongTimer } from './timer.js';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** monotonic milliseconds (only differences mean anything) */
  now(): number;
  /** wall-clock milliseconds since the epoch (display, stamps) */
  wallNow(): number;
  /** calls `fn` once after `ms` (any length: long delays are re-armed in steps) */
  setTimeout(fn: () => void, ms: number, opts?: { unref?: boolean }): TimerHandle;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms, opts) => new LongTimer(ms, fn, { unref: opts?.unref }),
};

/** A clock that moves only when told to (tests). Timers fire in due order inside advance(). */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  constructor(private wallAtZero = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.wallAtZero + this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { due: this.t + Math.max(0, ms), fn });
    return { cancel: () => void this.timers.delete(id) };
  }

  /** timers not yet fired */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due (a timer set while firing counts too). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].due <= end && (!next || e[1].due < next[1].due)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].due);
      next[1].fn();
    }
    this.t = end;
  }
}
