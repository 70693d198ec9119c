// The streaming checker's windowed state: each key's versions in revision order (a write placed at its
// revision), the reads already judged (kept a while, so a write learnt late — a settled indeterminate
// one — still catches the reads that skipped it), and the real-time frontier: for any instant, the
// highest position of an operation that had returned by then. Positions put a read after the write at
// its header revision: write at r → 2r, read at h → 2h + 1.
import type { LinOp } from './history.js';

export interface Version {
  rev: number;
  /** null: a delete */
  value: string | null;
  key: string;
  op: number;
  invoke: number;
  /** Infinity when the write's return is unknown (indeterminate, settled later) */
  ret: number;
  /** the checker's clock when it was learnt */
  added: number;
  /** a read returned it, or a CAS compared against it and succeeded */
  observed: boolean;
  /** reads placed after it that returned an older state */
  skips?: number[];
  /** whether skips were judged: lost (nobody saw it) or stale (the reads were wrong) */
  verdict?: 'lost' | 'stale';
}

/** A read-like operation already judged: a get, a delete of nothing, a CAS that failed. */
export interface Placed {
  op: LinOp;
  h: number;
  /** the revision of the version it returned (0: none known) */
  from: number;
  at: number;
  /** already reported (a stale read, a CAS that failed wrongly) */
  stale?: boolean;
}

export class KeyLog {
  versions: Version[] = [];
  private reads: Placed[] = [];
  private readsHead = 0;
  private topHeader = -1;
  /** indeterminate writes not settled yet */
  unsettled = new Set<LinOp>();
  /** versions below this revision were forgotten; the last of them was at forgottenTop */
  floorRev = 0;
  forgottenTop = 0;

  constructor(readonly key: string) {}

  /** Index of the latest version at or below revision h, or -1. */
  atOrBelow(h: number): number {
    const v = this.versions;
    let lo = 0;
    let hi = v.length - 1;
    if (hi >= 0 && v[hi].rev <= h) return hi;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (v[mid].rev <= h) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi;
  }

  /** Whether versions[i] (the latest at or below some revision) is surely that, no forgotten one after it. */
  knows(i: number): boolean {
    return this.forgottenTop === 0 || (i >= 0 && this.versions[i].rev > this.forgottenTop);
  }

  /** Inserts in revision order (usually at the end); returns a version already at that revision. */
  insert(ver: Version): Version | undefined {
    const v = this.versions;
    let i = v.length;
    while (i > 0 && v[i - 1].rev > ver.rev) i--;
    const twin = i > 0 && v[i - 1].rev === ver.rev ? v[i - 1] : undefined;
    if (i === v.length) v.push(ver);
    else v.splice(i, 0, ver);
    return twin;
  }

  place(p: Placed): void {
    this.reads.push(p);
    if (p.h > this.topHeader) this.topHeader = p.h;
  }

  /** Judged reads served at or above revision r (still in the window). */
  *readsAtOrAbove(r: number): Iterable<Placed> {
    // the usual case: a write newer than every judged read
    if (r > this.topHeader) return;
    for (let i = this.readsHead; i < this.reads.length; i++) if (this.reads[i].h >= r) yield this.reads[i];
  }

  /** Forgets versions superseded before `cutoff` (keeping the latest) and reads judged before it. */
  trim(cutoff: number, forget: (v: Version) => void): void {
    const v = this.versions;
    let n = 0;
    while (n + 1 < v.length && v[n + 1].added < cutoff && !(v[n].skips && !v[n].verdict)) n++;
    if (n > 0) {
      for (let i = 0; i < n; i++) forget(v[i]);
      this.forgottenTop = v[n - 1].rev;
      v.splice(0, n);
      this.floorRev = v[0].rev;
    }
    while (this.readsHead < this.reads.length && this.reads[this.readsHead].at < cutoff) this.readsHead++;
    if (this.readsHead > 64 && this.readsHead * 2 > this.reads.length) {
      this.reads = this.reads.slice(this.readsHead);
      this.readsHead = 0;
    }
  }

  get size(): number {
    return this.versions.length + this.reads.length - this.readsHead + this.unsettled.size;
  }
}

/** For each instant, the highest position among operations returned by then (fed in return order). */
export class Frontier {
  private rets: number[] = [];
  private maxPos: number[] = [];
  private maxOp: number[] = [];
  private head = 0;
  private trimmedRet = -Infinity;
  private trimmedPos = -1;
  private trimmedOp = -1;

  push(ret: number, pos: number, op: number): void {
    const n = this.rets.length;
    const last = n > this.head ? this.maxPos[n - 1] : this.trimmedPos;
    const lastOp = n > this.head ? this.maxOp[n - 1] : this.trimmedOp;
    // out-of-order returns are taken as returning with the latest one (a weaker check, never a false one)
    this.rets.push(n > this.head ? Math.max(ret, this.rets[n - 1]) : ret);
    this.maxPos.push(pos > last ? pos : last);
    this.maxOp.push(pos > last ? op : lastOp);
  }

  /** The highest position of an operation that returned strictly before t, and that operation. */
  before(t: number): { pos: number; op: number } | undefined {
    let lo = this.head;
    let hi = this.rets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.rets[mid] < t) lo = mid + 1;
      else hi = mid - 1;
    }
    if (hi >= this.head) return { pos: this.maxPos[hi], op: this.maxOp[hi] };
    return t > this.trimmedRet && this.trimmedPos >= 0 ? { pos: this.trimmedPos, op: this.trimmedOp } : undefined;
  }

  trim(cutoff: number): void {
    while (this.head < this.rets.length - 1 && this.rets[this.head] < cutoff) {
      this.trimmedRet = this.rets[this.head];
      this.trimmedPos = this.maxPos[this.head];
      this.trimmedOp = this.maxOp[this.head];
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.rets.length) {
      this.rets = this.rets.slice(this.head);
      this.maxPos = this.maxPos.slice(this.head);
      this.maxOp = this.maxOp.slice(this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.rets.length - this.head;
  }
}
