// The streaming checker's findings, and how it tells a lost write from a stale read. A read that
// returned an older state than the versions at or below its header "skipped" those versions; either
// the read was stale or the version was lost. The witness alone cannot say which at once: a version
// that some read or CAS saw was real, so the reads skipping it were stale; one that nobody ever saw,
// though acknowledged (or settled applied), was lost. A skipped version is judged once no correct read
// could still return it (its successor is older than the window), or at the end.
import { FINDING_KINDS, type Finding, type FindingKind } from './history.js';
import type { Version } from './keylog.js';

/** Reads a skipped version keeps by id (the finding names them); more are counted only. */
const SKIPS_KEPT = 16;

export class FindingLog {
  readonly counts = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<FindingKind, number>;
  readonly out: Finding[] = [];

  constructor(private readonly max: number) {}

  report(kind: FindingKind, key: string, revision: number, ops: number[], detail: string): void {
    this.counts[kind]++;
    if (this.out.length < this.max) this.out.push({ kind, key, revision, ops, detail });
  }
}

export class SkipVerdicts {
  private queue: { due: number; v: Version }[] = [];

  /** window: how long a superseded version may still be read by a correct (slow) read */
  constructor(
    private readonly log: FindingLog,
    private readonly window: number,
  ) {}

  get size(): number {
    return this.queue.length;
  }

  /** Read `read` returned an older state than v, which lies at or below its header. */
  skip(v: Version, read: number, now: number): void {
    if (v.skips?.includes(read)) return;
    if (!v.skips) v.skips = [];
    if (v.skips.length < SKIPS_KEPT) v.skips.push(read);
    if (v.verdict === 'stale') this.stale(v, read);
    else if (v.verdict === undefined && v.skips.length === 1) this.queue.push({ due: now + this.window, v });
  }

  /** Read `read` missed v, which was real (seen, or judged so). */
  stale(v: Version, read: number): void {
    this.log.report('stale-read', v.key, v.rev, [read, v.op], `#${read} missed #${v.op} at ${v.rev}`);
  }

  /** Judges the skipped versions that are due (all of them at the end); `next` is a version's successor. */
  advance(now: number, all: boolean, next: (v: Version) => Version | undefined): void {
    let i = 0;
    while (i < this.queue.length && (all || this.queue[i].due <= now)) {
      const { v } = this.queue[i++];
      const after = next(v);
      if (all || (after && after.added < now - this.window)) this.verdict(v);
      else this.queue.push({ due: now + this.window, v });
    }
    if (i) this.queue.splice(0, i);
  }

  private verdict(v: Version): void {
    if (v.verdict) return;
    if (!v.observed) {
      v.verdict = 'lost';
      const by = v.skips!.map((id) => `#${id}`).join(', ');
      const detail = `#${v.op} at ${v.rev} seen by no read; skipped by ${by}`;
      return this.log.report('lost-write', v.key, v.rev, [v.op, ...v.skips!], detail);
    }
    v.verdict = 'stale';
    for (const id of v.skips!) this.stale(v, id);
  }
}
