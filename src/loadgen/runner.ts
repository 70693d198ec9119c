// The load runner: open-loop puts plus many watchers over `connections` lean gRPC clients, checked live.
// The daemon and `etcd-soak load` drive it: start(), setRate(), status(), stop() → summary.
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';
import { silentLogger, type Logger } from '../util/log.js';
import { Checker, type PutRecord, type Violation, type ViolationKind } from './checker.js';
import { loadProfileSchema, type LoadProfile, type LoadProfileInput } from './profile.js';
import { ReportWriter, type LoadStatus, type LoadSummary, type TimelineLine } from './report.js';
import { OpenLoopSchedule } from './schedule.js';
import { LatencyStats } from './stats.js';
import { encodeValue, newRunId } from './value.js';
import { WatchConnection, type Watcher, type WatcherStatus, type WatchHost } from './watchers.js';
import { EtcdWireClient } from './wire/client.js';

export type { LoadStatus, LoadSummary, TimelineLine } from './report.js';

export interface LoadRunnerOptions {
  profile: LoadProfileInput;
  /** "host:port" client endpoints */
  endpoints: string[];
  metrics?: Metrics;
  logger?: Logger;
  /** where reports/<runId>/ goes (default "reports"); null writes no files */
  reportDir?: string | null;
  runId?: string;
  /** active faults, recorded in each timeline line */
  faultsProvider?: () => unknown[];
}

const now = () => performance.now();
/** wall-clock ms (for due times written into values) */
const epoch = (t: number) => performance.timeOrigin + t;

export class LoadRunner extends EventEmitter implements WatchHost {
  readonly runId: string;
  readonly profile: LoadProfile;
  readonly logger: Logger;
  private readonly metrics: Metrics | undefined;
  private readonly keys: string[];
  readonly keyBytes: Buffer[];
  readonly keyIndex = new Map<string, number>();
  readonly base: string;
  readonly prefixMode: boolean;
  private readonly conns: WatchConnection[];
  private readonly watchers: Watcher[] = [];
  checker!: Checker;
  private schedule: OpenLoopSchedule | undefined;
  private state: LoadStatus['state'] = 'created';
  private tickTimer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private inFlight = 0;
  private readonly putStats: LatencyStats;
  private readonly putErrStats: LatencyStats;
  private readonly watchStats: LatencyStats;
  private readonly counts = { issued: 0, ok: 0, indeterminate: 0, applied: 0, notApplied: 0, slips: 0, events: 0, resumes: 0, compacted: 0, overloadedIntervals: 0, violationsLogged: 0 };
  /** our own event-loop delay: a saturated generator delays events itself and must say so */
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private intervalMark = { at: 0, puts: 0, events: 0, cpu: process.cpuUsage() };
  private lastRates = { puts: 0, events: 0 };
  private startedAt = 0;
  private startedIso = '';
  private lastError: string | undefined;
  private readonly report: ReportWriter | undefined;
  private stopPromise: Promise<LoadSummary> | undefined;

  constructor(private readonly opts: LoadRunnerOptions) {
    super();
    this.profile = loadProfileSchema.parse(opts.profile);
    if (!opts.endpoints.length) throw new Error('endpoints: expected at least one "host:port"');
    this.runId = opts.runId ?? newRunId();
    if (!/^[0-9a-z]{8}$/.test(this.runId)) throw new Error('runId: expected 8 characters [0-9a-z]');
    this.logger = (opts.logger ?? silentLogger).child({ run: this.runId });
    this.metrics = opts.metrics;
    this.base = `${this.profile.prefix.replace(/\/+$/, '')}/${this.runId}/`;
    this.prefixMode = this.profile.watchMode === 'prefix';
    this.keys = Array.from({ length: this.profile.keys }, (_, i) => `${this.base}k${i}`);
    this.keyBytes = this.keys.map((k) => Buffer.from(k));
    this.keys.forEach((k, i) => this.keyIndex.set(k, i));
    this.conns = Array.from({ length: this.profile.connections }, (_, idx) => {
      const endpoint = opts.endpoints[idx % opts.endpoints.length];
      return new WatchConnection(idx, endpoint, new EtcdWireClient(endpoint, { logger: this.logger }), this);
    });
    const m = this.metrics;
    this.putStats = new LatencyStats(m?.putLatency.labels({ outcome: 'ok' }));
    this.putErrStats = new LatencyStats(m?.putLatency.labels({ outcome: 'error' }));
    this.watchStats = new LatencyStats(m?.watchLatency);
    this.report = opts.reportDir === null ? undefined : new ReportWriter(opts.reportDir ?? 'reports', this.runId);
  }

  /** Connects, creates every watcher, then starts the schedule. Retries an unreachable cluster. */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error('already started');
    this.state = 'starting';
    this.startedAt = now();
    this.startedIso = new Date().toISOString();
    this.metrics?.loadTargetRate.set(this.profile.rate);
    const startRev = await this.currentRevision();
    if (this.state !== 'starting') return;
    this.checker = new Checker({
      runId: this.runId,
      keys: this.keys,
      settleMs: this.profile.settle,
      onViolation: (v) => this.onViolation(v),
      onSettled: (p, applied) => this.onSettled(p, applied),
    });
    for (let i = 0; i < this.profile.watchers; i++) {
      const conn = this.conns[i % this.conns.length];
      const key = i % this.keys.length;
      const keys = this.prefixMode ? this.keys.map((_, k) => k) : [key];
      const w: Watcher = { id: i, key, state: this.checker.addWatcher(i, conn.idx, keys, this.prefixMode, startRev + 1), status: 'starting', attached: false };
      this.watchers.push(w);
      conn.watchers.push(w);
    }
    await Promise.all(this.conns.map((c) => c.attach()));
    this.updateWatcherGauges();
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.report?.start({ runId: this.runId, profile: this.profile, endpoints: this.opts.endpoints, startedAt: this.startedIso });
    this.logger.info({ profile: this.profile, endpoints: this.opts.endpoints, startRevision: startRev, keys: this.keys.length }, 'load started');
    const t = now();
    this.intervalMark = { at: t, puts: 0, events: 0, cpu: process.cpuUsage() };
    this.schedule = new OpenLoopSchedule(this.profile.rate, t);
    this.tick();
    this.loopDelay.enable();
    this.timers.push(setInterval(() => this.checker.sweep(now()), 250));
    this.timers.push(setInterval(() => this.interval(), this.profile.interval));
    if (this.profile.duration !== undefined) this.timers.push(setTimeout(() => void this.stop('duration reached'), this.profile.duration));
  }

  /** The store's revision before the first put, so every watcher sees every put of the run. */
  private async currentRevision(): Promise<number> {
    let delay = 200;
    for (let attempt = 0; this.state === 'starting'; attempt++) {
      const conn = this.conns[attempt % this.conns.length];
      try {
        const r = await conn.client.range(this.keyBytes[0], { timeoutMs: 3000, limit: 1 });
        return r.revision;
      } catch (err) {
        this.lastError = `cannot reach ${conn.endpoint}: ${(err as Error).message}`;
        this.logger.warn({ endpoint: conn.endpoint, err: (err as Error).message }, 'etcd unreachable; retrying');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 3000);
      }
    }
    return 0;
  }

  // WatchHost: what the watch connections report back

  get active(): boolean {
    return this.state !== 'stopping' && this.state !== 'stopped';
  }

  eventsChecked(n: number): void {
    this.counts.events += n;
    this.metrics?.watchEvents.inc(n);
  }

  watchLatency(ms: number): void {
    this.watchStats.record(ms);
  }

  resumed(): void {
    this.counts.resumes++;
    this.metrics?.watchResumes.inc();
  }

  compacted(): void {
    this.counts.compacted++;
  }

  streamBroken(message: string): void {
    this.lastError = message;
  }

  statusChanged(): void {
    this.updateWatcherGauges();
  }

  private tick(): void {
    this.tickTimer = undefined;
    const s = this.schedule;
    if (!s || this.state !== 'running') return;
    s.takeDue(now(), (due) => this.issue(due));
    const next = s.nextDue();
    if (next === undefined) return; // rate 0: setRate() restarts the tick
    const wait = next - now();
    this.tickTimer = wait > 1.5 ? setTimeout(() => this.tick(), wait - 1) : setImmediate(() => this.tick());
  }

  private issue(due: number): void {
    this.counts.issued++;
    if (this.inFlight >= this.profile.maxInFlight) {
      // not sent: counted, and visible in the put rate (no silent drop, no coordinated omission)
      this.counts.slips++;
      this.metrics?.putScheduleSlips.inc();
      return;
    }
    const seq = ++this.seq;
    const key = seq % this.keys.length;
    const conn = this.conns[seq % this.conns.length];
    const dueWall = epoch(due);
    this.checker.registerPut(seq, key, dueWall);
    const value = encodeValue(this.runId, { writer: conn.idx, seq, due: dueWall }, this.profile.valueSize);
    this.inFlight++;
    conn.client.put(this.keyBytes[key], value, { timeoutMs: this.profile.putTimeout }).then(
      (r) => {
        this.inFlight--;
        const t = now();
        this.putStats.record(t - due);
        this.counts.ok++;
        this.metrics?.puts.inc({ outcome: 'ok' });
        this.checker.ack(seq, r.revision, t);
      },
      (err: Error) => {
        this.inFlight--;
        const t = now();
        this.putErrStats.record(t - due);
        this.counts.indeterminate++;
        this.metrics?.puts.inc({ outcome: 'indeterminate' });
        this.lastError = `put on ${conn.endpoint}: ${err.message}`;
        if (this.counts.indeterminate <= 10 || this.counts.indeterminate % 1000 === 0) {
          this.logger.warn({ endpoint: conn.endpoint, seq, err: err.message, indeterminate: this.counts.indeterminate }, 'put failed; indeterminate until observed');
        }
        this.checker.indeterminate(seq, t);
      },
    );
  }

  private onSettled(_p: PutRecord, applied: boolean): void {
    if (applied) this.counts.applied++;
    else this.counts.notApplied++;
    this.metrics?.puts.inc({ outcome: applied ? 'applied' : 'not_applied' });
  }

  private onViolation(v: Violation): void {
    this.metrics?.watchViolations.inc({ kind: v.kind });
    this.counts.violationsLogged++;
    if (this.counts.violationsLogged <= 1000 || this.counts.violationsLogged % 1000 === 0) this.logger.error({ violation: v }, `watch violation: ${v.kind}`);
    this.emit('violation', v);
  }

  private updateWatcherGauges(): void {
    const m = this.metrics;
    if (!m) return;
    for (const [state, n] of Object.entries(this.watcherCounts())) m.watchers.set({ state }, n);
  }

  /** Changes the put rate live (re-bases the schedule: no burst). */
  setRate(rate: number): void {
    const r = loadProfileSchema.innerType().shape.rate.parse(rate);
    this.profile.rate = r;
    this.metrics?.loadTargetRate.set(r);
    if (this.schedule) {
      this.schedule.setRate(r, now());
      if (!this.tickTimer && this.state === 'running') this.tick();
    }
    this.logger.info({ rate: r }, 'rate changed');
  }

  private interval(): TimelineLine {
    const t = now();
    const dt = (t - this.intervalMark.at) / 1000 || 1;
    const done = this.counts.ok + this.counts.indeterminate;
    this.lastRates = { puts: (done - this.intervalMark.puts) / dt, events: (this.counts.events - this.intervalMark.events) / dt };
    const cpuNow = process.cpuUsage();
    const cpuUsed = process.cpuUsage(this.intervalMark.cpu);
    const cpu = Math.round(((cpuUsed.user + cpuUsed.system) / 1e6 / dt) * 100) / 100;
    this.intervalMark = { at: t, puts: done, events: this.counts.events, cpu: cpuNow };
    const watch = this.watchStats.takeInterval();
    const loopDelayP99 = Math.round(this.loopDelay.percentile(99) / 1e4) / 100;
    this.loopDelay.reset();
    // a generator that cannot keep up (one JS thread near a full core, or a late event loop) delays
    // delivery itself: its late events would not be etcd's fault
    const overloaded = loopDelayP99 > 500 || cpu >= 0.9;
    if (overloaded) {
      this.counts.overloadedIntervals++;
      this.logger.warn({ cpu, loopDelayP99, eventRate: this.lastRates.events }, 'the load generator cannot keep up: lower the rate or watchers; reliable verdicts of this interval may be its own lag');
    }
    const line: TimelineLine = {
      time: new Date().toISOString(),
      elapsed: Math.round((t - this.startedAt) / 100) / 10,
      targetRate: this.profile.rate,
      putRate: Math.round(this.lastRates.puts * 10) / 10,
      eventRate: Math.round(this.lastRates.events * 10) / 10,
      put: this.putStats.takeInterval(),
      watch,
      inFlight: this.inFlight,
      cpu,
      rssMB: Math.round(process.memoryUsage.rss() / 1048576),
      loopDelayP99,
      overloaded,
      counts: this.countsSnapshot(),
      violations: { ...this.checker.violations },
      watchers: this.watcherCounts(),
      activeFaults: this.opts.faultsProvider?.() ?? [],
    };
    this.report?.appendInterval(line);
    this.emit('interval', line);
    return line;
  }

  private countsSnapshot() {
    const { issued, ok, indeterminate, applied, notApplied, slips, events, resumes, compacted, overloadedIntervals } = this.counts;
    return { issued, ok, indeterminate, applied, notApplied, slips, events, resumes, compacted, overloadedIntervals };
  }

  private watcherCounts(): Record<WatcherStatus, number> {
    const by: Record<WatcherStatus, number> = { starting: 0, watching: 0, resuming: 0, stopped: 0 };
    for (const w of this.watchers) by[w.status]++;
    return by;
  }

  status(): LoadStatus {
    return {
      runId: this.runId,
      state: this.state,
      startedAt: this.startedIso || undefined,
      elapsed: this.startedAt ? Math.round((now() - this.startedAt) / 100) / 10 : 0,
      profile: { ...this.profile },
      endpoints: this.opts.endpoints,
      rates: { target: this.profile.rate, puts: Math.round(this.lastRates.puts * 10) / 10, events: Math.round(this.lastRates.events * 10) / 10 },
      inFlight: this.inFlight,
      counts: this.countsSnapshot(),
      violations: this.checker ? { ...this.checker.violations } : { ordered: 0, unique: 0, reliable: 0, unexpected: 0 },
      watchers: this.watcherCounts(),
      latency: { put: this.putStats.summary(), putError: this.putErrStats.summary(), watch: this.watchStats.summary() },
      lastError: this.lastError,
    };
  }

  /**
   * Stops scheduling, waits for in-flight puts and for outstanding events (at most putTimeout +
   * settle), settles the rest, writes the summary and closes the connections.
   */
  stop(reason = 'stopped'): Promise<LoadSummary> {
    this.stopPromise ??= this.doStop(reason);
    return this.stopPromise;
  }

  private async doStop(reason: string): Promise<LoadSummary> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.logger.info({ reason }, 'stopping load');
    if (this.tickTimer) {
      clearTimeout(this.tickTimer as NodeJS.Timeout);
      clearImmediate(this.tickTimer as NodeJS.Immediate);
    }
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.checker) {
      const deadline = now() + this.profile.putTimeout + this.profile.settle;
      while (now() < deadline && (this.inFlight > 0 || this.checker.outstanding())) {
        await new Promise((r) => setTimeout(r, 50));
        this.checker.sweep(now());
      }
      this.checker.sweep(now(), true);
    }
    if (wasRunning) this.interval();
    for (const c of this.conns) c.close();
    this.loopDelay.disable();
    this.updateWatcherGauges();
    this.state = 'stopped';
    const st = this.status();
    const summary: LoadSummary = {
      ...st,
      reason,
      endedAt: new Date().toISOString(),
      verdict: {
        ordered: st.violations.ordered === 0 ? 'held' : 'violated',
        unique: st.violations.unique === 0 ? 'held' : 'violated',
        reliable: st.violations.reliable === 0 ? 'held' : 'violated',
        unexpected: st.violations.unexpected === 0 ? 'none' : 'seen',
      },
      averages: {
        putRate: st.elapsed ? Math.round(((st.counts.ok + st.counts.indeterminate) / st.elapsed) * 10) / 10 : 0,
        eventRate: st.elapsed ? Math.round((st.counts.events / st.elapsed) * 10) / 10 : 0,
      },
    };
    this.report?.finish(summary);
    this.logger.info({ verdict: summary.verdict, counts: summary.counts }, 'load stopped');
    this.emit('done', summary);
    return summary;
  }

  get violationCount(): number {
    if (!this.checker) return 0;
    return (Object.keys(this.checker.violations) as ViolationKind[]).reduce((n, k) => n + this.checker.violations[k], 0);
  }
}
