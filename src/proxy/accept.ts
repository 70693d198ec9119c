// The accept path of a link: an accepted connection is dialled at once, held while accept-pause is
// active, or waits out an accept delay. When those faults change, held connections are released and
// waiting ones re-timed from their arrival.
import { performance } from 'node:perf_hooks';
import type { Rng } from '../util/rng.js';
import { LongTimer } from '../util/timer.js';
import type { AcceptFaults, TimingStage } from './faults/live.js';

export interface Dialable {
  dial(): void;
}

export class AcceptQueue<C extends Dialable> {
  /** accepted while accept-pause is active */
  private readonly held = new Set<C>();
  /** waiting out an accept delay */
  private readonly waiting = new Map<C, { timer: LongTimer; acceptedAt: number }>();
  /** the accept delay the waiting connections were timed with */
  private timedWith: TimingStage | undefined;

  constructor(
    private readonly faults: AcceptFaults,
    private readonly rng: Rng,
  ) {}

  /** A connection was accepted: hold it, let it wait, or dial now. */
  admit(conn: C): void {
    const delay = this.faults.delay;
    if (this.faults.pause) this.held.add(conn);
    else if (delay) {
      this.timedWith = delay;
      this.wait(conn, performance.now(), delay.deliverAt(this.rng, 0, 0));
    } else conn.dial();
  }

  /** The accept faults may have changed: release held connections, re-time waiting ones. */
  refresh(): void {
    if (this.faults.delay !== this.timedWith) this.retime();
    if (!this.faults.pause && this.held.size > 0) {
      const held = [...this.held];
      this.held.clear();
      for (const c of held) c.dial();
    }
  }

  /** The connection closed. */
  forget(conn: C): void {
    this.held.delete(conn);
    this.waiting.get(conn)?.timer.cancel();
    this.waiting.delete(conn);
  }

  close(): void {
    for (const w of this.waiting.values()) w.timer.cancel();
    this.waiting.clear();
    this.held.clear();
  }

  /** Holds a connection until `delay` ms after `acceptedAt` (performance.now()), then dials. */
  private wait(conn: C, acceptedAt: number, delay: number): void {
    const left = acceptedAt + delay - performance.now();
    if (left <= 0) {
      conn.dial();
      return;
    }
    const timer = new LongTimer(left, () => {
      this.waiting.delete(conn);
      conn.dial();
    });
    this.waiting.set(conn, { timer, acceptedAt });
  }

  /** The accept delay changed: connections waiting out the old one are re-timed (or dialled now). */
  private retime(): void {
    const d = this.faults.delay;
    this.timedWith = d;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const [conn, w] of waiting) {
      w.timer.cancel();
      if (d) this.wait(conn, w.acceptedAt, d.deliverAt(this.rng, 0, 0));
      else conn.dial();
    }
  }
}
