// Open-loop schedule: put i is due at t0 + i/rate, whatever happened to earlier puts (no coordinated
// omission). A rate change re-bases the schedule at the change instant, so it neither bursts nor stalls.
// Pure: the caller passes the clock.

export class OpenLoopSchedule {
  private t0: number;
  private i = 0;
  private rate: number;
  /** puts handed out since the start, over every rate */
  issued = 0;

  constructor(rate: number, now: number) {
    this.rate = rate;
    this.t0 = now;
  }

  get currentRate(): number {
    return this.rate;
  }

  setRate(rate: number, now: number): void {
    this.rate = rate;
    this.t0 = now;
    this.i = 0;
  }

  /** instant of the next put; undefined while the rate is 0 */
  nextDue(): number | undefined {
    return this.rate > 0 ? this.t0 + (this.i * 1000) / this.rate : undefined;
  }

  /**
   * Calls `emit(due)` for every put due at or before `now`, in order; at most `limit` per call so a
   * long stall cannot block the event loop. Returns how many were emitted.
   */
  takeDue(now: number, emit: (due: number) => void, limit = 10000): number {
    if (this.rate <= 0) return 0;
    let n = 0;
    for (;;) {
      const due = this.t0 + (this.i * 1000) / this.rate;
      if (due > now || n >= limit) break;
      this.i++;
      this.issued++;
      n++;
      emit(due);
    }
    return n;
  }
}
