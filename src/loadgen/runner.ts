// The load runner: open-loop puts plus many watchers over `connections` lean gRPC clients, checked live
// and settled at the end against etcd's own record. The daemon and `etcd-soak load` drive it: start(),
// setRate(), status(), stop() → summary.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';
import { silentLogger, type Logger } from '../util/log.js';
import { Checker, type Violation } from './checker.js';
import { SelfMonitor } from './monitor.js';
import { loadProfileSchema, type LoadProfile, type LoadProfileInput } from '../schema/load.js';
import { EtcdRecord, type ReplayResult } from './record.js';
import {
  ReportWriter,
  summarize,
  type GeneratorLedger,
  type LoadStatus,
  type LoadSummary,
  type TimelineLine,
} from './report.js';
import { PutWriter } from './puts.js';
import { OpenLoopSchedule } from './schedule.js';
import { LatencyStats } from './stats.js';
import { newRunId } from './value.js';
import { WatchConnection, type GeneratorFault, type Watcher, type WatcherStatus, type WatchHost } from './watchers.js';
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
  /** whether a drop/corrupt fault was active within the last `ms` (bytes may have been garbled on the way) */
  integrityFaultsWithin?: (ms: number) => boolean;
}

const now = () => performance.now();
/** the scheduler never sleeps longer than this, so a rate change takes effect within one tick */
const MAX_TICK_MS = 250;

/**
 * Events: 'interval'(TimelineLine), 'violation'(Violation), 'outcome'(seq, 'ok' | 'failed' | 'applied' |
 * 'not_applied') for every put's final state, 'done'(LoadSummary).
 */
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
  private readonly endpoints: string[];
  private readonly conns: WatchConnection[];
  /** per key: the connections with a watcher on it (their stall watchdog hears of its acks) */
  private readonly keyConns: WatchConnection[][];
  private readonly watchers: Watcher[] = [];
  checker!: Checker;
  private readonly record: EtcdRecord;
  readonly storedGarbled = new Set<string>();
  private schedule: OpenLoopSchedule | undefined;
  private state: LoadStatus['state'] = 'created';
  private tickTimer: NodeJS.Timeout | undefined;
  private tickImmediate: NodeJS.Immediate | undefined;
  private timers: NodeJS.Timeout[] = [];
  private watchdogTimer: NodeJS.Timeout | undefined;
  /** stopping, but still waiting for outstanding events: broken or stalled streams are still resumed */
  private draining = false;
  private gaugesDirty = false;
  private readonly puts: PutWriter;
  private readonly watchStats: LatencyStats;
  private readonly counts = { events: 0, resumes: 0, compacted: 0, overloadedIntervals: 0, violationsLogged: 0 };
  private readonly ledger: GeneratorLedger = { stalls: 0, garbled: 0, streamBreaks: 0, overloadedIntervals: 0 };
  private readonly monitor = new SelfMonitor();
  private intervalMark = { at: 0, puts: 0, events: 0 };
  private lastRates = { puts: 0, events: 0 };
  private startedAt = 0;
  private startedIso = '';
  /** the store's revision before the run's first put (0 until started) */
  private startRev = 0;
  private behindAtEnd = 0;
  private behindList: { watcher: number; connection: number; key: string; seen: number; last: number }[] = [];
  private replayResult: ReplayResult | undefined;
  private lastError: string | undefined;
  private readonly report: ReportWriter | undefined;
  private stopPromise: Promise<LoadSummary> | undefined;

  constructor(private readonly opts: LoadRunnerOptions) {
    super();
    this.profile = loadProfileSchema.parse(opts.profile);
    if (!opts.endpoints.length) throw new Error('endpoints: expected at least one "host:port"');
    this.endpoints = [...opts.endpoints];
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
      const endpoint = this.endpoints[idx % this.endpoints.length];
      return new WatchConnection(idx, endpoint, this.newClient(endpoint), this);
    });
    this.keyConns = this.keys.map(() => []);
    const m = this.metrics;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the checker is created at start(); the host reads it then
    const runner = this;
    this.puts = new PutWriter(
      {
        runId: this.runId,
        profile: this.profile,
        get checker() {
          return runner.checker;
        },
        keyBytes: this.keyBytes,
        logger: this.logger,
        connection: (seq) => this.conns[seq % this.conns.length],
        acked: (key, t) => {
          for (const c of this.keyConns[key]) c.noteAck(t);
        },
        outcome: (seq, o) => this.emit('outcome', seq, o),
        error: (message) => (this.lastError = message),
      },
      m,
    );
    this.watchStats = new LatencyStats(m?.watchLatency);
    this.record = new EtcdRecord(
      () => this.conns.map((c) => c.client),
      this.keyBytes,
      this.base,
      this.keyIndex,
      this.logger,
    );
    this.report = opts.reportDir === null ? undefined : new ReportWriter(opts.reportDir ?? 'reports', this.runId);
  }

  private newClient(endpoint: string): EtcdWireClient {
    // a watch response batches at most ~1000 revisions: a larger message means a garbled stream
    return new EtcdWireClient(endpoint, {
      logger: this.logger,
      maxMessageBytes: Math.max(16 << 20, 1100 * (this.profile.valueSize + 1024)),
    });
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
    this.startRev = startRev;
    this.record.begin(startRev);
    this.checker = new Checker({
      runId: this.runId,
      keys: this.keys,
      settleMs: this.profile.settle,
      onViolation: (v) => this.onViolation(v),
      onSettled: (p, applied) => this.puts.settled(p, applied),
    });
    this.checker.maxKnownRev = startRev;
    for (let i = 0; i < this.profile.watchers; i++) {
      const conn = this.conns[i % this.conns.length];
      const key = i % this.keys.length;
      const keys = this.prefixMode ? this.keys.map((_, k) => k) : [key];
      const w: Watcher = {
        id: i,
        key,
        state: this.checker.addWatcher(i, conn.idx, keys, this.prefixMode, startRev + 1),
        status: 'starting',
        attached: false,
      };
      this.watchers.push(w);
      conn.watchers.push(w);
      for (const k of keys) if (!this.keyConns[k].includes(conn)) this.keyConns[k].push(conn);
    }
    this.updateWatcherGauges();
    await Promise.all(this.conns.map((c) => c.attach()));
    this.updateWatcherGauges();
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.report?.start({
      runId: this.runId,
      profile: this.profile,
      endpoints: this.endpoints,
      startedAt: this.startedIso,
      startRevision: startRev,
    });
    this.logger.info(
      { profile: this.profile, endpoints: this.endpoints, startRevision: startRev, keys: this.keys.length },
      'load started',
    );
    const t = now();
    this.intervalMark = { at: t, puts: 0, events: 0 };
    this.monitor.start(t);
    this.schedule = new OpenLoopSchedule(this.profile.rate, t);
    this.tick();
    this.watchdogTimer = setInterval(() => this.watchdog(), 250);
    this.timers.push(setInterval(() => this.interval(), this.profile.interval));
    if (this.profile.duration !== undefined)
      this.timers.push(setTimeout(() => void this.stop('duration reached'), this.profile.duration));
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

  /** Periodic checks: suspects past settle go to etcd's record; silent streams are probed or reset. */
  private watchdog(): void {
    const t = now();
    this.checker.sweep(t);
    for (const c of this.conns) c.checkStall(t, this.profile.stallTimeout);
    this.record.confirmSkips(this.checker, t);
    if (this.gaugesDirty) this.updateWatcherGauges();
    // long runs: settle indeterminate puts against etcd's record as the run goes, not only at its end
    // (not while a drop/corrupt fault may garble the replay: the checkpoint must only pass what was read)
    if (!this.transitSuspect())
      this.record.maybeReplay(this.checker, t, 12 * this.profile.settle, now, this.replayTimeout);
  }

  private get replayTimeout(): number {
    return Math.max(30_000, this.profile.settle * 4);
  }

  // WatchHost: what the watch connections report back

  get active(): boolean {
    return this.draining || (this.state !== 'stopping' && this.state !== 'stopped');
  }

  get stallMs(): number {
    return this.profile.stallTimeout;
  }

  transitSuspect(): boolean {
    return this.opts.integrityFaultsWithin?.(this.profile.settle) ?? false;
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

  generatorFault(kind: GeneratorFault, message: string): void {
    if (kind === 'stall') this.ledger.stalls++;
    else if (kind === 'garbled') this.ledger.garbled++;
    else this.ledger.streamBreaks++;
    this.metrics?.generatorFaults.inc({ kind });
    this.lastError = message;
    if (kind !== 'streamBroken') this.logger.warn({ kind }, message);
  }

  statusChanged(): void {
    // counted on the next watchdog tick: recounting every watcher on each created watch is quadratic
    this.gaugesDirty = true;
  }

  private tick(): void {
    this.tickTimer = undefined;
    this.tickImmediate = undefined;
    const s = this.schedule;
    if (!s || this.state !== 'running') return;
    s.takeDue(now(), (due) => this.puts.issue(due));
    const next = s.nextDue();
    // rate 0 or a long gap: look again after at most one tick (setRate also re-ticks at once)
    const wait = next === undefined ? MAX_TICK_MS : next - now();
    if (wait > 1.5) this.tickTimer = setTimeout(() => this.tick(), Math.min(wait - 1, MAX_TICK_MS));
    else this.tickImmediate = setImmediate(() => this.tick());
  }

  private onViolation(v: Violation): void {
    this.metrics?.watchViolations.inc({ kind: v.kind });
    this.counts.violationsLogged++;
    if (this.counts.violationsLogged <= 1000 || this.counts.violationsLogged % 1000 === 0)
      this.logger.error({ violation: v }, `watch violation: ${v.kind}`);
    this.emit('violation', v);
  }

  private updateWatcherGauges(): void {
    this.gaugesDirty = false;
    const m = this.metrics;
    if (!m) return;
    for (const [state, n] of Object.entries(this.watcherCounts())) m.watchers.set({ state }, n);
  }

  /** Changes the put rate live (re-bases the schedule: no burst; takes effect at once). */
  setRate(rate: number): void {
    const r = loadProfileSchema.innerType().shape.rate.parse(rate);
    this.profile.rate = r;
    this.metrics?.loadTargetRate.set(r);
    if (this.schedule) {
      this.schedule.setRate(r, now());
      if (this.state === 'running') {
        clearTimeout(this.tickTimer);
        if (this.tickImmediate) clearImmediate(this.tickImmediate);
        this.tick();
      }
    }
    this.logger.info({ rate: r }, 'rate changed');
  }

  /** The load's endpoints, in the order connections were spread over them. */
  get endpointList(): readonly string[] {
    return this.endpoints;
  }

  /**
   * An endpoint goes away (its link was removed): its connections move to the remaining endpoints and
   * their watchers resume there. Throws when it is the last one.
   */
  removeEndpoint(endpoint: string): void {
    const i = this.endpoints.indexOf(endpoint);
    if (i < 0) return;
    if (this.endpoints.length === 1) throw new Error(`${endpoint} is the load's only endpoint`);
    this.endpoints.splice(i, 1);
    let n = 0;
    for (const c of this.conns) {
      if (c.endpoint !== endpoint) continue;
      const to = this.endpoints[(c.idx + n++) % this.endpoints.length];
      this.logger.warn({ connection: c.idx, from: endpoint, to }, 'endpoint removed; moving its connection');
      c.moveTo(to, this.newClient(to));
    }
  }

  private interval(): TimelineLine {
    const t = now();
    const dt = (t - this.intervalMark.at) / 1000 || 1;
    const done = this.puts.done;
    this.lastRates = {
      puts: (done - this.intervalMark.puts) / dt,
      events: (this.counts.events - this.intervalMark.events) / dt,
    };
    this.intervalMark = { at: t, puts: done, events: this.counts.events };
    const watch = this.watchStats.takeInterval();
    const self = this.monitor.sample(t);
    // a generator that cannot keep up (one JS thread near a full core, or a late event loop) delays
    // delivery itself: its late events would not be etcd's fault
    if (self.overloaded) {
      this.counts.overloadedIntervals++;
      this.ledger.overloadedIntervals++;
      this.logger.warn(
        { cpu: self.cpu, loopDelayP99: self.loopDelayP99, eventRate: this.lastRates.events },
        'the load generator cannot keep up: lower the rate or watchers; late events of this interval may be its own lag',
      );
    }
    const line: TimelineLine = {
      time: new Date().toISOString(),
      elapsed: Math.round((t - this.startedAt) / 100) / 10,
      targetRate: this.profile.rate,
      putRate: Math.round(this.lastRates.puts * 10) / 10,
      eventRate: Math.round(this.lastRates.events * 10) / 10,
      put: this.puts.okStats.takeInterval(),
      watch,
      inFlight: this.puts.inFlight,
      ...self,
      counts: this.countsSnapshot(),
      violations: { ...this.checker.violations },
      generator: { ...this.ledger },
      watchers: this.watcherCounts(),
      activeFaults: this.opts.faultsProvider?.() ?? [],
    };
    this.report?.appendInterval(line);
    this.emit('interval', line);
    return line;
  }

  private countsSnapshot() {
    const { events, resumes, compacted, overloadedIntervals } = this.counts;
    return { ...this.puts.counts, events, resumes, compacted, overloadedIntervals };
  }

  private watcherCounts(): Record<WatcherStatus, number> {
    const by: Record<WatcherStatus, number> = { starting: 0, watching: 0, resuming: 0, stopped: 0 };
    for (const w of this.watchers) by[w.status]++;
    return by;
  }

  status(): LoadStatus {
    const c = this.checker;
    return {
      runId: this.runId,
      state: this.state,
      startedAt: this.startedIso || undefined,
      elapsed: this.startedAt ? Math.round((now() - this.startedAt) / 100) / 10 : 0,
      profile: { ...this.profile },
      endpoints: [...this.endpoints],
      rates: {
        target: this.profile.rate,
        puts: Math.round(this.lastRates.puts * 10) / 10,
        events: Math.round(this.lastRates.events * 10) / 10,
      },
      inFlight: this.puts.inFlight,
      counts: this.countsSnapshot(),
      violations: c ? { ...c.violations } : { ordered: 0, unique: 0, reliable: 0, unexpected: 0 },
      generator: { ...this.ledger },
      findings: {
        ...(c
          ? c.findings
          : { late: 0, maxLateMs: 0, falseSkips: 0, unverifiedSkips: 0, corruptedWrites: 0, unchecked: 0 }),
        behindAtEnd: this.behindAtEnd,
        behind: this.behindList,
      },
      watchers: this.watcherCounts(),
      latency: {
        put: this.puts.okStats.summary(),
        putError: this.puts.errStats.summary(),
        watch: this.watchStats.summary(),
      },
      lastError: this.lastError,
    };
  }

  /**
   * Stops scheduling, waits for in-flight puts and for outstanding events (at most putTimeout +
   * settle), settles the rest against etcd's record, writes the summary and closes the connections.
   */
  stop(reason = 'stopped'): Promise<LoadSummary> {
    this.stopPromise ??= this.doStop(reason);
    return this.stopPromise;
  }

  private async doStop(reason: string): Promise<LoadSummary> {
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.logger.info({ reason }, 'stopping load');
    clearTimeout(this.tickTimer);
    if (this.tickImmediate) clearImmediate(this.tickImmediate);
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    if (this.checker) {
      // the watchdog keeps running while outstanding events drain: a stream that stalls now is still reset
      this.draining = wasRunning;
      const deadline = now() + this.profile.putTimeout + this.profile.settle;
      while (now() < deadline && (this.puts.inFlight > 0 || this.checker.outstanding())) {
        await new Promise((r) => setTimeout(r, 50));
      }
      this.draining = false;
    }
    clearInterval(this.watchdogTimer);
    if (this.checker) await this.settleWithRecord();
    if (wasRunning) this.interval();
    for (const c of this.conns) c.close();
    this.monitor.stop();
    this.updateWatcherGauges();
    this.state = 'stopped';
    const summary = summarize(this.status(), reason, this.replayResult);
    this.report?.finish(summary);
    this.logger.info(
      { verdict: summary.verdict, counts: summary.counts, generator: summary.generator },
      'load stopped',
    );
    this.emit('done', summary);
    return summary;
  }

  /** The end of the run: settle by etcd's record, then see which watchers had not caught up. */
  private async settleWithRecord(): Promise<void> {
    const c = this.checker;
    const r = await this.record.settle(c, now, this.replayTimeout);
    this.replayResult = r;
    if (r.error)
      this.logger.warn(
        { err: r.error, from: r.from },
        "could not read etcd's record of the run; open questions stay unverified",
      );
    // etcd's record says where each key ended; without it, the last revision the run knows
    const behind = c.behind((k) => (r.replayedTo ? (r.lastOnKey.get(k) ?? 0) : c.lastKnownOnKey(k)));
    this.behindAtEnd = behind.length;
    if (behind.length) {
      const t = now();
      const conns = [...new Set(behind.map((b) => b.connection))].map((i) => this.conns[i].diagnostics(t));
      this.logger.warn(
        { behind: behind.slice(0, 10), count: behind.length, connections: conns },
        'watchers had not reached the last revision of their keys at the end of the run',
      );
    }
    this.behindList = behind.slice(0, 20);
  }

  get startRevision(): number {
    return this.startRev;
  }

  get violationCount(): number {
    return this.checker ? this.checker.totalViolations : 0;
  }
}
