// The run's history of operations, as a linearizability checker reads it: every operation event in
// the order the generator saw it, and optionally every watch response. Bounded: past `limit` entries
// nothing more is kept and what was dropped is counted, so a long run cannot grow without end.
import type { Observer, OpEvent, WatchResponseEvent } from '../events.js';

export type HistoryEntry = OpEvent | WatchResponseEvent;

export interface HistoryOptions {
  /** entries kept at most (default 100,000) */
  limit?: number;
  /** also keep watch responses (heavy with many watchers; default false) */
  watches?: boolean;
}

export class HistoryRecorder implements Observer {
  readonly name = 'history';
  readonly entries: HistoryEntry[] = [];
  /** entries not kept because the limit was reached */
  dropped = 0;
  readonly limit: number;
  onWatch?: (e: WatchResponseEvent) => void;

  constructor(opts: HistoryOptions = {}) {
    this.limit = opts.limit ?? 100_000;
    if (opts.watches) this.onWatch = (e) => this.keep(e);
  }

  onOp(e: OpEvent): void {
    this.keep(e);
  }

  private keep(e: HistoryEntry): void {
    if (this.entries.length < this.limit) this.entries.push(e);
    else this.dropped++;
  }
}
