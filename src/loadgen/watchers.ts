// The watch side of the load: one WatchConnection per client connection holds that connection's
// watchers on one watch stream, feeds their events to the checker, and resumes every watcher from its
// last seen mod_revision + 1 when the stream breaks (never from a header revision).
import { performance } from 'node:perf_hooks';
import type { Logger } from '../util/log.js';
import type { Checker, WatcherState } from './checker.js';
import { EtcdWireClient, WatchStream, type WatchEvent } from './wire/client.js';
import { prefixEnd } from './wire/proto.js';

export type WatcherStatus = 'starting' | 'watching' | 'resuming' | 'stopped';

export interface Watcher {
  id: number;
  key: number;
  state: WatcherState;
  status: WatcherStatus;
  attached: boolean;
}

/** What a connection needs from the runner. */
export interface WatchHost {
  readonly checker: Checker;
  readonly logger: Logger;
  /** false once the run is stopping: broken streams are not resumed */
  readonly active: boolean;
  /** `<prefix>/<runId>/` */
  readonly base: string;
  readonly prefixMode: boolean;
  readonly keyBytes: Buffer[];
  readonly keyIndex: Map<string, number>;
  eventsChecked(n: number): void;
  watchLatency(ms: number): void;
  resumed(): void;
  compacted(): void;
  streamBroken(message: string): void;
  statusChanged(): void;
}

export class WatchConnection {
  readonly watchers: Watcher[] = [];
  private stream: WatchStream | undefined;
  private readonly byWatchId = new Map<number, Watcher>();
  private backoffMs = 100;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly idx: number,
    readonly endpoint: string,
    readonly client: EtcdWireClient,
    private readonly host: WatchHost,
  ) {}

  /** Opens a watch stream and (re)creates every watcher from its last revision + 1. */
  async attach(): Promise<void> {
    if (!this.host.active || !this.watchers.length) return;
    const stream = this.client.watchStream();
    this.stream = stream;
    this.byWatchId.clear();
    stream.on('events', (id: number, events: WatchEvent[]) => this.onEvents(id, events));
    stream.on('canceled', (id: number, reason: string, compactRev: number) => this.onCanceled(id, reason, compactRev));
    stream.on('error', (err: Error) => this.onStreamError(stream, err));
    try {
      await Promise.all(this.watchers.map((w) => this.createWatch(stream, w)));
      this.backoffMs = 100;
    } catch (err) {
      this.onStreamError(stream, err as Error);
    }
  }

  private async createWatch(stream: WatchStream, w: Watcher): Promise<void> {
    const { base, prefixMode } = this.host;
    const id = await stream.watch({
      key: prefixMode ? base : this.host.keyBytes[w.key],
      rangeEnd: prefixMode ? prefixEnd(base) : undefined,
      startRevision: w.state.lastRev + 1,
      watchId: w.id + 1,
    });
    if (stream !== this.stream) return;
    this.byWatchId.set(id, w);
    if (w.attached) this.host.resumed();
    w.attached = true;
    w.status = 'watching';
    this.host.statusChanged();
  }

  private onEvents(watchId: number, events: WatchEvent[]): void {
    const w = this.byWatchId.get(watchId);
    if (!w) return;
    const { checker, prefixMode, keyIndex } = this.host;
    const t = performance.now();
    const wall = performance.timeOrigin + t;
    for (const ev of events) {
      let key = w.key;
      if (prefixMode) key = keyIndex.get(Buffer.from(ev.kv.key.buffer, ev.kv.key.byteOffset, ev.kv.key.length).toString('latin1')) ?? -1;
      if (key < 0 || ev.type !== 'put') {
        // a key or a delete nobody in this run wrote: the checker reports it as unexpected
        checker.onEvent(w.state, Math.max(key, 0), ev.kv.modRevision, new Uint8Array(0), t);
        continue;
      }
      const due = checker.onEvent(w.state, key, ev.kv.modRevision, ev.kv.value, t);
      if (due !== undefined) this.host.watchLatency(wall - due);
    }
    this.host.eventsChecked(events.length);
  }

  private onCanceled(watchId: number, reason: string, compactRev: number): void {
    const w = this.byWatchId.get(watchId);
    const stream = this.stream;
    if (!w || !stream) return;
    this.byWatchId.delete(watchId);
    if (compactRev > 0) {
      // history was compacted under the watcher: resume from what is left, counted apart
      this.host.compacted();
      this.host.checker.compacted(w.state, compactRev);
      this.host.logger.warn({ watcher: w.id, compactRevision: compactRev }, 'watch compacted; resuming from the compact revision');
    } else {
      this.host.logger.warn({ watcher: w.id, reason }, 'watch canceled by etcd; re-creating');
    }
    w.status = 'resuming';
    this.createWatch(stream, w).catch((err) => this.onStreamError(stream, err as Error));
  }

  private onStreamError(stream: WatchStream, err: Error): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.close();
    if (!this.host.active) return;
    this.host.streamBroken(`watch stream on ${this.endpoint}: ${err.message}`);
    for (const w of this.watchers) w.status = 'resuming';
    this.host.statusChanged();
    this.host.logger.warn({ connection: this.idx, endpoint: this.endpoint, err: err.message, retryInMs: this.backoffMs }, 'watch stream broke; resuming from last seen revision + 1');
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => void this.attach(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
  }

  close(): void {
    clearTimeout(this.resumeTimer);
    this.stream?.close();
    this.stream = undefined;
    this.client.close();
    for (const w of this.watchers) w.status = 'stopped';
  }
}
