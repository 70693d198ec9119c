// The put side of the load: open-loop puts with unique self-describing values, never retried. Each put
// ends as ok, failed (never sent: no connection), or indeterminate (sent, no answer), and an
// indeterminate one is settled later as applied or not applied (by a watcher, or by etcd's record).
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';
import type { LoadProfile } from '../schema/load.js';
import type { Logger } from '../util/log.js';
import type { Checker, PutRecord } from './checker.js';
import { LatencyStats } from './stats.js';
import { encodeValue } from './value.js';
import type { EtcdWireClient, WireError } from './wire/client.js';

export type PutOutcome = 'ok' | 'failed' | 'applied' | 'not_applied';

/** What the put side needs of the run. */
export interface PutHost {
  readonly runId: string;
  readonly profile: LoadProfile;
  readonly checker: Checker;
  readonly keyBytes: Buffer[];
  readonly logger: Logger;
  /** the connection a put with this sequence number goes through */
  connection(seq: number): { idx: number; endpoint: string; client: EtcdWireClient };
  /** a put on `key` was acknowledged at `t`: its events should follow */
  acked(key: number, t: number): void;
  /** a put reached its final state */
  outcome(seq: number, outcome: PutOutcome): void;
  error(message: string): void;
}

export class PutWriter {
  readonly counts = { issued: 0, ok: 0, failed: 0, indeterminate: 0, applied: 0, notApplied: 0, slips: 0 };
  readonly okStats: LatencyStats;
  readonly errStats: LatencyStats;
  inFlight = 0;
  private seq = 0;

  constructor(
    private readonly host: PutHost,
    private readonly metrics: Metrics | undefined,
  ) {
    this.okStats = new LatencyStats(metrics?.putLatency.labels({ outcome: 'ok' }));
    this.errStats = new LatencyStats(metrics?.putLatency.labels({ outcome: 'error' }));
  }

  /** puts answered so far, one way or another */
  get done(): number {
    return this.counts.ok + this.counts.indeterminate + this.counts.failed;
  }

  /** Issues the put due at `due` (monotonic ms); its latency is measured from that instant. */
  issue(due: number): void {
    const { host, counts, metrics } = this;
    const { profile, checker } = host;
    counts.issued++;
    if (this.inFlight >= profile.maxInFlight) {
      // not sent: counted, and visible in the put rate (no silent drop, no coordinated omission)
      counts.slips++;
      metrics?.putScheduleSlips.inc();
      return;
    }
    const seq = ++this.seq;
    const key = seq % host.keyBytes.length;
    const conn = host.connection(seq);
    const dueWall = performance.timeOrigin + due;
    checker.registerPut(seq, key, dueWall);
    const value = encodeValue(host.runId, { writer: conn.idx, seq, due: dueWall }, profile.valueSize);
    this.inFlight++;
    const endpoint = conn.endpoint;
    conn.client.put(host.keyBytes[key], value, { timeoutMs: profile.putTimeout }).then(
      (r) => {
        this.inFlight--;
        const t = performance.now();
        this.okStats.record(t - due);
        counts.ok++;
        metrics?.puts.inc({ outcome: 'ok' });
        checker.ack(seq, r.revision, t);
        host.outcome(seq, 'ok');
        host.acked(key, t);
      },
      (err: WireError) => {
        this.inFlight--;
        const t = performance.now();
        this.errStats.record(t - due);
        host.error(`put on ${endpoint}: ${err.message}`);
        if (err.sent === false) {
          // no connection: the request never left this process, so it cannot have been applied
          counts.failed++;
          metrics?.puts.inc({ outcome: 'failed' });
          checker.notSent(seq);
          host.outcome(seq, 'failed');
          return;
        }
        counts.indeterminate++;
        metrics?.puts.inc({ outcome: 'indeterminate' });
        if (counts.indeterminate <= 10 || counts.indeterminate % 1000 === 0) {
          host.logger.warn(
            { endpoint, seq, err: err.message, indeterminate: counts.indeterminate },
            "put failed; indeterminate until observed or settled by etcd's record",
          );
        }
        checker.indeterminate(seq, t);
      },
    );
  }

  /** The checker settled an indeterminate put. */
  settled(p: PutRecord, applied: boolean): void {
    if (applied) this.counts.applied++;
    else this.counts.notApplied++;
    this.metrics?.puts.inc({ outcome: applied ? 'applied' : 'not_applied' });
    this.host.outcome(p.seq, applied ? 'applied' : 'not_applied');
  }
}
