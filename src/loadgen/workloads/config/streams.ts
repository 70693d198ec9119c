// The config watchers of one connection, on one watch stream: each watcher is its own watch of the
// config key (watch id = watcher + 1, chosen by us, so events are routed before the create is
// confirmed). When the stream breaks, every watcher resumes from its last applied mod revision + 1, as a
// real config watcher does; a stream silent while its watchers miss a version acknowledged long ago is
// closed and resumed too.
import type { Connection } from '../../pool.js';
import type { WatchEvent, WatchStream } from '../../wire/client.js';
import type { ConfigChecker } from './checker.js';
import { parseConfig } from './writer.js';

/** What a stream needs of its workload. */
export interface StreamHost {
  readonly key: string;
  readonly checker: ConfigChecker;
  /** streams open and resume (the run goes, or the end's settle waits for the watchers) */
  readonly live: boolean;
  /** a drop/corrupt fault may have garbled bytes on the way */
  transitSuspect(): boolean;
  now(): number;
  count(name: string, n?: number): void;
  error(message: string): void;
}

export class ConfigStream {
  readonly watchers: number[] = [];
  private stream: WatchStream | undefined;
  private readonly members = new Set<number>();
  /** watchers whose watch etcd confirmed on the current stream */
  private readonly watching = new Set<number>();
  /** watchers that had a watch before: the next is a resume */
  private readonly attached = new Set<number>();
  /** the highest header revision the current stream reported (events or progress) */
  seenRevision = 0;
  /** when the current stream last said anything (monotonic ms, the host's clock) */
  private heardAt = 0;
  private backoffMs = 100;
  private timer: NodeJS.Timeout | undefined;
  /** events re-read on a fresh stream once already (under a garbling fault): `watcher:mod` */
  private readonly reread = new Set<string>();
  private closed = false;

  constructor(
    readonly conn: Connection,
    private readonly host: StreamHost,
  ) {}

  add(w: number): void {
    this.watchers.push(w);
    this.members.add(w);
  }

  /** the watcher's watch is confirmed on a stream that is open */
  healthy(w: number): boolean {
    return !!this.stream && !this.stream.closed && this.watching.has(w);
  }

  /** Opens a stream and (re)creates every watcher's watch from its last applied mod revision + 1. */
  attach(): void {
    clearTimeout(this.timer);
    if (this.closed || !this.host.live || !this.watchers.length) return;
    const stream = this.conn.client.watchStream();
    this.stream = stream;
    this.watching.clear();
    this.seenRevision = 0;
    this.heardAt = this.host.now();
    stream.on('events', (id: number, events: WatchEvent[], rev: number) => this.onEvents(stream, id, events, rev));
    stream.on('progress', (_id: number, rev: number) => {
      if (stream !== this.stream) return;
      this.seenRevision = Math.max(this.seenRevision, rev);
      this.heardAt = this.host.now();
    });
    stream.on('canceled', (id: number, reason: string, compactRev: number) =>
      this.onCanceled(stream, id, reason, compactRev),
    );
    stream.on('error', (err: Error) => this.broken(stream, err.message));
    for (const w of this.watchers) this.create(stream, w);
  }

  private create(stream: WatchStream, w: number): void {
    const { checker } = this.host;
    if (this.attached.has(w)) {
      checker.resumed(w);
      this.host.count('resumes');
    }
    this.attached.add(w);
    stream.watch({ key: this.host.key, startRevision: checker.resumeRevision(w), watchId: w + 1 }).then(
      () => {
        if (stream !== this.stream) return;
        this.heardAt = this.host.now();
        this.watching.add(w);
        this.backoffMs = 100;
      },
      (err: Error) => this.broken(stream, err.message),
    );
  }

  private onEvents(stream: WatchStream, watchId: number, events: WatchEvent[], headerRev: number): void {
    const w = watchId - 1;
    if (stream !== this.stream || !this.members.has(w)) return;
    this.seenRevision = Math.max(this.seenRevision, headerRev);
    const { checker } = this.host;
    const at = this.host.now();
    this.heardAt = at;
    for (const ev of events) {
      if (ev.type !== 'put') {
        // the workload never deletes its key
        this.host.count('deletes');
        this.host.error(`config key deleted at revision ${ev.kv.modRevision} (watcher ${w})`);
        continue;
      }
      const version = parseConfig(ev.kv.value);
      const mod = ev.kv.modRevision;
      const suspect = this.host.transitSuspect();
      if (version === undefined || (suspect && checker.wouldFind(w, version, mod))) {
        const id = `${w}:${mod}`;
        if (suspect && !this.reread.has(id)) {
          // maybe garbled on its way: read it again on a fresh stream before judging it
          this.reread.add(id);
          this.host.count('reread');
          this.restart(`watcher ${w}: an anomalous event at revision ${mod} while a drop/corrupt fault was active`);
          return;
        }
        if (version === undefined) {
          this.host.count('undecodable');
          this.host.error(`config watcher ${w}: the value at revision ${mod} holds no version`);
          continue;
        }
      }
      this.host.count('applied');
      checker.applied(w, version, mod, at);
    }
  }

  private onCanceled(stream: WatchStream, watchId: number, reason: string, compactRev: number): void {
    const w = watchId - 1;
    if (stream !== this.stream || !this.members.has(w)) return;
    this.watching.delete(w);
    if (compactRev > 0) {
      // the versions in between were compacted away: not etcd's fault, resume from what is left
      this.host.count('compacted');
      this.host.checker.allowGap(w);
    } else this.host.error(`config watch ${w} canceled by etcd: ${reason}`);
    if (!this.host.live) return;
    const from = Math.max(compactRev, this.host.checker.resumeRevision(w));
    this.attached.add(w);
    this.host.count('resumes');
    this.host.checker.resumed(w);
    stream.watch({ key: this.host.key, startRevision: from, watchId: w + 1 }).then(
      () => void (stream === this.stream && this.watching.add(w)),
      (err: Error) => this.broken(stream, err.message),
    );
  }

  private broken(stream: WatchStream, message: string): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.watching.clear();
    stream.close();
    this.host.error(`config watch stream on ${this.conn.endpoint}: ${message}`);
    if (this.closed || !this.host.live) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.attach(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
  }

  /** Opens a stream when there is none (one that broke while resuming was off). */
  ensureOpen(): void {
    if (!this.stream) this.attach();
  }

  /** Closes the stream and resumes every watcher at once (a stalled or garbled stream). */
  restart(why: string): void {
    const s = this.stream;
    if (!s) return;
    this.backoffMs = 100;
    this.broken(s, why);
  }

  /**
   * The stall check: a watcher here still misses a version acknowledged before `since`, and the stream
   * said nothing since then either: closed and resumed (counted; the transport's trouble, not etcd's).
   */
  checkStall(missing: (w: number) => boolean, since: number): void {
    const s = this.stream;
    if (!s || this.heardAt >= since) return;
    if (!this.watchers.some(missing)) return;
    this.host.count('stallResets');
    this.restart('silent while its watchers miss an acknowledged version');
  }

  /** asks etcd for the stream's revision (the end's settle tells a stalled stream from a lagging one) */
  requestProgress(): void {
    if (this.stream && !this.stream.closed) this.stream.requestProgress();
  }

  /** The connection moved to another endpoint: its old client is closed, resume on the new one. */
  moved(): void {
    this.restart(`connection moved to ${this.conn.endpoint}`);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    const s = this.stream;
    this.stream = undefined;
    s?.close();
  }
}
