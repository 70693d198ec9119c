// The config workload: one writer updates `<prefix>/<runId>-config/config` (JSON with a version counter)
// at configRate per second, open loop; configWatchers watchers apply it, their watches spread over the
// pool's connections (so over members), several per stream. The writer never makes a gap itself
// (writer.ts), so each watcher is judged strictly (checker.ts): every version exactly once, in order,
// mod revisions increasing, across resumes too. Figures: convergence (the writer's acknowledgement of a
// version → every watcher has it) and apply (→ one watcher has it). At the end the watchers get a bounded
// settle to reach the final version; one that does not is stale (a violation) when its stream was healthy
// and etcd's revision had moved past the final write, else unfinished.
import { OpenLoopSchedule } from '../../schedule.js';
import { LatencyStats } from '../../stats.js';
import { WorkloadBook } from '../book.js';
import type { WorkloadLine, WorkloadSection } from '../section.js';
import type { Workload, WorkloadContext } from '../types.js';
import { CONFIG_CHECKS, ConfigChecker, type ConfigFinding } from './checker.js';
import { ConfigStream, type StreamHost } from './streams.js';
import { ConfigWriter } from './writer.js';

export { ConfigChecker, CONFIG_CHECKS, type ConfigFinding } from './checker.js';

const MAX_TICK_MS = 250;
/**
 * Watchers sharing one watch stream, at most: etcd sends a stream's responses one after another, so
 * thousands of watchers on one stream would measure that queue rather than the watch (more streams, on
 * the same connections, are served side by side).
 */
const WATCHERS_PER_STREAM = 100;
/** acknowledgement times kept for the stall check */
const ACKS_KEPT = 4096;
const COUNTS = [
  'versions',
  'learned',
  'casFailed',
  'slips',
  'applied',
  'resumes',
  'stallResets',
  'compacted',
  'reread',
  'undecodable',
  'deletes',
  'unfinished',
  'rebased',
];
const REGRESSED_NOTE =
  'regressed: a version lower than one already applied, in particular after a resume, is the symptom of ' +
  'etcd #15271 (a member that received a snapshot may serve a watch that goes back in revision)';

export class ConfigWorkload implements Workload {
  readonly name = 'config';
  readonly key: string;
  readonly book: WorkloadBook;
  checker: ConfigChecker;
  readonly writer: ConfigWriter;
  readonly streams: ConfigStream[];
  private schedule: OpenLoopSchedule | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private settling = false;
  private done = false;
  /** version → when the writer's acknowledgement came (recent ones, for the stall check) */
  private readonly acks = new Map<number, number>();
  private readonly lineConvergence = new LatencyStats();

  constructor(private readonly ctx: WorkloadContext) {
    const p = ctx.profile;
    this.key = `${p.prefix.replace(/\/+$/, '')}/${ctx.runId}-config/config`;
    this.book = new WorkloadBook(ctx, 'config', { checks: CONFIG_CHECKS, counts: COUNTS });
    // replaced in prepare(), when the start revision is known
    this.checker = this.newChecker(0);
    this.writer = new ConfigWriter(ctx.pool, this.key, () => ctx.profile.putTimeout, ctx.clock, this.book, {
      written: (v, mod, ackAt) => this.written(v, mod, ackAt),
      error: (m) => ctx.error(m),
      transitSuspect: () => ctx.transitSuspect(),
    });
    const host = this.streamHost();
    // streams round-robin over the connections; watcher w on stream w % streams
    const conns = ctx.pool.connections;
    const perConn = Math.ceil(p.configWatchers / (conns.length * WATCHERS_PER_STREAM));
    this.streams = Array.from(
      { length: conns.length * perConn },
      (_, i) => new ConfigStream(conns[i % conns.length], host),
    );
    for (let w = 0; w < p.configWatchers; w++) this.streams[w % this.streams.length].add(w);
    ctx.pool.onMove((c) => this.streams.filter((s) => s.conn === c).forEach((s) => s.moved()));
  }

  private newChecker(startRev: number): ConfigChecker {
    return new ConfigChecker(this.ctx.profile.configWatchers, startRev, {
      finding: (f) => this.finding(f),
      figure: (name, ms) => {
        this.book.figure(name, ms);
        if (name === 'convergence') this.lineConvergence.record(ms);
      },
    });
  }

  private streamHost(): StreamHost {
    // getters: the checker is replaced in prepare(), and liveness changes as the run ends
    const checker = () => this.checker;
    const live = () => !this.done && (this.ctx.active || this.settling);
    return {
      key: this.key,
      get checker() {
        return checker();
      },
      get live() {
        return live();
      },
      transitSuspect: () => this.ctx.transitSuspect(),
      now: () => this.ctx.clock.now(),
      count: (name, n) => this.book.count(name, n),
      error: (m) => this.ctx.error(m),
    };
  }

  get inFlight(): number {
    return this.writer.busy ? 1 : 0;
  }

  /** The watches start right after the run's start revision: the key is fresh, version 1 comes first. */
  async prepare(startRev: number): Promise<void> {
    this.checker = this.newChecker(startRev);
    for (const s of this.streams) s.attach();
  }

  run(): void {
    this.running = true;
    this.schedule = new OpenLoopSchedule(this.ctx.profile.configRate, this.ctx.clock.now());
    this.tick();
  }

  private tick(): void {
    const s = this.schedule;
    if (!s || !this.running) return;
    const clock = this.ctx.clock;
    s.takeDue(clock.now(), () => this.writer.due());
    const next = s.nextDue();
    const wait = next === undefined ? MAX_TICK_MS : Math.max(0, Math.ceil(next - clock.now()));
    this.timer = setTimeout(() => this.tick(), Math.min(wait, MAX_TICK_MS));
  }

  halt(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.writer.halt();
  }

  private written(version: number, modRevision: number, ackAt: number | undefined): void {
    if (ackAt !== undefined) {
      this.book.count('versions');
      this.acks.set(version, ackAt);
      if (this.acks.size > ACKS_KEPT) this.acks.delete(this.acks.keys().next().value!);
    }
    this.checker.writtenAt(version, ackAt);
    this.ctx.logger.debug({ version, modRevision, acknowledged: ackAt !== undefined }, 'config written');
  }

  private finding(f: ConfigFinding): void {
    if (f.check === 'regressed') this.book.note(REGRESSED_NOTE);
    const stream = this.streams[f.watcher % this.streams.length];
    this.book.violation(f.check, {
      key: this.key,
      revision: f.modRevision,
      detail: f.detail,
      watcher: f.watcher,
      connection: stream.conn.idx,
    });
  }

  /** Streams silent while their watchers miss a version acknowledged over stallTimeout ago are resumed. */
  watchdog(now: number): void {
    const stallMs = this.ctx.profile.stallTimeout;
    const since = now - stallMs;
    // the newest version acknowledged before `since`: a watcher without it by now has a silent stream
    let target = 0;
    for (const [v, at] of this.acks) if (at <= since) target = Math.max(target, v);
    if (!target) return;
    for (const s of this.streams) s.checkStall((w) => this.checker.version(w) < target, since);
  }

  /**
   * The end: learn the final version when the last write's fate is unknown, give the watchers a bounded
   * settle to reach it (resuming broken streams meanwhile), then judge who did not.
   */
  async finish(): Promise<void> {
    if (this.done) return;
    this.halt();
    this.settling = true;
    const { ctx, writer } = this;
    // the last write out (the drain waited for it, bounded) must be answered before the final is known
    const waitUntil = ctx.clock.now() + ctx.profile.putTimeout + 1000;
    while (writer.busy && ctx.clock.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
    if (writer.unknown && !(await writer.resolve(3)))
      this.book.note('the last config write stayed indeterminate: watchers were judged against the last known version');
    const final = writer.version;
    const finalMod = writer.modRevision;
    const deadline = ctx.clock.now() + Math.max(ctx.profile.settle, 1000);
    // streams that broke after the run stopped resuming: the settle resumes them
    for (const s of this.streams) s.ensureOpen();
    while (final > 0 && this.checker.behind(final).length && ctx.clock.now() < deadline) {
      for (const s of this.streams) s.requestProgress();
      // the run's watchdog has stopped: a stream that stalls now is still resumed
      this.watchdog(ctx.clock.now());
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const w of final > 0 ? this.checker.behind(final) : []) {
      const s = this.streams[w % this.streams.length];
      if (s.healthy(w) && s.seenRevision >= finalMod)
        this.checker.stale(w, final, finalMod, `its stream was open and at revision ${s.seenRevision}`);
      else this.book.count('unfinished');
    }
    if (this.book.counts.unfinished)
      this.book.note(
        `${this.book.counts.unfinished} watcher(s) did not reach the final version within the settle, their stream broken or not past the final write: counted unfinished, not judged`,
      );
    this.settling = false;
    this.done = true;
    for (const s of this.streams) s.close();
  }

  featureLine(): WorkloadLine {
    const W = this.ctx.profile.configWatchers;
    const version = this.writer.version;
    const current = this.checker.current(version);
    const conv = this.lineConvergence.takeInterval();
    const violations = this.book.violationTotal;
    const p99 = conv.count ? `${Math.round(conv.p99 * 10) / 10}ms` : '-';
    return {
      text: `v${version}, ${current}/${W} watchers current, convergence p99 ${p99}, ${violations} violations`,
      fields: {
        version,
        current,
        watchers: W,
        resumes: this.book.counts.resumes,
        convergenceP99: conv.p99,
        violations,
      },
    };
  }

  section(): WorkloadSection {
    const p = this.ctx.profile;
    return this.book.section({
      watchers: p.configWatchers,
      rate: p.configRate,
      streams: this.streams.filter((s) => s.watchers.length).length,
      key: this.key,
      version: this.writer.version,
    });
  }

  close(): void {
    this.halt();
    this.done = true;
    for (const s of this.streams) s.close();
  }
}
