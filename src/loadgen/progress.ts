// The run's pace, interval by interval: put and event rates, the latency percentiles of the interval,
// and the generator's own CPU and event-loop delay (a saturated generator delays events on its own, so
// its late events would not be etcd's fault). Builds each timeline line.
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { LagMonitor } from './lag.js';
import { SelfMonitor } from './monitor.js';
import type { GeneratorLedger, LoadCounts, TimelineLine } from './report.js';
import type { LatencyStats } from './stats.js';
import type { ViolationCounts } from './verdict.js';

/** What a timeline line reads from the run at the end of an interval. */
export interface IntervalParts {
  targetRate: number;
  /** puts answered so far, one way or another */
  putsDone: number;
  /** watch events checked so far */
  events: number;
  inFlight: number;
  counts: LoadCounts;
  putStats: { okStats: LatencyStats };
  watchLatency: LatencyStats | undefined;
  violations: ViolationCounts;
  watchers: Record<string, number>;
}

const EMPTY = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };

export class RunProgress {
  private readonly monitor = new SelfMonitor();
  private mark = { at: 0, puts: 0, events: 0 };
  private startedAt = 0;
  /** the rates of the last interval, per second */
  rates = { puts: 0, events: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(t: number): void {
    this.startedAt = t;
    this.mark = { at: t, puts: 0, events: 0 };
    this.monitor.start(t);
  }

  /**
   * The interval since the last one: its line. `parts` is read after the generator's own sample; `lag`
   * (the watch side's) flags the interval when the generator fell behind the events.
   */
  interval(
    parts: () => IntervalParts,
    activeFaults: unknown[],
    ledger: GeneratorLedger,
    lag?: LagMonitor,
  ): TimelineLine {
    const t = this.clock.now();
    const dt = (t - this.mark.at) / 1000 || 1;
    const before = parts();
    this.rates = {
      puts: Math.round(((before.putsDone - this.mark.puts) / dt) * 10) / 10,
      events: Math.round(((before.events - this.mark.events) / dt) * 10) / 10,
    };
    const rawEvents = (before.events - this.mark.events) / dt;
    this.mark = { at: t, puts: before.putsDone, events: before.events };
    const watch = before.watchLatency?.takeInterval() ?? EMPTY;
    const self = this.monitor.sample(t);
    // events waiting unread in its own queues: behind, even on less than a core
    const lagged = lag?.takeInterval();
    if (lagged?.lagging) ledger.laggingIntervals++;
    self.overloaded ||= lagged?.lagging ?? false;
    // a generator that cannot keep up (one JS thread near a full core, a late event loop, or events
    // waiting in its receive queues) delays delivery itself: its late events would not be etcd's fault
    if (self.overloaded) {
      ledger.overloadedIntervals++;
      this.logger.warn(
        { cpu: self.cpu, loopDelayP99: self.loopDelayP99, eventRate: rawEvents, lag: lagged },
        'the load generator cannot keep up: lower the rate or watchers; late events of this interval may be its own lag',
      );
    }
    const p = parts();
    return {
      time: new Date(this.clock.wallNow()).toISOString(),
      elapsed: Math.round((t - this.startedAt) / 100) / 10,
      targetRate: p.targetRate,
      putRate: this.rates.puts,
      eventRate: this.rates.events,
      put: p.putStats.okStats.takeInterval(),
      watch,
      inFlight: p.inFlight,
      ...self,
      counts: p.counts,
      violations: p.violations,
      generator: { ...ledger, ...(lagged && { lag: lagged }) },
      watchers: p.watchers,
      activeFaults,
    };
  }

  stop(): void {
    this.monitor.stop();
  }
}
