// The watch contract's judgement per watch and per response: a watch's (re)creation, response
// boundaries (atomic), progress notifications (bookmarkable), the end-of-run closing of a prefix
// watcher's last revision, and the moves that are not events (a compaction, a write stored garbled).
import { WatchContract } from './contract.js';
import { markMurky } from './revisions.js';
import { newSpan, PAST_WATCHES, type WatcherState } from './watcher-state.js';

export abstract class StreamContract extends WatchContract {
  /** A watch response for this watcher begins (its events follow): atomic is judged across responses. */
  responseStart(w: WatcherState): void {
    w.watch.newResponse = true;
  }

  /** The watcher's watch was (re)created from `from` (a resume when it had one before). */
  created(w: WatcherState, from: number, resumed: boolean): void {
    w.pastWatches.push(w.watch);
    if (w.pastWatches.length > PAST_WATCHES) w.pastWatches.shift();
    w.watch = newSpan(from, resumed);
  }

  /**
   * The end of the run: a prefix watcher's last revision is complete (responses are atomic), so a key
   * written there that it did not get was skipped.
   */
  protected closeLastRevisions(now: number): void {
    for (const w of this.watchers) {
      const last = w.lastRev;
      if (!w.prefix || last < w.startRev || w.strange?.has(last)) continue;
      for (let x = this.ledger.revs.get(last); x; x = x.next) {
        const id = this.sid(last, x.key);
        if (w.lastOnKey[x.key] >= last || w.missing.has(id) || w.suspects.has(id)) continue;
        const span = w.watch;
        const owed = span.resumed && !span.flagged && span.firstEvent === last;
        if (owed) span.flagged = true;
        w.suspects.set(id, { rev: last, key: x.key, since: now, resume: owed });
      }
    }
  }

  /**
   * A progress notification for this watcher at `rev` (etcd sends one only to a synced watcher): every
   * event up to `rev` was sent. Known revisions on its keys it has not seen are skipped (suspects, judged
   * by etcd's record like any skip); one of them arriving later is a reorder.
   */
  progress(w: WatcherState, rev: number, now: number): void {
    const ledger = this.ledger;
    const span = w.watch;
    // bookmarkable: on one watch, progress never goes back and never falls below an event it delivered
    if (rev < span.progress || rev < span.lastEvent) {
      this.report(
        'bookmarkable',
        w,
        w.prefix ? -1 : w.keys[0],
        rev,
        rev < span.progress
          ? `progress notification at ${rev} after one at ${span.progress}`
          : `progress notification at ${rev} below the delivered event at ${span.lastEvent}`,
      );
      return;
    }
    span.progress = rev;
    for (const k of w.keys) {
      const slot = w.prefix ? k : 0;
      const last = w.lastOnKey[slot];
      if (rev <= last) continue;
      ledger.between(ledger.byKey[k], last, rev + 1, (r) => {
        const id = this.sid(r, k);
        if (r >= w.startRev && !w.missing.has(id) && !w.suspects.has(id))
          w.suspects.set(id, { rev: r, key: k, since: now, resume: false });
      });
      w.lastOnKey[slot] = rev;
      if (rev + 0.5 > this.keyMaxSeen[k]) this.keyMaxSeen[k] = rev + 0.5;
    }
    if (rev > w.lastRev) w.lastRev = rev;
    if (rev > w.progressRev) w.progressRev = rev;
    if (w.prefix && rev + 0.5 > this.prefixPassed) this.prefixPassed = rev + 0.5;
  }

  /**
   * etcd stores this event garbled (it came back the same after a fresh stream): a write that an
   * injected fault corrupted on its way in. The watcher moves past it; counted, not a violation.
   */
  acceptCorrupted(w: WatcherState, key: number, rev: number): void {
    if (rev > w.lastRev + 1) markMurky(w.murky, w.lastRev + 1, rev - 1);
    if (!this.corruptedRevs.has(rev)) {
      this.corruptedRevs.add(rev);
      this.findings.corruptedWrites++;
    }
    w.events++;
    if (rev > w.lastRev) {
      w.lastRev = rev;
      const slot = w.prefix ? key : 0;
      if (rev > w.lastOnKey[slot]) w.lastOnKey[slot] = rev;
    }
  }

  /** Watch resumed or restarted: events at or below lastRev are not expected again. */
  compacted(w: WatcherState, compactRev: number): void {
    // history below compactRev is gone: nothing there can be delivered any more
    if (compactRev - 1 > w.lastRev) w.lastRev = compactRev - 1;
    for (let s = 0; s < w.lastOnKey.length; s++) if (w.lastOnKey[s] < compactRev - 1) w.lastOnKey[s] = compactRev - 1;
  }
}
