// The load run: the workloads its profile names (puts and the watch fleet by default) side by side
// over `connections` lean gRPC clients, their operation events heard by the observers (the checker's
// ledger, stats, the history, the report), checked live and settled at the end against etcd's own
// record. The daemon and `etcd-soak load` drive it: start(), setRate(), status(), stop() → summary.
import { EventEmitter } from 'node:events';
import type { Metrics } from '../metrics.js';
import { loadProfileSchema, type LoadProfile } from '../schema/load.js';
import { systemClock, type Clock } from '../util/clock.js';
import { Invalid } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { Checker } from './checker.js';
import { ObserverBus, type Observer, type TimelineMark } from './events.js';
import { HistoryRecorder } from './observers/history.js';
import { LedgerFeed } from './observers/ledger-feed.js';
import { PutStats } from './observers/put-stats.js';
import { RunEvents } from './observers/run-events.js';
import { ClientPool } from './pool.js';
import { EtcdRecord, type ReplayResult } from './record.js';
import type { HashKvResult } from './hashkv.js';
import { settleRunEnd, type BehindWatcher } from './run-end.js';
import { reportObservers } from './observers/report-writer.js';
import { summarize, type GeneratorLedger, type LoadStatus, type LoadSummary } from './report.js';
import { RunProgress } from './progress.js';
import { LAG_FLAG_MS, LagMonitor } from './lag.js';
import { ReceiveQueueProbe } from './receive-queue.js';
import { judgeThresholds } from './thresholds.js';
import { newRunId } from './value.js';
import {
  WORKLOADS,
  KvWorkload,
  PutWorkload,
  WatchWorkload,
  type GeneratorFault,
  type KeySpace,
} from './workloads/index.js';
import type { Workload, WorkloadContext } from './workloads/types.js';

export type { LoadStatus, LoadSummary, TimelineLine } from './report.js';

/** the period of the watchdog: stalls, suspects past settle, the watch side's lag */
const WATCHDOG_MS = 250;

export interface LoadRunnerOptions {
  /** the parsed profile (`loadProfileSchema`): the run keeps its own copy */
  profile: LoadProfile;
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
  /** monotonic time for durations (default: the system clock) */
  clock?: Clock;
  /** more observers of the run's events (a new checker, say) */
  observers?: Observer[];
  /** the history's bound (entries kept at most) */
  historyLimit?: number;
  /** after summary.json is written: finish the report from the run's files (window figures, report.html) */
  onReport?: (dir: string, summary: LoadSummary) => void;
}

/**
 * Events: 'interval'(TimelineLine), 'violation'(Violation), 'outcome'(seq, 'ok' | 'failed' | 'applied' |
 * 'not_applied') for every put's final state, 'done'(LoadSummary).
 */
export class LoadRunner extends EventEmitter {
  readonly runId: string;
  readonly profile: LoadProfile;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly checker: Checker;
  /** every operation event of the run (bounded), for checkers that read a whole history */
  readonly history: HistoryRecorder;
  readonly workloads: Workload[];
  private readonly metrics: Metrics | undefined;
  private readonly keys: KeySpace;
  private readonly pool: ClientPool;
  private readonly bus = new ObserverBus();
  private readonly putStats: PutStats;
  private readonly record: EtcdRecord;
  private readonly progress: RunProgress;
  private readonly ctx: WorkloadContext;
  private state: LoadStatus['state'] = 'created';
  private timers: NodeJS.Timeout[] = [];
  private watchdogTimer: NodeJS.Timeout | undefined;
  /** stopping, but still waiting for outstanding events: broken or stalled streams are still resumed */
  private draining = false;
  private readonly ledger: GeneratorLedger = {
    stalls: 0,
    garbled: 0,
    streamBreaks: 0,
    overloadedIntervals: 0,
    laggingIntervals: 0,
  };
  /** the watch side's lag (the generator's own backlog flagged apart from etcd's delay) */
  private readonly lag: LagMonitor;
  private readonly receiveProbe = new ReceiveQueueProbe(() => this.pool.endpointList);
  private startedAt = 0;
  private startedIso = '';
  /** the store's revision before the run's first put (0 until started) */
  private startRev = 0;
  private behindAtEnd = 0;
  private behindList: BehindWatcher[] = [];
  private hashKv: HashKvResult | undefined;
  private replayResult: ReplayResult | undefined;
  private lastError: string | undefined;
  private stopPromise: Promise<LoadSummary> | undefined;

  constructor(private readonly opts: LoadRunnerOptions) {
    super();
    this.profile = { ...opts.profile, workloads: [...opts.profile.workloads] };
    if (!opts.endpoints.length) throw new Invalid('endpoints: expected at least one "host:port"');
    this.runId = opts.runId ?? newRunId();
    if (!/^[0-9a-z]{8}$/.test(this.runId)) throw new Invalid('runId: expected 8 characters [0-9a-z]');
    const unknown = this.profile.workloads.filter((n) => !Object.hasOwn(WORKLOADS, n));
    if (unknown.length)
      throw new Invalid(`workloads: unknown ${unknown.join(', ')} (known: ${Object.keys(WORKLOADS).join(', ')})`, [
        { path: 'profile.workloads', message: `expected one of ${Object.keys(WORKLOADS).join(', ')}` },
      ]);
    this.logger = (opts.logger ?? silentLogger).child({ run: this.runId });
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? systemClock;
    const base = `${this.profile.prefix.replace(/\/+$/, '')}/${this.runId}/`;
    const names = Array.from({ length: this.profile.keys }, (_, i) => `${base}k${i}`);
    this.keys = { base, names, bytes: names.map((k) => Buffer.from(k)), index: new Map(names.map((k, i) => [k, i])) };
    // a watch response batches at most ~1000 revisions: a larger message means a garbled stream
    const maxMessageBytes = Math.max(16 << 20, 1100 * (this.profile.valueSize + 1024));
    this.pool = new ClientPool(opts.endpoints, this.profile.connections, this.logger, maxMessageBytes);
    this.checker = new Checker({
      runId: this.runId,
      keys: names,
      settleMs: this.profile.settle,
      onViolation: (v) => this.bus.violation(v),
      onSettled: (p, applied) =>
        this.bus.op({
          type: 'settled',
          workload: 'put',
          op: 'put',
          seq: p.seq,
          key: p.key,
          at: this.clock.now(),
          due: p.due,
          connection: -1,
          revision: p.revision,
          applied,
        }),
    });
    // the history first (it sees each operation before anything reacts to it), then the ledger and stats
    this.history = new HistoryRecorder({ limit: opts.historyLimit });
    this.putStats = new PutStats(this.metrics);
    for (const o of [
      this.history,
      this.putStats,
      new LedgerFeed(this.checker),
      new RunEvents(this, this.metrics, this.logger),
    ])
      this.bus.subscribe(o);
    for (const o of opts.observers ?? []) this.bus.subscribe(o);
    this.ctx = this.context();
    this.workloads = this.profile.workloads.map((n) => WORKLOADS[n](this.ctx));
    if (opts.reportDir !== null)
      for (const o of reportObservers(opts.reportDir ?? 'reports', this.runId, {
        clock: this.clock,
        lagMs: this.profile.putTimeout,
        onReport: opts.onReport,
        watchLatency: this.watch?.latency,
        counters: () => ({
          slips: this.puts?.counts.slips ?? 0,
          events: this.watch?.counts.events ?? 0,
          ...this.ledger,
        }),
      }))
        this.bus.subscribe(o);
    this.record = new EtcdRecord(() => this.pool.clients(), this.keys.bytes, base, this.keys.index, this.logger);
    this.progress = new RunProgress(this.clock, this.logger);
    this.lag = new LagMonitor(WATCHDOG_MS, (l) => {
      this.metrics?.generatorLag.set(l.seconds);
      this.metrics?.generatorReceiveBuffered.set(l.receiveBufferedBytes);
    });
  }

  private context(): WorkloadContext {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the context reads the run's live state
    const run = this;
    return {
      runId: this.runId,
      profile: this.profile,
      keys: this.keys,
      pool: this.pool,
      clock: this.clock,
      events: this.bus,
      checker: this.checker,
      logger: this.logger,
      metrics: this.metrics,
      get active() {
        return run.draining || (run.state !== 'stopping' && run.state !== 'stopped');
      },
      transitSuspect: () => this.transitSuspect(),
      generatorFault: (kind, message) => this.generatorFault(kind, message),
      error: (message) => (this.lastError = message),
      violation: (v) => {
        this.checker.violations[v.kind]++;
        this.bus.violation(v);
      },
      anomaly: (a) => {
        this.logger.warn({ anomaly: a }, `${a.workload} anomaly: ${a.kind}`);
        this.bus.mark({ mark: 'anomaly', at: this.clock.wallNow(), ...a });
      },
      opDone: (e) => this.bus.workloadOp(e),
    };
  }

  private get puts(): PutWorkload | undefined {
    return this.workloads.find((w): w is PutWorkload => w instanceof PutWorkload);
  }

  private get kv(): KvWorkload | undefined {
    return this.workloads.find((w): w is KvWorkload => w instanceof KvWorkload);
  }

  private get watch(): WatchWorkload | undefined {
    return this.workloads.find((w): w is WatchWorkload => w instanceof WatchWorkload);
  }

  /** Connects, prepares every workload (the watchers first), then starts them. Retries an unreachable cluster. */
  async start(): Promise<void> {
    if (this.state !== 'created') throw new Error('already started');
    this.state = 'starting';
    this.startedAt = this.clock.now();
    this.startedIso = new Date(this.clock.wallNow()).toISOString();
    this.metrics?.loadTargetRate.set(this.profile.rate);
    const startRev = await this.currentRevision();
    if (this.state !== 'starting') return;
    this.startRev = startRev;
    this.record.begin(startRev);
    this.checker.maxKnownRev = startRev;
    // the run's keys are fresh: none of them existed at its start revision
    this.checker.firstRevision = startRev + 1;
    await Promise.all(this.workloads.map((w) => w.prepare?.(startRev)));
    if (this.state !== 'starting') return;
    this.state = 'running';
    const endpoints = [...this.pool.endpointList];
    this.bus.start({
      runId: this.runId,
      profile: this.profile,
      endpoints,
      startedAt: this.startedIso,
      startRevision: startRev,
    });
    const early = this.earlyMarks ?? [];
    this.earlyMarks = undefined;
    for (const m of early) this.bus.mark(m);
    this.logger.info(
      { profile: this.profile, endpoints, startRevision: startRev, keys: this.keys.names.length },
      'load started',
    );
    this.progress.start(this.clock.now());
    for (const w of this.workloads) w.run?.();
    this.watchdogTimer = setInterval(() => this.watchdog(), WATCHDOG_MS);
    this.timers.push(setInterval(() => this.interval(), this.profile.interval));
    if (this.profile.duration !== undefined)
      this.timers.push(setTimeout(() => void this.stop('duration reached'), this.profile.duration));
  }

  /** The store's revision before the first put, so every watcher sees every put of the run. */
  private async currentRevision(): Promise<number> {
    let delay = 200;
    const conns = this.pool.connections;
    for (let attempt = 0; this.state === 'starting'; attempt++) {
      const conn = conns[attempt % conns.length];
      try {
        const r = await conn.client.range(this.keys.bytes[0], { timeoutMs: 3000, limit: 1 });
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
    const t = this.clock.now();
    this.checker.sweep(t);
    for (const w of this.workloads) w.watchdog?.(t);
    this.sampleLag(t);
    this.record.confirmSkips(this.checker, t);
    // long runs: settle indeterminate puts against etcd's record as the run goes, not only at its end
    // (not while a drop/corrupt fault may garble the replay: the checkpoint must only pass what was read)
    if (!this.transitSuspect())
      this.record.maybeReplay(this.checker, t, 12 * this.profile.settle, () => this.clock.now(), this.replayTimeout);
  }

  /** The watch side's lag: the oldest unprocessed event's age and (while behind) the bytes waiting unread. */
  private sampleLag(t: number): void {
    if (!this.watch) return;
    // the older of: events known (acknowledged) and not processed yet, and the events just checked —
    // when a whole connection is behind, an ack is read no earlier than its event, so only the second
    // shows the lag (what the generator's lateness is apart from etcd's: the bytes waiting unread)
    const ageMs = Math.max(this.checker.oldestUnprocessedAge(t), this.watch.takeRecentMaxLatency());
    // a garbled stream can leave bytes unread that no reader will take (its session waits for a frame
    // that never completes): no evidence of the generator's own backlog then
    const bytes = this.transitSuspect() ? undefined : this.receiveProbe.read(t, ageMs >= LAG_FLAG_MS);
    this.lag.sample({ now: t, ageMs, bytes });
  }

  private get replayTimeout(): number {
    return Math.max(30_000, this.profile.settle * 4);
  }

  private transitSuspect(): boolean {
    return this.opts.integrityFaultsWithin?.(this.profile.settle) ?? false;
  }

  private generatorFault(kind: GeneratorFault, message: string): void {
    if (kind === 'stall') this.ledger.stalls++;
    else if (kind === 'garbled') this.ledger.garbled++;
    else this.ledger.streamBreaks++;
    this.metrics?.generatorFaults.inc({ kind });
    this.lastError = message;
    if (kind !== 'streamBroken') this.logger.warn({ kind }, message);
  }

  /** marks sent before the run started (its report folder does not exist yet) */
  private earlyMarks: TimelineMark[] | undefined = [];

  /** A mark on the timeline (a fault window's edge, a leader change, …) for the observers, until stopped. */
  mark(m: TimelineMark): void {
    if (this.state === 'stopped') return;
    // before the run has started its report (a scenario started with the load) marks wait, bounded
    if (this.earlyMarks) {
      if (this.earlyMarks.length < 1000) this.earlyMarks.push(m);
      return;
    }
    this.bus.mark(m);
  }

  /** Changes the put rate live (re-bases the schedule: no burst; takes effect at once). */
  setRate(rate: number): void {
    const r = loadProfileSchema.innerType().shape.rate.parse(rate);
    this.profile.rate = r;
    this.metrics?.loadTargetRate.set(r);
    for (const w of this.workloads) w.setRate?.(r);
    this.logger.info({ rate: r }, 'rate changed');
  }

  /** The load's endpoints, in the order connections were spread over them. */
  get endpointList(): readonly string[] {
    return this.pool.endpointList;
  }

  /**
   * An endpoint goes away (its link was removed): its connections move to the remaining endpoints and
   * their watchers resume there. Throws when it is the last one.
   */
  removeEndpoint(endpoint: string): void {
    this.pool.removeEndpoint(endpoint);
  }

  private interval(): void {
    const line = this.progress.interval(
      () => this.statusParts(),
      this.opts.faultsProvider?.() ?? [],
      this.ledger,
      this.watch && this.lag,
    );
    line.workloads = this.profile.workloads;
    if (this.kv) line.kv = this.kv.line(line.elapsed);
    for (const w of this.workloads) {
      const f = w.featureLine?.(line.elapsed);
      if (!f) continue;
      (line.features ??= {})[w.name] = f;
      for (const [name, v] of Object.entries(f.fields)) this.metrics?.workloadValue.set({ workload: w.name, name }, v);
    }
    this.bus.interval(line);
    this.emit('interval', line);
  }

  /** what the status and the timeline read from the workloads and observers */
  private statusParts() {
    const puts = this.puts;
    const watch = this.watch;
    const w = watch?.counts ?? { events: 0, resumes: 0, compacted: 0 };
    return {
      targetRate: this.profile.rate,
      putsDone: this.putStats.done,
      events: w.events,
      inFlight: this.workloads.reduce((n, x) => n + x.inFlight, 0),
      counts: {
        issued: puts?.counts.issued ?? 0,
        ...this.putStats.counts,
        slips: puts?.counts.slips ?? 0,
        events: w.events,
        resumes: w.resumes,
        compacted: w.compacted,
        overloadedIntervals: this.ledger.overloadedIntervals,
      },
      putStats: this.putStats,
      watchLatency: watch?.latency,
      violations: { ...this.checker.violations },
      watchers: watch?.watcherCounts() ?? { starting: 0, watching: 0, resuming: 0, stopped: 0 },
    };
  }

  status(): LoadStatus {
    const p = this.statusParts();
    const rates = this.progress.rates;
    const st: LoadStatus = {
      runId: this.runId,
      state: this.state,
      startedAt: this.startedIso || undefined,
      elapsed: this.startedAt ? Math.round((this.clock.now() - this.startedAt) / 100) / 10 : 0,
      profile: { ...this.profile, workloads: [...this.profile.workloads] },
      endpoints: [...this.pool.endpointList],
      rates: { target: this.profile.rate, puts: rates.puts, events: rates.events },
      inFlight: p.inFlight,
      counts: p.counts,
      violations: p.violations,
      generator: { ...this.ledger, ...(this.watch && { lag: this.lag.status }) },
      findings: {
        ...this.checker.findings,
        behindAtEnd: this.behindAtEnd,
        behind: this.behindList,
        ...(this.hashKv ? { hashKv: this.hashKv } : {}),
      },
      watchers: p.watchers,
      latency: {
        put: this.putStats.okStats.summary(),
        putError: this.putStats.errStats.summary(),
        putSend: this.putStats.sendStats.summary(),
        watch: p.watchLatency?.summary() ?? { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 },
      },
      kv: this.kv?.status(),
      features: this.featureSections(),
      lastError: this.lastError,
      thresholds: [],
      passed: true,
    };
    // judged on every status: GET /load says whether the run passes so far
    return Object.assign(st, judgeThresholds(this.profile.thresholds, st));
  }

  /** one section per feature workload that runs (undefined when none does) */
  private featureSections(): LoadStatus['features'] {
    let out: LoadStatus['features'];
    for (const w of this.workloads) {
      const sec = w.section?.();
      if (sec) (out ??= {})[w.name] = sec;
    }
    return out;
  }

  /**
   * Stops scheduling, waits for in-flight operations and for outstanding events (at most putTimeout +
   * settle), settles the rest against etcd's record, writes the summary and closes the connections.
   */
  stop(reason = 'stopped'): Promise<LoadSummary> {
    this.stopPromise ??= this.doStop(reason);
    return this.stopPromise;
  }

  private async doStop(reason: string): Promise<LoadSummary> {
    const wasRunning = this.state === 'running';
    const started = this.startRev > 0 || wasRunning;
    this.state = 'stopping';
    this.logger.info({ reason }, 'stopping load');
    for (const w of this.workloads) w.halt();
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    const clock = this.clock;
    if (started) {
      // the watchdog keeps running while outstanding events drain: a stream that stalls now is still reset
      this.draining = wasRunning;
      const deadline = clock.now() + this.profile.putTimeout + this.profile.settle;
      const busy = () => this.workloads.some((w) => w.inFlight > 0) || this.checker.outstanding();
      while (clock.now() < deadline && busy()) await new Promise((r) => setTimeout(r, 50));
      this.draining = false;
    }
    clearInterval(this.watchdogTimer);
    if (started) await Promise.all(this.workloads.map((w) => w.finish?.()));
    if (started) {
      const end = await settleRunEnd({
        checker: this.checker,
        record: this.record,
        now: () => this.clock.now(),
        replayTimeout: this.replayTimeout,
        logger: this.logger,
        endpoints: this.pool.endpointList,
        transitSuspect: this.transitSuspect(),
        diagnostics: (conns) => this.watch?.diagnostics(conns, this.clock.now()),
      });
      this.replayResult = end.replay;
      this.behindAtEnd = end.behindAtEnd;
      this.behindList = end.behind;
      this.hashKv = end.hashKv;
    }
    // where the watchers ended (the watchdog stopped before the last of them caught up)
    if (started) this.sampleLag(this.clock.now());
    if (wasRunning) this.interval();
    for (const w of this.workloads) w.close();
    this.pool.close();
    this.progress.stop();
    this.state = 'stopped';
    const summary = summarize(this.status(), reason, this.replayResult);
    this.bus.done(summary);
    this.logger.info(
      { verdict: summary.verdict, counts: summary.counts, generator: summary.generator },
      'load stopped',
    );
    this.emit('done', summary);
    return summary;
  }

  get startRevision(): number {
    return this.startRev;
  }

  get violationCount(): number {
    return this.checker.totalViolations;
  }
}
