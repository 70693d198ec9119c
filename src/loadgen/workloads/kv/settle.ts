// How the kv workload learns the fate of its indeterminate writes, never by retrying: from etcd's own
// history of the kv prefix. A watcher of the workload's own follows the prefix from the run's start
// revision as the run goes; at the end a fresh watch replays the prefix up to a sentinel write (so the
// replay is known complete even when the last writes were deletes, which a Range would not show). A put
// or CAS is found by its unique value; a delete event no acknowledged delete explains is matched to the
// indeterminate deletes of its key, in invoke order.
import type { Logger } from '../../../util/log.js';
import type { ClientPool } from '../../pool.js';
import { WireError, type WatchEvent, type WatchStream } from '../../wire/client.js';
import { prefixEnd } from '../../wire/proto.js';
import { readToSentinel, replayPrefix } from '../../wire/replay.js';

export interface SettleSink {
  /** a put/CAS value (the workload's own) was written at rev */
  onValue(value: string, rev: number): void;
  /** a delete of a key (by index) at rev */
  onDelete(key: number, rev: number): void;
  /** an event was read of this key (undefined: a key not the workload's, maybe one garbled on the way) */
  onTaken(key: number | undefined): void;
}

/** how long the live watcher waits before it opens again on the next connection */
const REOPEN_MS = 1000;

export class PrefixFollower {
  /** the last revision read from etcd's history of the prefix (by the live watcher or the replay) */
  lastRev = 0;
  private stream: WatchStream | undefined;
  private conn = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** the history before this revision is gone (compacted): the replay cannot settle from it */
  compactedAt = 0;

  constructor(
    private readonly pool: ClientPool,
    private readonly base: string,
    private readonly keyIndex: ReadonlyMap<string, number>,
    private readonly sink: SettleSink,
    private readonly logger: Logger,
  ) {}

  /** Follows the prefix from startRev + 1 (reopening on the next connection when a stream breaks). */
  start(startRev: number): void {
    this.lastRev = startRev;
    this.open();
  }

  private open(): void {
    if (this.stopped || this.compactedAt) return;
    const conns = this.pool.connections;
    const c = conns[this.conn++ % conns.length];
    const stream = c.client.watchStream();
    this.stream = stream;
    const retry = (why: string) => {
      if (this.stream !== stream || this.stopped) return;
      this.stream = undefined;
      stream.close();
      this.logger.debug({ endpoint: c.endpoint, why }, 'kv prefix watcher broke; reopening');
      this.timer = setTimeout(() => this.open(), REOPEN_MS);
    };
    stream.on('events', (_id: number, events: WatchEvent[]) => this.take(events));
    stream.on('canceled', (_id: number, reason: string, compactRev: number) => {
      if (compactRev > 0) {
        this.compactedAt = compactRev;
        this.logger.warn(
          { compactRev },
          'kv prefix watcher: history compacted; indeterminate writes below it stay open',
        );
      }
      retry(reason || 'canceled');
    });
    stream.on('error', (err: Error) => retry(err.message));
    stream
      .watch({ key: this.base, rangeEnd: prefixEnd(this.base), startRevision: this.lastRev + 1 })
      .catch((err: Error) => retry(err.message));
  }

  /** Hands the events on, once each (a reopened or replaying stream may repeat some). */
  private take(events: readonly WatchEvent[]): void {
    for (const ev of events) {
      const rev = ev.kv.modRevision;
      if (rev <= this.lastRev) continue;
      this.lastRev = rev;
      const name = Buffer.from(ev.kv.key.buffer, ev.kv.key.byteOffset, ev.kv.key.length).toString('latin1');
      const key = this.keyIndex.get(name);
      this.sink.onTaken(key);
      if (key === undefined) continue; // the sentinel
      if (ev.type === 'put')
        this.sink.onValue(Buffer.from(ev.kv.value.buffer, ev.kv.value.byteOffset, ev.kv.value.length).toString(), rev);
      else this.sink.onDelete(key, rev);
    }
  }

  /**
   * The end: writes a sentinel under the prefix, then reads the prefix's history up to it (from where the
   * live watcher got to). Resolves true when every revision up to the sentinel was read.
   */
  async catchUp(sentinel: string, timeoutMs: number): Promise<{ complete: boolean; error?: string }> {
    this.stop();
    if (this.compactedAt) return { complete: false, error: `history compacted at ${this.compactedAt}` };
    return readToSentinel(
      this.pool.connections,
      sentinel,
      () => this.lastRev,
      (stream, target) => this.replayTo(stream, target, timeoutMs),
    );
  }

  private replayTo(stream: WatchStream, target: number, timeoutMs: number): Promise<void> {
    return replayPrefix(stream, {
      prefix: this.base,
      startRevision: this.lastRev + 1,
      timeoutMs,
      timeoutError: () => new WireError('TIMEOUT', `replay did not reach ${target}`),
      canceledError: (compactRev) => {
        if (compactRev > 0) this.compactedAt = compactRev;
        return new Error(compactRev > 0 ? `history compacted at ${compactRev}` : 'replay watch canceled');
      },
      onEvents: (events) => {
        this.take(events);
        return this.lastRev >= target;
      },
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stream?.close();
    this.stream = undefined;
  }
}
