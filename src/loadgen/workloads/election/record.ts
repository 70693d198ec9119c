// etcd's own record of the election: a watch of the workload's folder from the run's start revision,
// fed to the checker (each leader key's create and delete, each proclaim's put) in revision order, so
// every claim is judged against what etcd actually applied. At the end a sentinel put under the folder
// (beside the election's prefix, not in it) and a replay up to it make the record known complete.
// Events read while a drop/corrupt fault may have garbled them taint the record (a flipped key is a
// candidate that never leaves, a flipped revision skips what follows) until a Range at the record's
// revision, read once the links are clean, shows the same live keys.
import type { Logger } from '../../../util/log.js';
import type { ClientPool } from '../../pool.js';
import { WireError, type WatchEvent, type WatchStream } from '../../wire/client.js';
import { prefixEnd } from '../../wire/proto.js';
import { kvRange } from '../../wire/kv.js';
import { readToSentinel, replayPrefix } from '../../wire/replay.js';
import type { ElectionChecker } from './checker.js';

/** how long a broken record watch waits before it opens again on the next connection */
const REOPEN_MS = 500;

const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');

export class ElectionRecord {
  /** the last revision read */
  lastRev = 0;
  /** the history before this revision is gone: the record cannot be complete */
  compactedAt = 0;
  /** when the record last read an event (performance.now ms) */
  lastEventAt = performance.now();
  /** it read events while a drop/corrupt fault may have garbled them, and is not verified since */
  tainted = false;
  private stream: WatchStream | undefined;
  private retry: ((why: string) => void) | undefined;
  private conn: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly pool: ClientPool,
    /** the workload's folder `<prefix>/<runId>-election/` */
    private readonly base: string,
    /** the election's keys `<folder>e/` */
    private readonly keys: string,
    private readonly checker: ElectionChecker,
    private readonly logger: Logger,
    firstConnection: number,
    /** a drop/corrupt fault is (or was within settle) active on a link */
    private readonly transitSuspect: () => boolean = () => false,
  ) {
    this.conn = firstConnection;
  }

  start(startRev: number): void {
    this.lastRev = startRev;
    this.checker.progress(startRev);
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
      this.logger.debug({ endpoint: c.endpoint, why }, 'election record watch broke; reopening');
      this.timer = setTimeout(() => this.open(), REOPEN_MS);
    };
    this.retry = retry;
    stream.on('events', (_id: number, events: WatchEvent[]) => this.take(events));
    stream.on('canceled', (_id: number, reason: string, compactRev: number) => {
      if (compactRev > 0) {
        this.compactedAt = compactRev;
        this.logger.warn({ compactRev }, 'election record: history compacted; claims past it stay unjudged');
      }
      retry(reason || 'canceled');
    });
    stream.on('error', (err: Error) => retry(err.message));
    stream
      .watch({ key: this.base, rangeEnd: prefixEnd(this.base), startRevision: this.lastRev + 1 })
      .catch((err: Error) => retry(err.message));
  }

  /** A stream that stalls (its member cut off) moves to the next connection. */
  reopen(why: string): void {
    this.lastEventAt = performance.now();
    this.retry?.(why);
  }

  /** One response's events, once each: a revision's events (a revoke deletes several keys) come together. */
  private take(events: readonly WatchEvent[]): void {
    const from = this.lastRev;
    this.lastEventAt = performance.now();
    if (events.length && this.transitSuspect()) this.tainted = true;
    for (const ev of events) {
      const rev = ev.kv.modRevision;
      if (rev <= from) continue;
      this.lastRev = Math.max(this.lastRev, rev);
      const key = text(ev.kv.key);
      if (!key.startsWith(this.keys)) this.checker.progress(rev);
      else if (ev.type === 'put') this.checker.recordPut(key, ev.kv.createRevision, rev);
      else this.checker.recordDelete(key, rev);
    }
    this.checker.judge();
  }

  /**
   * Whether the live keys the record shows (`model`, key → create revision, as of `rev`) are etcd's at
   * that revision: 'same', 'differs', or 'unknown' (no answer; a revision etcd never reached or has
   * compacted answers an error too, so the caller bounds its attempts).
   */
  async verify(
    model: ReadonlyMap<string, number>,
    rev: number,
    timeoutMs: number,
  ): Promise<'same' | 'differs' | 'unknown'> {
    const conns = this.pool.connections;
    const c = conns[this.conn % conns.length];
    try {
      const r = await kvRange(c.client, this.keys, { rangeEnd: prefixEnd(this.keys), revision: rev, timeoutMs });
      const same = r.kvs.length === model.size && r.kvs.every((kv) => model.get(text(kv.key)) === kv.createRevision);
      return same ? 'same' : 'differs';
    } catch (err) {
      this.logger.debug({ endpoint: c.endpoint, rev, err: (err as Error).message }, 'election record: verify failed');
      return 'unknown';
    }
  }

  /** The end: a sentinel put, then the folder's history read up to it. */
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
      timeoutError: () => new WireError('TIMEOUT', `election record replay did not reach ${target}`),
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
