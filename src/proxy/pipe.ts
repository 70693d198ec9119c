// One direction of a proxied connection: the chunk pipeline
//   read → read stages (blackhole, drop, corrupt) → gate (pause) → timing (delay) → shaping (bandwidth,
//   slice) → write (with backpressure).
// The stages are the direction's live faults (faults/live.ts), in registry order within a phase.
// Chunks stay in one FIFO, so order is kept whatever the faults do. Reading stops while the queue holds
// more than HIGH_WATER bytes, while paused, or while the destination is not draining: memory stays
// bounded and the sender backs up through TCP.
import type { Readable, Writable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { Counter, Histogram } from 'prom-client';
import type { Logger } from '../util/log.js';
import type { Rng } from '../util/rng.js';
import type { DirectionFaults, Shaper, ShapeStage, TimingStage } from './faults/live.js';
import { MAX_TIMER_MS } from '../util/timer.js';
import type { DirectionStats } from './types.js';

const HIGH_WATER = 512 * 1024;
const LOW_WATER = 128 * 1024;
/** below this many ms to the due instant, poll with setImmediate instead of a (coarse) timer */
const SPIN_MS = 1.5;

interface Chunk {
  buf: Buffer;
  /** instant the chunk passed the pause gate; undefined while held by a pause */
  gate: number | undefined;
  deliverAt: number;
  delayed: boolean;
}

export interface PipeMetrics {
  forwarded: Counter.Internal | undefined;
  dropped: Counter.Internal | undefined;
  corrupted: Counter.Internal | undefined;
  blackholed: Counter.Internal | undefined;
  delay: Histogram.Internal<string> | undefined;
}

export interface PipeContext {
  rng: Rng;
  stats: DirectionStats;
  metrics: PipeMetrics | undefined;
  logger: Logger;
  /** 'transmitted' (tx) or 'received' (rx): the debug line etcd-proxy --verbose prints per chunk */
  verb: string;
  from: string;
  to: string;
}

export class Pipe {
  private readonly queue: Chunk[] = [];
  private head = 0;
  private queuedBytes = 0;
  private lastDeliver = 0;
  /** the timing stages the queued chunks were timed with; when the link's change, they are re-timed */
  private timedWith: readonly TimingStage[];
  /** the shaping stages `shapers` were opened for, and this pipe's shapers (one per stage) */
  private shapedWith: readonly ShapeStage[] = [];
  private shapers: Shaper[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private waitingDrain = false;
  private readingStopped = false;
  private srcEnded = false;
  private finished = false;
  private readonly debug: boolean;
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.pump();
  };
  private readonly onImmediate = (): void => {
    this.immediate = undefined;
    this.pump();
  };

  constructor(
    // sockets for a link; the egress also pipes HTTP bodies (IncomingMessage → ClientRequest/ServerResponse)
    private readonly src: Readable,
    private readonly dst: Writable,
    private faults: DirectionFaults,
    private ctx: PipeContext,
  ) {
    this.debug = ctx.logger.isLevelEnabled('debug');
    this.timedWith = faults.timing;
  }

  start(): void {
    this.src.on('data', (b: Buffer) => this.onData(b));
    this.src.on('end', () => {
      this.srcEnded = true;
      this.pump();
    });
    this.dst.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
    this.src.resume();
  }

  /** From now on this pipe follows other faults and counts into another context (queued chunks are re-timed). */
  retarget(faults: DirectionFaults, ctx: PipeContext): void {
    this.faults = faults;
    this.ctx = ctx;
    this.pump();
  }

  /** true once the destination's write side was ended after the source ended */
  get done(): boolean {
    return this.finished;
  }

  private onData(buf: Buffer): void {
    const { stats, metrics } = this.ctx;
    const n = buf.length;
    stats.read += n;
    const f = this.faults;
    const read = f.read;
    for (let i = 0; i < read.length; i++) {
      const v = read[i].read(buf, this.ctx.rng);
      if (v === undefined) continue;
      stats[v.outcome] += n;
      metrics?.[v.outcome]?.inc(n);
      if (v.discard) return;
    }
    // fast path: nothing queued, nothing that holds chunks back
    if (this.queuedBytes === 0 && !this.waitingDrain && !f.holds) {
      this.write(buf);
      return;
    }
    const now = performance.now();
    const chunk: Chunk = { buf, gate: undefined, deliverAt: 0, delayed: false };
    if (!f.gated) this.passGate(chunk, now);
    this.queue.push(chunk);
    this.queuedBytes += n;
    if (this.queuedBytes >= HIGH_WATER || this.holdReads) this.stopReading();
    this.pump();
  }

  private passGate(chunk: Chunk, now: number): void {
    chunk.gate = now;
    const timing = this.faults.timing;
    this.timedWith = timing;
    chunk.deliverAt = this.deliverAt(timing, now, this.lastDeliver);
    chunk.delayed = timing.length > 0;
    this.lastDeliver = chunk.deliverAt;
  }

  /** The delivery instant of a chunk that passed the gate at `gate`: each timing stage in turn. */
  private deliverAt(timing: readonly TimingStage[], gate: number, prev: number): number {
    let t = gate;
    for (let i = 0; i < timing.length; i++) t = timing[i].deliverAt(this.ctx.rng, t, prev);
    return t > prev ? t : prev;
  }

  /** Moves queued chunks forward as far as the faults allow. Safe to call at any time (fault changes). */
  pump(): void {
    if (this.finished) return;
    this.clearTimer();
    const f = this.faults;
    if (f.timing !== this.timedWith) this.retime();
    while (this.head < this.queue.length) {
      const c = this.queue[this.head];
      if (c.gate === undefined) {
        if (f.gated) {
          // a blackhole reads (and discards) ahead of the pause gate, as in etcd's pkg/proxy
          if (f.discardsAll) this.resumeReading();
          else this.stopReading();
          return;
        }
        this.passGate(c, performance.now());
      }
      let now = performance.now();
      if (c.deliverAt > now) {
        this.arm(c.deliverAt - now);
        return;
      }
      if (this.waitingDrain || this.dst.destroyed) return;
      let buf = c.buf;
      if (f.shape.length > 0) {
        // every shaper agrees: the longest wait, the smallest piece
        if (f.shape !== this.shapedWith) this.reshape(f.shape, now);
        const shapers = this.shapers;
        let wait = 0;
        for (let i = 0; i < shapers.length; i++) {
          const w = shapers[i].wait(now);
          if (w > wait) wait = w;
        }
        if (wait > 0) {
          this.arm(wait);
          return;
        }
        let max = buf.length;
        for (let i = 0; i < shapers.length; i++) {
          const m = shapers[i].limit();
          if (m < max) max = m;
        }
        if (buf.length > max) {
          buf = buf.subarray(0, max);
          c.buf = c.buf.subarray(max);
        }
        for (let i = 0; i < shapers.length; i++) shapers[i].took(buf.length, now);
      }
      if (buf === c.buf) {
        this.queue[this.head++] = undefined as unknown as Chunk;
        if (c.delayed) {
          now = performance.now();
          this.ctx.metrics?.delay?.observe((now - c.gate!) / 1000);
        }
      }
      this.queuedBytes -= buf.length;
      this.write(buf);
    }
    // queue empty
    this.queue.length = 0;
    this.head = 0;
    if (this.readingStopped && !this.holdReads) this.resumeReading();
    if (this.srcEnded && !this.finished) {
      this.finished = true;
      if (!this.dst.destroyed) this.dst.end();
    }
  }

  /**
   * The delay fault changed (removed, replaced): chunks already past the gate get their delivery instant
   * from the current one, so a removed 200h delay releases them at once and a replacing delay applies
   * to queued data too. Order is kept: instants stay monotonic along the queue.
   */
  private retime(): void {
    const timing = this.faults.timing;
    this.timedWith = timing;
    let prev = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const c = this.queue[i];
      if (c.gate === undefined) break; // held by a pause: timed when it passes the gate
      c.deliverAt = this.deliverAt(timing, c.gate, prev);
      c.delayed = timing.length > 0;
      prev = c.deliverAt;
    }
    this.lastDeliver = prev;
  }

  /** The shaping faults changed: a shaper per stage, kept for stages that stay (their state goes on). */
  private reshape(stages: readonly ShapeStage[], now: number): void {
    const old = this.shapedWith;
    const shapers = this.shapers;
    this.shapers = stages.map((s) => {
      const i = old.indexOf(s);
      return i >= 0 ? shapers[i] : s.open(now, this.ctx.rng);
    });
    this.shapedWith = stages;
  }

  private write(buf: Buffer): void {
    const { stats, metrics } = this.ctx;
    stats.forwarded += buf.length;
    metrics?.forwarded?.inc(buf.length);
    if (this.debug)
      this.ctx.logger.debug({ 'data-size': buf.length, from: this.ctx.from, to: this.ctx.to }, this.ctx.verb);
    // write() says false above a 16 KiB buffer, nearly always for a 64 KiB chunk; stopping the reads
    // then would churn readStop/readStart per chunk. Keep reading until the socket's own buffer holds
    // HIGH_WATER bytes ('drain' still comes, since write() said false).
    if (!this.dst.write(buf) && this.dst.writableLength >= HIGH_WATER) {
      this.waitingDrain = true;
      this.stopReading();
    } else if (this.readingStopped && this.queuedBytes < LOW_WATER && !this.holdReads) {
      this.resumeReading();
    }
  }

  /** paused (and not blackholed): new chunks would only pile up at the gate */
  private get holdReads(): boolean {
    return this.faults.gated && !this.faults.discardsAll;
  }

  private stopReading(): void {
    if (!this.readingStopped) {
      this.readingStopped = true;
      this.src.pause();
    }
  }

  private resumeReading(): void {
    if (this.readingStopped && !this.waitingDrain) {
      this.readingStopped = false;
      this.src.resume();
    }
  }

  private arm(ms: number): void {
    // never more than Node's timer limit (a larger value would fire after 1 ms): pump re-arms
    if (ms > SPIN_MS) this.timer = setTimeout(this.onTimer, ms - 1 < MAX_TIMER_MS ? ms - 1 : MAX_TIMER_MS);
    else this.immediate = setImmediate(this.onImmediate);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = this.immediate = undefined;
  }

  /** Drops queued data and timers (the connection is going away). */
  dispose(): void {
    this.finished = true;
    this.clearTimer();
    this.queue.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
  }
}
