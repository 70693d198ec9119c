// One WatchConnection per client connection holds that connection's watchers on one watch stream,
// feeds their events to the checker, and resumes every watcher from its last seen mod_revision + 1 when
// the stream breaks (never from a header revision).
// It also watches its own stream: one that stays silent while puts on its keys are acknowledged is
// probed with a progress request and, when that goes unanswered too, reset and resumed (a stalled
// stream is the generator's problem, never an etcd verdict).
import { GAP, GARBLED, type WatcherState } from '../../checker.js';
import type { Connection } from '../../pool.js';
import { WatchStream, WireError, type WatchEvent } from '../../wire/client.js';
import { prefixEnd } from '../../wire/proto.js';
import type { GeneratorFault, WorkloadContext } from '../types.js';
import type { LatencyStats } from '../../stats.js';
import { RepeatedAnomalies, sameBytes } from './anomalies.js';
import { markMurky } from '../../revisions.js';

export type WatcherStatus = 'starting' | 'watching' | 'resuming' | 'stopped';

export interface Watcher {
  id: number;
  key: number;
  state: WatcherState;
  status: WatcherStatus;
  attached: boolean;
}

/** The watch fleet's own counts, kept by its connections. */
export interface WatchCounts {
  /** events checked */
  events: number;
  resumes: number;
  compacted: number;
}

/** What a connection needs of its fleet. */
export interface WatchHost {
  readonly ctx: WorkloadContext;
  readonly counts: WatchCounts;
  /** delivery latency of checked events (from their put's due instant) */
  readonly latency: LatencyStats;
  /** the largest of those latencies since the run last looked (the age of the events being checked) */
  recentMaxLatency: number;
  /** `key:rev` of events etcd stores garbled (the same anomaly came back on a fresh stream) */
  readonly storedGarbled: Set<string>;
  /** a watcher's status changed: the fleet's counts follow each transition (no recount) */
  statusChanged(from: WatcherStatus, to: WatcherStatus): void;
}

export class WatchConnection {
  readonly watchers: Watcher[] = [];
  private stream: WatchStream | undefined;
  private readonly byWatchId = new Map<number, Watcher>();
  /** creates sent on the current stream and not yet confirmed: watch id → watcher, its start revision */
  private readonly creating = new Map<number, { w: Watcher; from: number }>();
  private backoffMs = 100;
  private resumeTimer: NodeJS.Timeout | undefined;
  /** first acknowledged put on a watched key since the stream last said anything (0: none) */
  private ackedSince = 0;
  /** when a progress request was sent to a silent stream (0: none outstanding) */
  private probeAt = 0;
  private readonly anomalies = new RepeatedAnomalies<WatchStream>();
  private attachTimer: NodeJS.Timeout | undefined;
  /** watchers behind a known revision: since when, and which revision they wait for */
  private readonly lagging = new Map<number, { target: number; seen: number; since: number }>();
  /** the highest revision this connection's current stream delivered to any of its watchers */
  private maxDelivered = 0;
  /** its watchers not watching (starting, resuming or stopped), kept on each transition */
  private notWatching = 0;

  constructor(
    readonly conn: Connection,
    private readonly host: WatchHost,
  ) {}

  get idx(): number {
    return this.conn.idx;
  }

  get endpoint(): string {
    return this.conn.endpoint;
  }

  private get ctx(): WorkloadContext {
    return this.host.ctx;
  }

  /** Adds a watcher (it starts in 'starting'). */
  add(w: Watcher): void {
    this.watchers.push(w);
    if (w.status !== 'watching') this.notWatching++;
  }

  /** A watcher's status transition: the counts move with it (attaching N watchers stays linear). */
  private setStatus(w: Watcher, to: WatcherStatus): void {
    const from = w.status;
    if (from === to) return;
    w.status = to;
    if (from === 'watching') this.notWatching++;
    else if (to === 'watching') this.notWatching--;
    this.host.statusChanged(from, to);
  }

  private setAll(to: WatcherStatus): void {
    for (const w of this.watchers) this.setStatus(w, to);
  }

  /** every watcher of this connection is watching */
  get allWatching(): boolean {
    return this.notWatching === 0;
  }

  /** Opens a watch stream and (re)creates every watcher from its last revision + 1. */
  async attach(): Promise<void> {
    if (!this.ctx.active || !this.watchers.length) return;
    const stream = this.conn.client.watchStream();
    this.stream = stream;
    this.byWatchId.clear();
    this.creating.clear();
    this.ackedSince = 0;
    this.probeAt = 0;
    this.maxDelivered = 0;
    this.lagging.clear();
    stream.on('created', (id: number) => this.onCreated(stream, id));
    stream.on('events', (id: number, events: WatchEvent[], revision: number) =>
      this.onEvents(stream, id, events, revision),
    );
    stream.on('progress', (id: number, revision: number) => this.onProgress(stream, id, revision));
    stream.on('canceled', (id: number, reason: string, compactRev: number) => this.onCanceled(id, reason, compactRev));
    stream.on('error', (err: Error) => this.onStreamError(stream, err));
    // creates that etcd never confirms (lost on a garbled connection) would leave watchers resuming forever
    clearTimeout(this.attachTimer);
    const stallMs = this.ctx.profile.stallTimeout;
    this.attachTimer = setTimeout(() => {
      if (stream === this.stream && !this.allWatching)
        this.reset('stall', `watch creates on ${this.endpoint} unanswered for ${stallMs} ms`);
    }, stallMs);
    try {
      await Promise.all(this.watchers.map((w) => this.createWatch(stream, w)));
      this.backoffMs = 100;
    } catch (err) {
      this.onStreamError(stream, err as Error);
    }
  }

  private async createWatch(stream: WatchStream, w: Watcher): Promise<void> {
    const { keys, profile } = this.ctx;
    const prefixMode = profile.watchMode === 'prefix';
    const base = keys.base;
    const from = w.state.lastRev + 1;
    const watchId = w.id + 1;
    this.creating.set(watchId, { w, from });
    await stream.watch({
      key: prefixMode ? base : keys.bytes[w.key],
      rangeEnd: prefixMode ? prefixEnd(base) : undefined,
      startRevision: from,
      progressNotify: profile.progressNotify,
      prevKv: profile.prevKv,
      watchId,
    });
  }

  /**
   * etcd confirmed a watch: from here its events are checked. Taken as the confirmation is read, not when
   * watch()'s promise resolves: the events etcd sends right behind it (a resume's catch-up batch) are
   * often handled in the same read, before any promise callback runs, and must find their watcher.
   */
  private onCreated(stream: WatchStream, id: number): void {
    const c = this.creating.get(id);
    if (!c || stream !== this.stream) return;
    this.creating.delete(id);
    const { w, from } = c;
    this.byWatchId.set(id, w);
    // a new watch: bookmarkable, atomic and resumable are judged per watch
    this.ctx.checker.created(w.state, from, w.attached);
    if (w.attached) {
      this.host.counts.resumes++;
      this.ctx.metrics?.watchResumes.inc();
    }
    w.attached = true;
    this.setStatus(w, 'watching');
  }

  private onEvents(stream: WatchStream, watchId: number, events: WatchEvent[], headerRev: number): void {
    const w = this.byWatchId.get(watchId);
    if (!w || stream !== this.stream) return;
    const ctx = this.ctx;
    const { checker, keys } = ctx;
    const prefixMode = ctx.profile.watchMode === 'prefix';
    const keyIndex = keys.index;
    const t = ctx.clock.now();
    const suspect = ctx.transitSuspect();
    if (ctx.events.wantsWatch)
      ctx.events.watch({
        type: 'events',
        workload: 'watch',
        watcher: w.id,
        connection: this.idx,
        at: t,
        revision: headerRev,
        events,
      });
    checker.responseStart(w.state);
    const prevRequested = ctx.profile.prevKv;
    let n = 0;
    for (const ev of events) {
      const rev = ev.kv.modRevision;
      let key = w.key;
      if (prefixMode)
        key =
          keyIndex.get(Buffer.from(ev.kv.key.buffer, ev.kv.key.byteOffset, ev.kv.key.length).toString('latin1')) ?? -1;
      else if (suspect && !sameBytes(ev.kv.key, keys.bytes[w.key])) key = -1;
      let due: number | undefined;
      if (suspect && (rev <= 0 || rev > headerRev)) due = GARBLED;
      else if (key < 0 || ev.type !== 'put') {
        // a delete ends the key's life (for the created check), on a stream that may be trusted
        if (key >= 0 && !suspect) checker.noteDelete(key, rev);
        // a key or a delete nobody in this run wrote: the checker reports it as unexpected
        due = checker.onEvent(w.state, Math.max(key, 0), rev, new Uint8Array(0), t, suspect);
      } else {
        due = checker.onEvent(w.state, key, rev, ev.kv.value, t, suspect);
        // an in-order event of this run's put: its create revision and prev_kv
        if (due !== undefined && due >= 0 && !suspect) checker.checkKv(w.state, key, ev.kv, ev.prevKv, prevRequested);
      }
      if (due === GAP) {
        if (this.anomalies.repeated(`gap:${w.id}:${rev}`, stream)) {
          // the same gap on a fresh stream: that is what etcd delivers; judge it as usual
          due = checker.onEvent(w.state, Math.max(key, 0), rev, ev.kv.value, t, false);
        } else {
          this.checked(n);
          this.cutResponse(w, n);
          this.reset(
            'garbled',
            `watcher ${w.id} skipped known revisions before ${rev} while a drop/corrupt fault was active; re-reading from ${w.state.lastRev + 1} on a fresh stream`,
          );
          return;
        }
      }
      if (due === GARBLED) {
        const id = `${key}:${rev}`;
        if (this.host.storedGarbled.has(id) || this.anomalies.repeated(id, stream)) {
          // the same anomaly on a fresh stream: etcd stores it that way (a write garbled on its way in)
          this.host.storedGarbled.add(id);
          checker.acceptCorrupted(w.state, Math.max(key, 0), rev);
          n++;
          continue;
        }
        this.checked(n);
        this.cutResponse(w, n);
        this.reset(
          'garbled',
          `watcher ${w.id} got an anomalous event at revision ${rev} while a drop/corrupt fault was active; re-reading it on a fresh stream`,
        );
        return;
      }
      n++;
      if (rev > this.maxDelivered) this.maxDelivered = rev;
      if (due !== undefined) {
        const ms = t - due;
        this.host.latency.record(ms);
        if (ms > this.host.recentMaxLatency) this.host.recentMaxLatency = ms;
      }
    }
    this.checked(n);
  }

  /**
   * A response abandoned after `n` of its events: other keys of the last revision taken may follow in it,
   * and the resume starts after that revision, so a skip there is the transport's, not etcd's.
   */
  private cutResponse(w: Watcher, n: number): void {
    if (n > 0) markMurky(w.state.murky, w.state.lastRev, w.state.lastRev);
  }

  private checked(n: number): void {
    this.host.counts.events += n;
    this.ctx.metrics?.watchEvents.inc(n);
  }

  /**
   * A watcher's progress notification: every event up to `revision` was sent to it. (A stream-wide
   * answer to a progress request names no watcher: it only shows the stream is alive.) Not trusted
   * while the transport may be garbled: its revision could be too.
   */
  private onProgress(stream: WatchStream, watchId: number, revision: number): void {
    const w = this.byWatchId.get(watchId);
    if (!w || stream !== this.stream) return;
    const ctx = this.ctx;
    if (ctx.events.wantsWatch)
      ctx.events.watch({
        type: 'progress',
        workload: 'watch',
        watcher: w.id,
        connection: this.idx,
        at: ctx.clock.now(),
        revision,
      });
    if (!ctx.transitSuspect()) ctx.checker.progress(w.state, revision, ctx.clock.now());
  }

  private onCanceled(watchId: number, reason: string, compactRev: number): void {
    const w = this.byWatchId.get(watchId);
    const stream = this.stream;
    if (!w || !stream) return;
    this.byWatchId.delete(watchId);
    const ctx = this.ctx;
    if (ctx.events.wantsWatch)
      ctx.events.watch({
        type: 'canceled',
        workload: 'watch',
        watcher: w.id,
        connection: this.idx,
        at: ctx.clock.now(),
        revision: 0,
        compactRevision: compactRev,
        reason,
      });
    if (compactRev > 0) {
      // history was compacted under the watcher: resume from what is left, counted apart
      this.host.counts.compacted++;
      ctx.checker.compacted(w.state, compactRev);
      ctx.logger.warn(
        { watcher: w.id, compactRevision: compactRev },
        'watch compacted; resuming from the compact revision',
      );
    } else {
      ctx.logger.warn({ watcher: w.id, reason }, 'watch canceled by etcd; re-creating');
    }
    this.setStatus(w, 'resuming');
    this.createWatch(stream, w).catch((err) => this.onStreamError(stream, err as Error));
  }

  private onStreamError(stream: WatchStream, err: Error): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.close();
    if (!this.ctx.active) return;
    this.ctx.generatorFault('streamBroken', `watch stream on ${this.endpoint}: ${err.message}`);
    this.setAll('resuming');
    this.ctx.logger.warn(
      { connection: this.idx, endpoint: this.endpoint, err: err.message, retryInMs: this.backoffMs },
      'watch stream broke; resuming from last seen revision + 1',
    );
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(() => void this.attach(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
  }

  /** Drops the connection (its session too: a garbled or stalled one cannot be trusted) and resumes. */
  reset(kind: GeneratorFault, message: string): void {
    const stream = this.stream;
    this.ctx.generatorFault(kind, message);
    // our own reset: resume at once, not after a growing backoff
    this.backoffMs = 100;
    this.conn.client.resetSession();
    if (stream) this.onStreamError(stream, new WireError('UNAVAILABLE', message));
  }

  /** A put on one of this connection's keys was acknowledged: its event should follow. */
  noteAck(now: number): void {
    if (!this.ackedSince) this.ackedSince = now;
  }

  /**
   * The stall watchdog (called periodically): silent for `stallMs` after an acknowledged put → a
   * progress request; still silent `stallMs` later → the stream is stalled: reset and resume.
   */
  checkStall(now: number, stallMs: number): void {
    const s = this.stream;
    if (!s || !this.allWatching) {
      this.ackedSince = 0;
      this.probeAt = 0;
      this.lagging.clear();
      return;
    }
    if (this.deadWatch(now, 2 * stallMs)) return;
    if (!this.ackedSince) return;
    if (s.lastMessageAt >= this.ackedSince) {
      this.ackedSince = 0;
      this.probeAt = 0;
      return;
    }
    if (!this.probeAt) {
      if (now - this.ackedSince >= stallMs) {
        s.requestProgress();
        this.probeAt = now;
      }
      return;
    }
    if (now - this.probeAt >= stallMs) {
      this.reset(
        'stall',
        `watch stream on ${this.endpoint} silent for ${Math.round(now - this.ackedSince)} ms while puts on its keys were acknowledged, and no answer to a progress request`,
      );
    }
  }

  /**
   * A watch that is dead while its stream lives (its create garbled on the way, say): the watcher has
   * not moved at all for longer than `ms` while it waits for a revision its stream has delivered past to
   * others. Resets and answers true when it finds one.
   */
  private deadWatch(now: number, ms: number): boolean {
    const { checker } = this.ctx;
    for (const w of this.watchers) {
      const st = w.state;
      const target = st.prefix ? checker.maxKnownRev : checker.lastKnownOnKey(w.key);
      const seen = st.prefix ? st.lastRev : st.lastOnKey[0];
      const lag = this.lagging.get(w.id);
      if (seen >= target || target < st.startRev) {
        if (lag) this.lagging.delete(w.id);
        continue;
      }
      // a watcher that moves at all is alive, however far behind (etcd catches slow watchers up later)
      if (!lag || seen !== lag.seen) {
        this.lagging.set(w.id, { target, seen, since: now });
        continue;
      }
      if (now - lag.since >= ms && this.maxDelivered > lag.target) {
        this.reset(
          'stall',
          `watcher ${w.id} on ${this.endpoint} has not moved from revision ${seen} in ${Math.round(now - lag.since)} ms while its stream delivered up to ${this.maxDelivered}`,
        );
        return true;
      }
    }
    return false;
  }

  /** What the stall watchdog sees (for the end-of-run report of a connection that fell behind). */
  diagnostics(now: number): Record<string, unknown> {
    const s = this.stream;
    return {
      connection: this.idx,
      endpoint: this.endpoint,
      stream: s ? (s.closed ? 'closed' : 'open') : 'none',
      silentMs: s && s.lastMessageAt ? Math.round(now - s.lastMessageAt) : undefined,
      ackedSinceMs: this.ackedSince ? Math.round(now - this.ackedSince) : 0,
      probing: !!this.probeAt,
      watchers: this.watchers.length,
      watchIds: this.byWatchId.size,
    };
  }

  /** Its connection moved to another endpoint (a new client): the watchers resume there. */
  moved(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.close();
    clearTimeout(this.resumeTimer);
    this.setAll('resuming');
    if (this.ctx.active) void this.attach();
  }

  /** The end of the run (the connection's client is closed by the run). */
  close(): void {
    clearTimeout(this.resumeTimer);
    clearTimeout(this.attachTimer);
    this.stream?.close();
    this.stream = undefined;
    this.setAll('stopped');
  }
}
