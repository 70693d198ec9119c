// Put outcomes and latencies, counted from the put workload's operation events: the report's counts,
// its latency percentiles (ok and error), and the Prometheus metrics of the same.
import type { Metrics } from '../../metrics.js';
import type { Observer, OpEvent } from '../events.js';
import { LatencyStats } from '../stats.js';

export class PutStats implements Observer {
  readonly name = 'put-stats';
  readonly counts = { ok: 0, failed: 0, indeterminate: 0, applied: 0, notApplied: 0 };
  readonly okStats: LatencyStats;
  readonly errStats: LatencyStats;
  /** sent − due of every put sent: how much of a put's latency is the generator's own */
  readonly sendStats: LatencyStats;

  constructor(private readonly metrics: Metrics | undefined) {
    this.okStats = new LatencyStats(metrics?.putLatency.labels({ outcome: 'ok' }));
    this.errStats = new LatencyStats(metrics?.putLatency.labels({ outcome: 'error' }));
    this.sendStats = new LatencyStats(metrics?.putSendLateness);
  }

  /** puts answered so far, one way or another */
  get done(): number {
    return this.counts.ok + this.counts.indeterminate + this.counts.failed;
  }

  onOp(e: OpEvent): void {
    if (e.op !== 'put') return;
    const { counts, metrics } = this;
    switch (e.type) {
      case 'invoke':
        this.sendStats.record(e.at - e.due);
        return;
      case 'ok':
        this.okStats.record(e.at - e.due);
        counts.ok++;
        metrics?.puts.inc({ outcome: 'ok' });
        return;
      case 'fail':
        this.errStats.record(e.at - e.due);
        counts.failed++;
        metrics?.puts.inc({ outcome: 'failed' });
        return;
      case 'indeterminate':
        this.errStats.record(e.at - e.due);
        counts.indeterminate++;
        metrics?.puts.inc({ outcome: 'indeterminate' });
        return;
      case 'settled':
        if (e.applied) counts.applied++;
        else counts.notApplied++;
        metrics?.puts.inc({ outcome: e.applied ? 'applied' : 'not_applied' });
        return;
    }
  }
}
