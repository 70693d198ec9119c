// The key-value side of a watch event, judged against the run's per-key history of writes (etcd's
// "created" and prev_kv checks):
// - created: create_revision == mod_revision exactly when the key did not exist before (its first put,
//   or the first after a delete); and the create revision stays the same across a key's life;
// - prev_kv (when the watch asked for it) is the key's state at revision − 1: the previous write's
//   revision, value and create revision, or nothing when the key did not exist.
// The history is what etcd itself delivered (in-order events of this run's puts, and deletes), never an
// acknowledgement (one garbled by an injected fault must not make a violation). It is bounded per key;
// what was forgotten is unknown, and an unknown is never a violation.
import { StreamContract } from './contract-stream.js';
import type { WatcherState } from './watcher-state.js';
import type { RevEntry } from './ledger.js';
import { firstAbove, insertSorted, removeSorted } from './revisions.js';
import { valueSeq } from './value.js';
import type { Kv } from './wire/proto.js';

/** writes remembered per key (a watcher further behind than this on its key is not checked) */
const KEEP = 256;
/** a delete in the history */
const TOMBSTONE = -2;
/** a write whose sequence number is not known */
const UNKNOWN = -1;

interface KeyWrites {
  revs: number[];
  /** per revision: the put's sequence number, UNKNOWN, or TOMBSTONE */
  seqs: Map<number, number>;
  /** per revision: the create revision etcd reported (0: unknown) */
  creates: Map<number, number>;
  /** per revision: the prev_kv revision etcd reported (0: none) when a watch asked for it */
  prevs: Map<number, number>;
  /** revisions at or below this may have been forgotten (0: nothing was) */
  floor: number;
}

export abstract class KvContract extends StreamContract {
  private readonly writes: KeyWrites[] = this.opts.keys.map(() => ({
    revs: [],
    seqs: new Map(),
    creates: new Map(),
    prevs: new Map(),
    floor: 0,
  }));
  /** (key, revision) pairs already reported as created violations (each once, whatever the watchers) */
  private readonly createdReported = new Set<number>();
  /** the run's first revision: its keys (fresh, named by the run id) did not exist before it (0: unknown) */
  firstRevision = 0;
  /** the highest compact revision a watch was canceled with (prev_kv below it cannot be read) */
  private compactedTo = 0;

  private remember(key: number, rev: number, seq: number, create: number, prev?: number): void {
    const h = this.writes[key];
    if (!h || rev <= h.floor) return;
    if (!h.seqs.has(rev)) {
      insertSorted(h.revs, rev);
      if (h.revs.length > KEEP) {
        const old = h.revs.shift()!;
        h.seqs.delete(old);
        h.creates.delete(old);
        h.prevs.delete(old);
        h.floor = old;
      }
    }
    const had = h.seqs.get(rev);
    if (had === undefined || had === UNKNOWN) h.seqs.set(rev, seq);
    if (create && !h.creates.get(rev)) h.creates.set(rev, create);
    if (prev !== undefined && !h.prevs.has(rev)) h.prevs.set(rev, prev);
  }

  protected override forget(e: RevEntry): void {
    super.forget(e);
    const h = this.writes[e.key];
    if (h?.seqs.delete(e.rev)) {
      removeSorted(h.revs, e.rev);
      h.creates.delete(e.rev);
      h.prevs.delete(e.rev);
    }
  }

  /** A delete on a key (the key's life ends there). */
  noteDelete(key: number, rev: number): void {
    this.remember(key, rev, TOMBSTONE, 0);
  }

  override compacted(w: WatcherState, compactRev: number): void {
    super.compacted(w, compactRev);
    if (compactRev > this.compactedTo) this.compactedTo = compactRev;
  }

  /**
   * Checks an in-order event of this run's put on `key` (never one the transport may have garbled):
   * its create revision, and its prev_kv when `prevRequested`. Then remembers it.
   */
  checkKv(w: WatcherState, key: number, kv: Kv, prevKv: Kv | undefined, prevRequested: boolean): void {
    const rev = kv.modRevision;
    const problem =
      this.kvProblem(w, key, kv, prevKv, prevRequested) ?? this.otherDelivery(key, kv, prevKv, prevRequested);
    // what was found wrong is not remembered: it must not make the key's next event look wrong
    this.remember(
      key,
      rev,
      valueSeq(kv.value, this.runIdBytes),
      problem ? 0 : kv.createRevision,
      problem || !prevRequested ? undefined : (prevKv?.modRevision ?? 0),
    );
    if (!problem) return;
    const id = this.sid(rev, key);
    if (this.createdReported.has(id)) return;
    if (this.createdReported.size > 10_000) this.createdReported.clear();
    this.createdReported.add(id);
    this.report('created', w, key, rev, problem);
  }

  /** etcd has one history: another watcher's delivery of this event must carry the same create and prev_kv. */
  private otherDelivery(key: number, kv: Kv, prevKv: Kv | undefined, prevRequested: boolean): string | undefined {
    const h = this.writes[key];
    const rev = kv.modRevision;
    const create = h.creates.get(rev);
    if (create && create !== kv.createRevision)
      return `create_revision ${kv.createRevision}, another watcher got ${create} for this event`;
    const prev = prevRequested ? h.prevs.get(rev) : undefined;
    if (prev !== undefined && prev !== (prevKv?.modRevision ?? 0))
      return `prev_kv at ${prevKv?.modRevision ?? 'none'}, another watcher got ${prev || 'none'} for this event`;
    return undefined;
  }

  private kvProblem(
    w: WatcherState,
    key: number,
    kv: Kv,
    prevKv: Kv | undefined,
    prevRequested: boolean,
  ): string | undefined {
    const rev = kv.modRevision;
    const c = kv.createRevision;
    const h = this.writes[key];
    if (c <= 0 || c > rev) return `create_revision ${c} with mod_revision ${rev}`;
    if (this.firstRevision && c < this.firstRevision)
      return `create_revision ${c} is before the run began (its keys did not exist)`;
    // the latest write known below rev, when the history reaches that far (a binary search: with
    // watchers spread over streams, the newest writes are often far above the event being checked)
    const below = firstAbove(h.revs, rev - 1) - 1;
    const before = below >= 0 ? h.revs[below] : 0;
    const beforeSeq = before ? h.seqs.get(before) : undefined;
    const existed = before > 0 && beforeSeq !== TOMBSTONE;
    if (c === rev && existed) return `create_revision == mod_revision ${rev}, but the key was written at ${before}`;
    if (c < rev && before > 0 && beforeSeq === TOMBSTONE)
      return `create_revision ${c} < mod_revision ${rev}, but the key was deleted at ${before}`;
    const beforeCreate = existed ? h.creates.get(before) : 0;
    if (c < rev && beforeCreate && beforeCreate !== c)
      return `create_revision ${c}, but the key's write at ${before} was created at ${beforeCreate}`;
    if (!prevRequested) return undefined;
    if (!prevKv) {
      // etcd reads prev_kv at rev − 1: below a compaction it cannot, and says nothing
      if (rev - 1 < this.compactedTo) return undefined;
      if (c < rev) return `no prev_kv, but the key existed (create_revision ${c})`;
      if (existed) return `no prev_kv, but the key was written at ${before}`;
      return undefined;
    }
    const p = prevKv.modRevision;
    if (c === rev) return `prev_kv (mod_revision ${p}) for a key that did not exist (create_revision ${rev})`;
    if (p <= 0 || p >= rev) return `prev_kv mod_revision ${p} is not below the event's ${rev}`;
    if (prevKv.createRevision !== c)
      return `prev_kv create_revision ${prevKv.createRevision}, the event's ${c} (the same life of the key)`;
    if (before > p) return `prev_kv at ${p}, but the key was written at ${before} (state at ${rev - 1})`;
    const known = h.seqs.get(p);
    if (known === TOMBSTONE) return `prev_kv at ${p}, where the key was deleted`;
    if (known !== undefined && known !== UNKNOWN) {
      const seq = valueSeq(prevKv.value, this.runIdBytes);
      if (seq !== known)
        return `prev_kv value ${seq >= 0 ? `of put ${seq}` : 'not written by this run'} at ${p}, the key held put ${known} there`;
    }
    return undefined;
  }
}
