// What the watch checker keeps per watcher, and per watch of it (its create, then each resume): the
// state that ordered/unique/reliable, atomic, bookmarkable and resumable are judged on.
import type { PutRecord } from './ledger.js';
import type { Violation } from './verdict.js';

export interface WatcherState {
  id: number;
  connection: number;
  /** watched key indexes; a prefix watcher watches them all */
  keys: number[];
  prefix: boolean;
  startRev: number;
  lastRev: number;
  /** last revision seen per watched key slot (slot = key index for prefix watchers, else 0) */
  lastOnKey: Float64Array;
  /** suspected skips by `sid(rev, key)`; `resume`: the first event after a resume skipped it */
  suspects: Map<number, Suspect>;
  /**
   * revision spans [from, to] the watcher moved past while a drop/corrupt fault may have garbled its
   * stream: a skip found there later (a revision learned only afterwards) may be the transport's
   */
  murky: number[];
  /** skips handed to etcd's record for a verdict (a late arrival is then a reorder), by `sid(rev, key)` */
  missing: Map<number, { rev: number; key: number; at: number; resume: boolean }>;
  /** the highest revision of a progress notification: every event up to it was sent */
  progressRev: number;
  /** revisions at which it got an event nobody wrote there (reported as unexpected, so never a skip too) */
  strange: Set<number> | undefined;
  events: number;
  /** the current watch (its create, or the last resume): what bookmarkable, atomic and resumable judge */
  watch: WatchSpan;
  /** the watcher's previous watches, newest last */
  pastWatches: WatchSpan[];
}

export interface Suspect {
  rev: number;
  key: number;
  since: number;
  resume: boolean;
}

/** One watch of a watcher, from its create (or resume) on. */
export interface WatchSpan {
  /** its start revision */
  from: number;
  /** a resume: its first event must be the first of the history at or after `from` */
  resumed: boolean;
  /** no event came on it yet */
  first: boolean;
  /** the highest revision of an event it delivered (0: none) */
  lastEvent: number;
  /** the highest revision of a progress notification on it (0: none) */
  progress: number;
  /** the next event opens a new watch response */
  newResponse: boolean;
  /** the revision of its first event (0: none yet) */
  firstEvent: number;
  /** a resumable violation (or a suspect that will be one) was already found on it */
  flagged: boolean;
  /** the progress revision an event below it was already reported against */
  progressFlagged: number;
}

/** past watches kept per watcher (a skip learned late is judged against the watch that owed it) */
export const PAST_WATCHES = 8;

/** A suspected skip waiting for etcd's record: one entry per (key, revision), every watcher that skipped it. */
export interface PendingSkip {
  key: number;
  rev: number;
  watchers: Set<WatcherState>;
  since: number;
  asked: boolean;
}

/** What etcd's history holds at a revision for a key. */
export type RecordAnswer = 'on-key' | 'not-on-key' | 'unavailable';

export interface CheckerOptions {
  runId: string;
  keys: string[];
  settleMs: number;
  onViolation: (v: Violation) => void;
  onSettled?: (put: PutRecord, applied: boolean) => void;
}

/** onEvent's answer when an anomalous event may be the transport's: nothing was recorded, reset the stream. */
export const GARBLED = -1;
/**
 * onEvent's answer when an event skips known revisions while the transport may have lost or misrouted
 * bytes: nothing was recorded; a fresh stream from the watcher's last revision + 1 may fill the gap
 * (then it was not etcd's). The same gap again on a fresh stream is checked as usual.
 */
export const GAP = -2;

/** A fresh watch from `from` (a resume when the watcher had one before). */
export function newSpan(from: number, resumed: boolean): WatchSpan {
  return {
    from,
    resumed,
    first: true,
    lastEvent: 0,
    progress: 0,
    newResponse: false,
    firstEvent: 0,
    flagged: false,
    progressFlagged: 0,
  };
}

/** An event came on the watcher's current watch (it is no longer the first; the response is open). */
export function eventSeen(w: WatcherState, rev: number): void {
  const span = w.watch;
  if (span.first) span.firstEvent = rev;
  span.first = false;
  span.newResponse = false;
  if (rev > span.lastEvent) span.lastEvent = rev;
}

/**
 * An event at a revision the run retired: judged on nothing, the watcher moves past it. Answers the
 * revision it was already past when it was (a delivery again: etcd's), else undefined.
 */
export function retiredEvent(w: WatcherState, key: number, rev: number): number | undefined {
  const seen = w.prefix ? w.lastRev : w.lastOnKey[0];
  w.events++;
  eventSeen(w, rev);
  // a prefix watcher gets every key of its last revision
  if (rev <= seen && !(w.prefix && rev === seen && w.lastOnKey[key] < rev)) return seen;
  const slot = w.prefix ? key : 0;
  if (rev > w.lastRev) w.lastRev = rev;
  if (rev > w.lastOnKey[slot]) w.lastOnKey[slot] = rev;
  return undefined;
}

/**
 * Whether a skip at `rev` learned only now was the first event a resume owed (its watch started at or
 * below it and delivered its first event above it); flags that watch (one resumable per resume).
 */
export function owedFirst(w: WatcherState, rev: number): boolean {
  for (const span of [w.watch, ...w.pastWatches]) {
    // (a prefix watch's first revision may hold other keys it owed too)
    if (span.resumed && !span.flagged && span.firstEvent >= rev && rev >= span.from) {
      span.flagged = true;
      return true;
    }
  }
  return false;
}
