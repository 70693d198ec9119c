// The generator watches itself: its CPU and event-loop delay per interval. A saturated generator delays
// events on its own, so its late events are its lag, not etcd's.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface SelfSample {
  /** this process's CPU over the interval, in cores */
  cpu: number;
  /** resident memory in MiB */
  rssMB: number;
  /** p99 of the event-loop delay in ms */
  loopDelayP99: number;
  /** CPU >= 0.9 core or loop delay p99 > 500 ms */
  overloaded: boolean;
}

export class SelfMonitor {
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private mark = { at: 0, cpu: process.cpuUsage() };

  start(now: number): void {
    this.mark = { at: now, cpu: process.cpuUsage() };
    this.loopDelay.enable();
  }

  /** The interval since the last sample (or start). */
  sample(now: number): SelfSample {
    const dt = (now - this.mark.at) / 1000 || 1;
    const used = process.cpuUsage(this.mark.cpu);
    const cpu = Math.round(((used.user + used.system) / 1e6 / dt) * 100) / 100;
    this.mark = { at: now, cpu: process.cpuUsage() };
    const loopDelayP99 = Math.round(this.loopDelay.percentile(99) / 1e4) / 100;
    this.loopDelay.reset();
    return {
      cpu,
      rssMB: Math.round(process.memoryUsage.rss() / 1048576),
      loopDelayP99,
      overloaded: loopDelayP99 > 500 || cpu >= 0.9,
    };
  }

  stop(): void {
    this.loopDelay.disable();
  }
}
