// The run's ledger of puts: each put by sequence number with its state, and each revision the run knows
// (acknowledged or seen) by revision, per key and overall in increasing order. A revision may hold
// several keys (a Txn): its entries form a chain, one per key. The watch checker reads
// it to know what a watcher should have seen; it holds no watcher state itself.
import { firstAbove, insertSorted, removeSorted } from './revisions.js';

export type PutState = 'inflight' | 'acked' | 'indeterminate' | 'applied' | 'not_applied';

export interface PutRecord {
  seq: number;
  key: number;
  /** when the put was due (monotonic ms): watch latency is measured from here */
  due: number;
  state: PutState;
  revision: number;
  /** when the put was known to be applied or became indeterminate (monotonic ms) */
  since: number;
}

export interface RevEntry {
  rev: number;
  key: number;
  /** the put's sequence number (its value carries it) */
  seq: number;
  /** the put's due instant (monotonic ms) */
  due: number;
  knownAt: number;
  checked: boolean;
  /** the next key written at the same revision (a Txn), if any */
  next: RevEntry | undefined;
}

export class RunLedger {
  readonly puts = new Map<number, PutRecord>();
  /** revision → the first of its entries (the others follow `next`) */
  readonly revs = new Map<number, RevEntry>();
  /** per key: revisions in increasing order (mostly appended) */
  readonly byKey: number[][];
  /** every known revision, in increasing order (prefix watchers are ordered across all their keys) */
  readonly all: number[] = [];
  /** highest revision known to this run (acked or seen) */
  maxKnownRev = 0;
  /**
   * per key: the highest revision retired (forgotten once settled and passed, or once too old for a
   * far-behind watcher). Seen again later (a late ack, that watcher's delivery), it was judged already.
   */
  readonly retiredTo: number[];
  /** puts in state 'indeterminate' (the periodic replay asks every tick: a count, not a scan) */
  private open = 0;

  constructor(
    keys: number,
    /** an indeterminate (or just failed) put's final state, told once */
    private readonly onSettled: (put: PutRecord, applied: boolean) => void,
  ) {
    this.byKey = Array.from({ length: keys }, () => []);
    this.retiredTo = new Array<number>(keys).fill(0);
  }

  register(seq: number, key: number, due: number): PutRecord {
    const rec: PutRecord = { seq, key, due, state: 'inflight', revision: 0, since: 0 };
    this.puts.set(seq, rec);
    return rec;
  }

  /** The put failed or timed out: indeterminate until seen, or settled by etcd's record. */
  indeterminate(seq: number, now: number): void {
    const rec = this.puts.get(seq);
    if (!rec) return;
    if (rec.revision) {
      // already seen by a watcher before the error came back
      this.settle(rec, true, now);
      return;
    }
    rec.state = 'indeterminate';
    rec.since = now;
    this.open++;
  }

  settle(rec: PutRecord, applied: boolean, now: number): void {
    if (rec.state === 'indeterminate') this.open--;
    rec.state = applied ? 'applied' : 'not_applied';
    rec.since = now;
    this.onSettled(rec, applied);
  }

  /** The put was never sent (no connection): it cannot have been applied. */
  notSent(seq: number): void {
    this.puts.delete(seq);
  }

  /** Records that `rev` holds `rec`'s put; answers the entry, or undefined when it was known already. */
  learn(rev: number, rec: PutRecord, now: number): RevEntry | undefined {
    const head = this.revs.get(rev);
    let tail: RevEntry | undefined;
    for (let x = head; x; x = x.next) {
      if (x.key === rec.key) return undefined;
      tail = x;
    }
    const e: RevEntry = {
      rev,
      key: rec.key,
      seq: rec.seq,
      due: rec.due,
      knownAt: now,
      checked: false,
      next: undefined,
    };
    if (tail) tail.next = e;
    else {
      this.revs.set(rev, e);
      insertSorted(this.all, rev);
    }
    if (rev > this.maxKnownRev) this.maxKnownRev = rev;
    insertSorted(this.byKey[rec.key], rev);
    return e;
  }

  /** The entry of `key` at `rev`, when known. */
  entry(rev: number, key: number): RevEntry | undefined {
    for (let x = this.revs.get(rev); x; x = x.next) if (x.key === key) return x;
    return undefined;
  }

  /** Calls `fn` for every known entry (each revision's chain in turn); `fn` may drop the entry it is given. */
  forEachEntry(fn: (e: RevEntry) => void): void {
    for (const head of this.revs.values()) {
      for (let x: RevEntry | undefined = head; x;) {
        const next: RevEntry | undefined = x.next;
        fn(x);
        x = next;
      }
    }
  }

  /** Drops a revision's entry for one key (believed on a key that etcd's record does not have there, or no longer needed). */
  drop(e: RevEntry): void {
    const head = this.revs.get(e.rev);
    if (head === e) {
      if (e.next) this.revs.set(e.rev, e.next);
      else {
        this.revs.delete(e.rev);
        removeSorted(this.all, e.rev);
      }
    } else {
      for (let x = head; x; x = x.next)
        if (x.next === e) {
          x.next = e.next;
          break;
        }
    }
    removeSorted(this.byKey[e.key], e.rev);
  }

  /** Forgets an entry that can no longer matter (see `retiredTo`). */
  retire(e: RevEntry): void {
    if (e.rev > this.retiredTo[e.key]) this.retiredTo[e.key] = e.rev;
    this.drop(e);
  }

  /** An event of this run's put `rec` (undefined: forgotten) at `rev` on `key` is at a retired revision. */
  retiredPut(key: number, rev: number, rec: PutRecord | undefined): boolean {
    return rev <= this.retiredTo[key] && (!rec || (rec.key === key && rec.revision === rev));
  }

  /** puts still indeterminate (not seen, not yet settled by a replay) */
  get indeterminateCount(): number {
    return this.open;
  }

  /** highest known revision of a key's puts (0 when none) */
  lastOnKey(key: number): number {
    const list = this.byKey[key];
    return list.length ? list[list.length - 1] : 0;
  }

  /** Known revisions of `list` in (`after`, `before`): calls `fn` for each, in order. */
  between(list: number[], after: number, before: number, fn: (rev: number) => void): void {
    if (!list.length || list[list.length - 1] <= after) return;
    for (let i = firstAbove(list, after); i < list.length && list[i] < before; i++) fn(list[i]);
  }

  /** Settled puts older than `horizon` whose revision is forgotten: nothing can ask about them any more. */
  prunePuts(horizon: number): void {
    for (const [seq, rec] of this.puts) {
      if (
        (rec.state === 'acked' || rec.state === 'applied' || rec.state === 'not_applied') &&
        rec.since < horizon &&
        !this.entry(rec.revision, rec.key)
      ) {
        this.puts.delete(seq);
      }
    }
  }

  /** a put is still waiting for its answer */
  anyInFlight(): boolean {
    for (const rec of this.puts.values()) if (rec.state === 'inflight') return true;
    return false;
  }
}
