// Streaming linearizability check of a KV history with etcd's witness: writes are totally ordered by
// revision and every response carries the header revision it was served at, so there is no search —
// each write is placed at its revision, each read at its header, and every operation is judged against
// the key's versions and against the operations that had returned before it was invoked. Operations
// come in return order; each is judged `settle` ms after it returned (by then every write it could
// depend on has returned too: `settle` must cover the longest operation), and state older than
// 2 × settle is forgotten except each key's latest version, so memory follows the window, not the run.
import {
  compareHolds,
  describe,
  isEffectiveWrite,
  writtenValue,
  type Expect,
  type Finding,
  type FindingKind,
  type LinCounts,
  type LinOp,
  type LinVerdict,
  newCounts,
} from './history.js';
import { Frontier, KeyLog, type Placed, type Version } from './keylog.js';
import { FindingLog, SkipVerdicts } from './verdicts.js';

export interface LinCheckerOptions {
  /** ms: longer than any operation takes to return or time out (default 5000); the window is twice it */
  settle?: number;
  /** findings kept in full; beyond it they are only counted (default 1000) */
  maxFindings?: number;
}

/** a very stale read is reported against the versions it missed last, not every one */
const SKIPS_PER_READ = 8;
/** how far back a read's missed versions are looked for */
const SCAN_PER_READ = 64;
/** settle() calls for writes not fed yet, kept until they are */
const EARLY_KEPT = 4096;

export class LinChecker {
  private readonly settleMs: number;
  private now = -Infinity;
  private keys = new Map<string, KeyLog>();
  /** value → its write: a version, or an indeterminate / failed write */
  private values = new Map<string, Version | LinOp>();
  private failed: LinOp[] = [];
  private failedHead = 0;
  private revOwner = new Map<number, Version>();
  private queue: { op: LinOp; v?: Version }[] = [];
  private queueHead = 0;
  private unsettled = new Map<number, LinOp>();
  /** indeterminate writes found applied (a later settle() must agree) */
  private applied = new Map<number, Version>();
  private early = new Map<number, number | null>();
  private frontier = new Frontier();
  private lastTrim = -Infinity;
  private log: FindingLog;
  private skips: SkipVerdicts;
  readonly counts: LinCounts;

  constructor(opts: LinCheckerOptions = {}) {
    this.settleMs = opts.settle ?? 5000;
    this.log = new FindingLog(opts.maxFindings ?? 1000);
    this.skips = new SkipVerdicts(this.log, 2 * this.settleMs);
    this.counts = newCounts(this.log.counts);
  }

  /** Feeds one operation that returned (or failed, or timed out); operations come in return order. */
  add(op: LinOp): void {
    const t = op.ret ?? op.invoke;
    if (t > this.now) this.now = t;
    const c = this.counts;
    c.ops++;
    if (op.type === 'get') c.reads++;
    else c.writes++;
    if (op.status === 'fail') {
      c.failed++;
      if (op.value !== undefined) {
        this.values.set(op.value, op);
        this.failed.push(op);
      }
    } else if (op.status === 'indeterminate') {
      c.indeterminate++;
      if (op.type !== 'get') {
        const early = this.early.get(op.id);
        this.early.delete(op.id);
        this.unsettled.set(op.id, op);
        this.key(op.key).unsettled.add(op);
        if (op.value !== undefined) this.values.set(op.value, op);
        if (early !== undefined) this.settle(op.id, early);
      }
    } else if (isEffectiveWrite(op)) {
      const rev = op.rev ?? op.header;
      if (rev === undefined) c.unplaced++;
      else {
        const v = this.learn(op, rev, t);
        this.frontier.push(t, 2 * rev, op.id);
        this.queue.push({ op, v });
      }
    } else if (op.header === undefined) c.unplaced++;
    else {
      this.frontier.push(t, 2 * op.header + 1, op.id);
      this.queue.push({ op });
    }
    this.advance(false);
  }

  /** An indeterminate write's fate, from the watch stream or the replay: its revision, or null if not applied. */
  settle(id: number, rev: number | null): void {
    const op = this.unsettled.get(id);
    if (!op) {
      const known = this.applied.get(id);
      if (known && known.rev !== rev) {
        const at = rev === null ? 'not applied' : `at ${rev}`;
        const detail = `#${id} settled ${at}, but read at ${known.rev}`;
        this.log.report('revision-mismatch', known.key, known.rev, [id], detail);
      } else if (!known && this.early.size < EARLY_KEPT) this.early.set(id, rev);
      return;
    }
    if (rev === null) {
      this.forgetUnsettled(op);
      this.counts.settledNotApplied++;
      if (op.value !== undefined) this.values.delete(op.value);
      return;
    }
    this.apply(op, rev);
  }

  /** Judges everything still pending and gives the whole run's findings and counts. */
  finish(): LinVerdict {
    this.advance(true);
    this.counts.unsettled = this.unsettled.size;
    return { findings: this.log.out.slice(), counts: this.counts };
  }

  /** Findings so far (judged operations only), capped at maxFindings. */
  get findings(): readonly Finding[] {
    return this.log.out;
  }

  /** What the window holds: versions, judged reads, pending operations, frontier entries. */
  get retained(): number {
    let n = this.queue.length - this.queueHead + this.frontier.size + this.skips.size;
    for (const k of this.keys.values()) n += k.size;
    return n;
  }

  private key(key: string): KeyLog {
    let k = this.keys.get(key);
    if (!k) this.keys.set(key, (k = new KeyLog(key)));
    return k;
  }

  private forgetUnsettled(op: LinOp): void {
    this.unsettled.delete(op.id);
    this.key(op.key).unsettled.delete(op);
  }

  /** An indeterminate write known applied at rev: learnt, then judged like an acknowledged write. */
  private apply(op: LinOp, rev: number): Version {
    this.forgetUnsettled(op);
    this.counts.settledApplied++;
    const v = this.learn(op, rev, this.now, Infinity);
    this.applied.set(op.id, v);
    this.judgeWrite(op, v);
    const f = this.frontier.before(op.invoke);
    if (f && 2 * rev < f.pos) this.realTime(op, 2 * rev, f);
    return v;
  }

  private learn(op: LinOp, rev: number, now: number, ret = op.ret ?? Infinity): Version {
    const k = this.key(op.key);
    const v: Version = {
      rev,
      value: writtenValue(op),
      key: op.key,
      op: op.id,
      invoke: op.invoke,
      ret,
      added: now,
      observed: false,
    };
    const twin = k.insert(v) ?? this.revOwner.get(rev);
    if (twin && twin.op !== op.id)
      this.log.report('duplicate-revision', op.key, rev, [op.id, twin.op], `#${op.id} and #${twin.op} (${twin.key})`);
    this.revOwner.set(rev, v);
    if (v.value !== null) this.values.set(v.value, v);
    // reads already judged at or above rev did not know this version yet
    for (const p of k.readsAtOrAbove(rev)) this.judgeRead(k, p);
    return v;
  }

  private advance(all: boolean): void {
    const q = this.queue;
    while (this.queueHead < q.length && (all || (q[this.queueHead].op.ret ?? 0) + this.settleMs <= this.now)) {
      const { op, v } = q[this.queueHead++];
      this.judge(op, v);
    }
    if (this.queueHead > 4096 && this.queueHead * 2 > q.length) {
      this.queue = q.slice(this.queueHead);
      this.queueHead = 0;
    }
    this.skips.advance(this.now, all, (v) => {
      const k = this.key(v.key);
      return k.versions[k.atOrBelow(v.rev) + 1];
    });
    if (this.now - this.lastTrim >= this.settleMs / 4) this.trim();
  }

  private trim(): void {
    this.lastTrim = this.now;
    const cutoff = this.now - 2 * this.settleMs;
    const forget = (v: Version) => {
      if (v.value !== null && this.values.get(v.value) === v) this.values.delete(v.value);
      if (this.revOwner.get(v.rev) === v) this.revOwner.delete(v.rev);
    };
    for (const k of this.keys.values()) k.trim(cutoff, forget);
    this.frontier.trim(cutoff);
    while (this.failedHead < this.failed.length && (this.failed[this.failedHead].ret ?? 0) < cutoff) {
      const op = this.failed[this.failedHead++];
      if (this.values.get(op.value!) === op) this.values.delete(op.value!);
    }
    if (this.failedHead > 1024) {
      this.failed = this.failed.slice(this.failedHead);
      this.failedHead = 0;
    }
  }

  private judge(op: LinOp, v: Version | undefined): void {
    this.counts.judged++;
    const k = this.key(op.key);
    if (v) {
      this.judgeWrite(op, v);
      const f = this.frontier.before(op.invoke);
      if (f && 2 * v.rev < f.pos) this.realTime(op, 2 * v.rev, f);
      return;
    }
    const h = op.header!;
    let from = 0;
    if (op.type === 'get' && typeof op.result === 'string') {
      const w = this.writerOf(k, op);
      if (!w) return;
      from = w.rev;
    }
    const p: Placed = { op, h, from, at: this.now };
    k.place(p);
    this.judgeRead(k, p);
    const f = this.frontier.before(op.invoke);
    if (f && 2 * h + 1 < f.pos && !p.stale) this.realTime(op, 2 * h + 1, f);
  }

  /** The version a get's value came from, after the checks that need only the value. */
  private writerOf(k: KeyLog, op: LinOp): Pick<Version, 'rev'> | undefined {
    const value = op.result as string;
    let w = this.values.get(value);
    if (w && !('observed' in w)) {
      const src = w as LinOp;
      if (src.status === 'fail' || src.key !== op.key) {
        const why = src.status === 'fail' ? `written only by failed #${src.id}` : `written to ${src.key}`;
        return void this.flag('phantom-value', op, op.header!, [src.id], `: ${why}`);
      }
      // a read of an indeterminate write settles it at the read's mod revision
      if (op.rev === undefined) return void this.counts.unplaced++;
      w = this.apply(src, op.rev);
    }
    if (!w) {
      // a version forgotten already: the read is judged against the versions after it
      if (op.rev !== undefined && op.rev < k.floorRev) {
        if (op.rev < k.forgottenTop)
          this.flag('stale-read', op, op.header!, [], `: missed versions up to ${k.forgottenTop}`);
        return { rev: op.rev };
      }
      return void this.flag('phantom-value', op, op.header!, [], `: never written`);
    }
    const v = w as Version;
    if (v.key !== op.key) {
      return void this.flag('phantom-value', op, op.header!, [v.op], `: written to ${v.key}`);
    }
    v.observed = true;
    if (op.rev !== undefined && op.rev !== v.rev)
      this.flag('revision-mismatch', op, op.rev, [v.op], ` at ${op.rev}, written at ${v.rev}`);
    if (v.invoke > op.ret! || v.rev > op.header!)
      this.flag('future-read', op, v.rev, [v.op], ` at header ${op.header}: #${v.op} at ${v.rev}`);
    return v;
  }

  /** A read-like operation against the key's versions at its header (again when a version is learnt late). */
  private judgeRead(k: KeyLog, p: Placed): void {
    const { op, h } = p;
    if (p.stale) return;
    const i = k.atOrBelow(h);
    const latest = i >= 0 ? k.versions[i] : undefined;
    const value = op.type === 'get' && typeof op.result === 'string';
    // the key's state at h was forgotten (a header far behind the window): only what is known can be missed
    if (!value && !k.knows(i)) return;
    if (op.type === 'cas') {
      if (
        compareHolds(op.expect!, latest?.value ?? null, latest?.rev ?? 0) &&
        !this.explained(k, op, latest, h, (u) => spoils(u, op.expect!))
      ) {
        p.stale = true;
        this.flag('cas-mismatch', op, h, [], `, but at ${h} the key was ${show(latest)}`);
      }
      return;
    }
    // the versions it missed: after the one it returned (a value) or after the last delete (nothing)
    const missed: Version[] = [];
    if (!value && latest && latest.value === null) latest.observed = true;
    if (!value && latest && latest.value !== null && this.explained(k, op, latest, h, (u) => u.type === 'del')) return;
    for (let j = i; j >= 0 && j > i - SCAN_PER_READ; j--) {
      const v = k.versions[j];
      if (value ? v.rev <= p.from : v.value === null) break;
      missed.push(v);
    }
    if (!missed.length) return;
    // a read that missed a version someone saw is stale; one that missed only unseen ones may show a lost write
    const seen = missed.find((v) => v.observed || v.verdict === 'stale');
    if (seen) {
      p.stale = true;
      return this.skips.stale(seen, op.id);
    }
    for (const v of missed.slice(0, SKIPS_PER_READ)) this.skips.skip(v, op.id, this.now);
  }

  private judgeWrite(op: LinOp, v: Version): void {
    const k = this.key(op.key);
    const i = k.atOrBelow(v.rev - 1);
    if (!k.knows(i)) return; // settled long after: the state before it was forgotten
    const prev = i >= 0 ? k.versions[i] : undefined;
    if (op.type === 'cas') {
      if (!compareHolds(op.expect!, prev?.value ?? null, prev?.rev ?? 0)) {
        if (!this.explained(k, op, prev, v.rev - 1, (u) => leaves(u, op.expect!)))
          this.flag('cas-mismatch', op, v.rev, [], ` at ${v.rev}, but the key was ${show(prev)}`);
      } else if (prev) prev.observed = true;
    } else if (
      op.type === 'del' &&
      (!prev || prev.value === null) &&
      !this.explained(k, op, prev, v.rev - 1, (u) => u.type !== 'del')
    ) {
      this.flag('delete-mismatch', op, v.rev, [], ` at ${v.rev}, but the key was absent`);
    }
  }

  /** A finding about op (named first), with the others involved; the detail follows op's description. */
  private flag(kind: FindingKind, op: LinOp, revision: number, others: number[], detail: string): void {
    this.log.report(kind, op.key, revision, [op.id, ...others], describe(op) + detail);
  }

  /**
   * Whether an unsettled indeterminate write could have been the state op met instead of `latest`:
   * one that `fits` (could leave the state op needs), invoked before op returned (a timed-out write
   * may still apply much later), with a free revision for it above `latest` and at or below `top`
   * (revisions are global: one no known write holds). When only
   * one write and one revision can, that is where it applied: it is settled there, so what follows is
   * judged against it.
   */
  private explained(
    k: KeyLog,
    op: LinOp,
    latest: Version | undefined,
    top: number,
    fits: (u: LinOp) => boolean,
  ): boolean {
    if (!k.unsettled.size) return false;
    const free = this.freeRevisions((latest?.rev ?? 0) + 1, top);
    if (!free.length) return false;
    const can = [...k.unsettled].filter((u) => u.id !== op.id && fits(u) && u.invoke < (op.ret ?? Infinity));
    if (can.length === 1 && free.length === 1) this.apply(can[0], free[0]);
    return can.length > 0;
  }

  /** Revisions in [from, to] no known write holds (a long range: two, as if it had many). */
  private freeRevisions(from: number, to: number): number[] {
    if (to - from > 64) return [from, to];
    const free: number[] = [];
    for (let r = from; r <= to && free.length < 2; r++) if (!this.revOwner.has(r)) free.push(r);
    return free;
  }

  /** op placed at pos before f, an operation that had returned when op was invoked. */
  private realTime(op: LinOp, pos: number, f: { pos: number; op: number }): void {
    const k = this.key(op.key);
    const at = (pos - (pos & 1)) / 2;
    if (pos & 1 && op.type !== 'cas') {
      // a read below the frontier that missed a version of its own key is stale, not only early
      const top = Math.floor(f.pos / 2);
      const i = k.atOrBelow(top);
      if (i >= 0 && k.versions[i].rev > at) {
        const w = k.versions[i];
        return this.flag(
          'stale-read',
          op,
          at,
          [w.op, f.op],
          ` at ${at}, before #${w.op} at ${w.rev}, which #${f.op} (returned before it began) follows`,
        );
      }
    }
    this.flag(
      'real-time',
      op,
      at,
      [f.op],
      ` placed at ${at}, below #${f.op} at ${Math.floor(f.pos / 2)}, which returned before it began`,
    );
  }
}

/** whether an unsettled write, had it applied, could have left the state a compare expects */
const leaves = (u: LinOp, e: Expect) =>
  'value' in e
    ? e.value === 'absent'
      ? u.type === 'del'
      : u.value === e.value
    : (e.modRevision === 'absent') === (u.type === 'del');

/** whether an unsettled write, had it applied, could have left a state the compare fails on */
const spoils = (u: LinOp, e: Expect) =>
  'value' in e ? !leaves(u, e) : e.modRevision === 'absent' || e.modRevision === 0 ? u.type !== 'del' : true;

const show = (v: Version | undefined) =>
  !v || v.value === null ? 'absent' : `${JSON.stringify(v.value)} (#${v.op} at ${v.rev})`;
