// Timers for any delay a Go duration can express. Node's setTimeout takes at most 2^31-1 ms (about 24.8
// days); a larger value fires after 1 ms with a TimeoutOverflowWarning. LongTimer never passes more than
// that: it re-arms in steps until the due instant (monotonic clock).
import { performance } from 'node:perf_hooks';

/** The largest delay Node's setTimeout honours. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export class LongTimer {
  private handle: NodeJS.Timeout | undefined;
  private readonly due: number;
  private readonly maxStep: number;
  /** how many times a timer was armed (tests) */
  steps = 0;

  constructor(
    ms: number,
    private readonly fn: () => void,
    private readonly opts: { unref?: boolean; maxStep?: number } = {},
  ) {
    this.due = performance.now() + ms;
    this.maxStep = Math.min(opts.maxStep ?? MAX_TIMER_MS, MAX_TIMER_MS);
    this.arm(ms);
  }

  private arm(left: number): void {
    this.steps++;
    this.handle = setTimeout(this.tick, left > this.maxStep ? this.maxStep : left > 0 ? left : 0);
    if (this.opts.unref) this.handle.unref();
  }

  private readonly tick = (): void => {
    this.handle = undefined;
    const left = this.due - performance.now();
    // timers count from the loop's cached clock and may fire a fraction of a ms "early"
    if (left >= 1) this.arm(left);
    else this.fn();
  };

  cancel(): void {
    if (this.handle) clearTimeout(this.handle);
    this.handle = undefined;
  }
}
