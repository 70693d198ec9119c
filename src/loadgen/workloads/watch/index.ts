// The watch workload: a fleet of watchers spread over the keys and the run's connections (one watch
// stream per connection), each event checked live by the run's checker. It listens to the put events
// too: an acknowledged put on a key tells the stall watchdog of that key's streams an event should come.
import type { Observer, OpEvent } from '../../events.js';
import type { Connection } from '../../pool.js';
import { LatencyStats } from '../../stats.js';
import type { Workload, WorkloadContext } from '../types.js';
import { WatchConnection, type Watcher, type WatcherStatus, type WatchCounts, type WatchHost } from './connection.js';

export type { Watcher, WatcherStatus } from './connection.js';

export class WatchWorkload implements Workload, Observer, WatchHost {
  readonly name = 'watch';
  readonly inFlight = 0;
  readonly counts: WatchCounts = { events: 0, resumes: 0, compacted: 0 };
  readonly latency: LatencyStats;
  /** the largest delivery latency checked since takeRecentMaxLatency() (the lag sampler's) */
  recentMaxLatency = 0;
  readonly storedGarbled = new Set<string>();
  readonly watchers: Watcher[] = [];
  private readonly conns: WatchConnection[];
  /** per key: the connections with a watcher on it (their stall watchdog hears of its acks) */
  private readonly keyConns: WatchConnection[][];
  /** watchers per status, moved on each transition (never recounted: attaching N watchers is linear) */
  private readonly byStatus: Record<WatcherStatus, number> = { starting: 0, watching: 0, resuming: 0, stopped: 0 };
  private gaugesDirty = false;

  constructor(readonly ctx: WorkloadContext) {
    this.latency = new LatencyStats(ctx.metrics?.watchLatency);
    this.conns = ctx.pool.connections.map((c) => new WatchConnection(c, this));
    this.keyConns = ctx.keys.names.map(() => []);
    ctx.pool.onMove((c: Connection) => this.conns[c.idx].moved());
    ctx.events.subscribe(this);
  }

  /** The oldest event checked since the last call, as its age (ms from its put's due) when checked. */
  takeRecentMaxLatency(): number {
    const m = this.recentMaxLatency;
    this.recentMaxLatency = 0;
    return m;
  }

  /** Creates every watcher from the run's start revision + 1 and opens the streams. */
  async prepare(startRev: number): Promise<void> {
    const { ctx } = this;
    const prefixMode = ctx.profile.watchMode === 'prefix';
    const nKeys = ctx.keys.names.length;
    for (let i = 0; i < ctx.profile.watchers; i++) {
      const conn = this.conns[i % this.conns.length];
      const key = i % nKeys;
      const keys = prefixMode ? ctx.keys.names.map((_, k) => k) : [key];
      const w: Watcher = {
        id: i,
        key,
        state: ctx.checker.addWatcher(i, conn.idx, keys, prefixMode, startRev + 1),
        status: 'starting',
        attached: false,
      };
      this.watchers.push(w);
      this.byStatus.starting++;
      conn.add(w);
      for (const k of keys) if (!this.keyConns[k].includes(conn)) this.keyConns[k].push(conn);
    }
    this.updateGauges();
    await Promise.all(this.conns.map((c) => c.attach()));
    this.updateGauges();
  }

  onOp(e: OpEvent): void {
    if (e.type === 'ok' && e.op === 'put' && e.key >= 0) for (const c of this.keyConns[e.key]) c.noteAck(e.at);
  }

  statusChanged(from: WatcherStatus, to: WatcherStatus): void {
    this.byStatus[from]--;
    this.byStatus[to]++;
    // the gauges are set on the next watchdog tick: a labelled set per created watch costs more than the count
    this.gaugesDirty = true;
  }

  /** Silent streams are probed, then reset; the gauges follow the watchers' status. */
  watchdog(now: number): void {
    for (const c of this.conns) c.checkStall(now, this.ctx.profile.stallTimeout);
    if (this.gaugesDirty) this.updateGauges();
  }

  halt(): void {
    // watchers keep watching while outstanding events drain; close() ends them
  }

  close(): void {
    for (const c of this.conns) c.close();
    this.updateGauges();
  }

  updateGauges(): void {
    this.gaugesDirty = false;
    const m = this.ctx.metrics;
    if (!m) return;
    for (const [state, n] of Object.entries(this.watcherCounts())) m.watchers.set({ state }, n);
  }

  watcherCounts(): Record<WatcherStatus, number> {
    return { ...this.byStatus };
  }

  /** What the stall watchdog of these connections sees (for the report of watchers that fell behind). */
  diagnostics(connections: number[], now: number): Record<string, unknown>[] {
    return connections.map((i) => this.conns[i].diagnostics(now));
  }
}
