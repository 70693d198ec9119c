// The config workload's checker, pure (times and revisions in, findings and figures out). The writer
// never makes a gap itself (each version is a compare-and-set on the previous one's mod revision), so
// every watcher is judged strictly: each version exactly once, in order (`version` = previous + 1),
// mod revisions increasing, across resumes too; and it measures how long after the writer's
// acknowledgement every watcher (convergence) and each watcher (apply) had a version.

export const CONFIG_CHECKS = ['skipped', 'duplicate', 'regressed', 'modOrder', 'stale'] as const;
export type ConfigCheck = (typeof CONFIG_CHECKS)[number];

export interface ConfigFinding {
  check: ConfigCheck;
  watcher: number;
  /** the version the event carried */
  version: number;
  modRevision: number;
  /** the event came after a resume of this watcher and before its next applied version */
  afterResume: boolean;
  detail: string;
}

export interface ConfigSink {
  finding(f: ConfigFinding): void;
  /** a judged latency: `convergence` (ack → every watcher has it) or `apply` (ack → one watcher has it) */
  figure(name: 'convergence' | 'apply', ms: number): void;
}

interface WatcherState {
  /** the highest version applied (0: none yet) */
  version: number;
  /** the highest mod revision applied: the next resume starts after it */
  modRevision: number;
  resumed: boolean;
  /** the next version may legitimately jump (its watch was cancelled by a compaction) */
  gapAllowed: boolean;
}

interface Pending {
  /** when the writer's acknowledgement came (monotonic ms); undefined while not acknowledged */
  ack?: number;
  /** watchers that have this version (or one past it) */
  count: number;
  /** when the last of them got it */
  lastAt: number;
  /** applies before the acknowledgement: their apply figure waits for it */
  early: number;
}

const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);

/** versions awaiting every watcher, at most (a watcher that never catches up must not grow memory) */
const MAX_PENDING = 100_000;

export class ConfigChecker {
  private readonly watchers: WatcherState[];
  private readonly pending = new Map<number, Pending>();
  /** the highest version the writer has acknowledged or learned */
  written = 0;
  /** findings by check */
  readonly counts: Record<ConfigCheck, number> = Object.fromEntries(CONFIG_CHECKS.map((c) => [c, 0])) as Record<
    ConfigCheck,
    number
  >;
  /** versions that left the pending set before every watcher had them (bounded memory) */
  dropped = 0;

  constructor(
    readonly size: number,
    /** the revision the watches start after (the key is fresh: version 1 is the first) */
    startRevision: number,
    private readonly sink: ConfigSink,
  ) {
    this.watchers = Array.from({ length: size }, () => ({
      version: 0,
      modRevision: startRevision,
      resumed: false,
      gapAllowed: false,
    }));
  }

  /** the version a watcher has applied */
  version(w: number): number {
    return this.watchers[w].version;
  }

  /** where a watcher resumes: after the last mod revision it applied */
  resumeRevision(w: number): number {
    return this.watchers[w].modRevision + 1;
  }

  /** watchers whose applied version is below `version` */
  behind(version: number): number[] {
    const out: number[] = [];
    this.watchers.forEach((s, i) => s.version < version && out.push(i));
    return out;
  }

  /** how many watchers have `version` or later */
  current(version: number): number {
    let n = 0;
    for (const s of this.watchers) if (s.version >= version) n++;
    return n;
  }

  /**
   * The writer knows version `version` is in etcd: acknowledged at `ackAt`, or learned by a read-back
   * after an indeterminate write (`ackAt` undefined: no figure, there is no acknowledgement to time from).
   */
  writtenAt(version: number, ackAt: number | undefined): void {
    // the writer is sequential: a version between the last known and this one, seen by watchers before
    // its acknowledgement, never gets one (its write was indeterminate)
    for (let v = this.written + 1; v < version; v++) this.pending.delete(v);
    this.written = Math.max(this.written, version);
    if (ackAt === undefined) {
      this.pending.delete(version);
      return;
    }
    const p = this.entry(version);
    p.ack = ackAt;
    for (; p.early > 0; p.early--) this.sink.figure('apply', 0);
    this.complete(version, p);
  }

  /** A watcher's stream broke and it resumes from resumeRevision(w). */
  resumed(w: number): void {
    this.watchers[w].resumed = true;
  }

  /** A compaction cancelled the watcher's watch: the versions in between are gone, not etcd's fault. */
  allowGap(w: number): void {
    this.watchers[w].gapAllowed = true;
  }

  /** Whether applying this event would be a finding (a transport that may garble it re-reads first). */
  wouldFind(w: number, version: number, modRevision: number): boolean {
    const s = this.watchers[w];
    return version <= s.version || modRevision <= s.modRevision || (version > s.version + 1 && !s.gapAllowed);
  }

  /** A watcher got the config at `version`, written at `modRevision`, at monotonic `at`. */
  applied(w: number, version: number, modRevision: number, at: number): void {
    const s = this.watchers[w];
    const afterResume = s.resumed;
    const find = (check: ConfigCheck, detail: string) => {
      this.counts[check]++;
      this.sink.finding({ check, watcher: w, version, modRevision, afterResume, detail });
    };
    const resumeText = afterResume ? ' after a resume' : '';
    if (version < s.version) {
      find(
        'regressed',
        `watcher ${w} got version ${version} @${modRevision}${resumeText}, after applying ${s.version} @${s.modRevision}`,
      );
      return;
    }
    if (version === s.version) {
      find(
        'duplicate',
        `watcher ${w} got version ${version} @${modRevision} twice${resumeText} (first @${s.modRevision})`,
      );
      return;
    }
    if (modRevision <= s.modRevision)
      find(
        'modOrder',
        `watcher ${w} got version ${version} at mod revision ${modRevision}${resumeText}, not after ${s.modRevision}`,
      );
    if (version > s.version + 1 && !s.gapAllowed)
      find(
        'skipped',
        `watcher ${w} went from version ${s.version} to ${version}${resumeText}: ${version - s.version - 1} skipped`,
      );
    const from = s.version;
    s.version = version;
    s.modRevision = Math.max(s.modRevision, modRevision);
    s.resumed = false;
    s.gapAllowed = false;
    this.reached(from, version, at);
  }

  /** A watcher went from version `from` to `to`: each version in between is one watcher nearer convergence. */
  private reached(from: number, to: number, at: number): void {
    // only tracked versions count (a long jump, after a compaction, must not walk every version)
    const versions =
      to - from > this.pending.size ? [...this.pending.keys()].filter((v) => v > from && v < to) : range(from + 1, to);
    if (versions[versions.length - 1] !== to) versions.push(to);
    for (const v of versions) {
      // versions already complete (or never acknowledged and superseded) are no longer tracked
      if (v <= this.written && !this.pending.has(v)) continue;
      const p = this.entry(v);
      p.count++;
      p.lastAt = Math.max(p.lastAt, at);
      if (v === to) {
        if (p.ack === undefined) p.early++;
        else this.sink.figure('apply', Math.max(0, at - p.ack));
      }
      this.complete(v, p);
    }
  }

  private entry(v: number): Pending {
    let p = this.pending.get(v);
    if (!p) {
      p = { count: 0, lastAt: 0, early: 0 };
      this.pending.set(v, p);
      if (this.pending.size > MAX_PENDING) {
        const oldest = this.pending.keys().next().value!;
        this.pending.delete(oldest);
        this.dropped++;
      }
    }
    return p;
  }

  private complete(v: number, p: Pending): void {
    if (p.count < this.size || p.ack === undefined) return;
    this.sink.figure('convergence', Math.max(0, p.lastAt - p.ack));
    this.pending.delete(v);
  }

  /** At the end: a watcher that never got the final version, judged by the workload (stale or unfinished). */
  stale(w: number, final: number, finalMod: number, detail: string): void {
    const s = this.watchers[w];
    this.counts.stale++;
    this.sink.finding({
      check: 'stale',
      watcher: w,
      version: s.version,
      modRevision: s.modRevision,
      afterResume: s.resumed,
      detail: `watcher ${w} stayed at version ${s.version} @${s.modRevision}, the final is ${final} @${finalMod}: ${detail}`,
    });
  }
}
