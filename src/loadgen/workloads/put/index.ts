// The put workload: open-loop puts with unique self-describing values, never retried, spread over the
// keys (seq % keys) and the connections (seq % connections). With `txnKeys` above 1 each put is a Txn
// writing that many consecutive keys at one revision (one sequence number and value per key). Each put is told as operation events:
// invoke, then ok (with its revision), fail (never sent: no connection) or indeterminate (sent, no
// answer); the ledger settles an indeterminate one later.
import type { OpEvent } from '../../events.js';
import { OpenLoopSchedule } from '../../schedule.js';
import { encodeValue } from '../../value.js';
import type { WireError } from '../../wire/client.js';
import type { Workload, WorkloadContext } from '../types.js';

/** the scheduler never sleeps longer than this, so a rate change takes effect within one tick */
const MAX_TICK_MS = 250;
/**
 * The scheduler sleeps on a plain timer until the next put is due, never spinning: a spin on setImmediate
 * for the last ms before each put kept the event loop (and a core shared with etcd) busy at high rates.
 * The timer may fire up to about a millisecond late; how late each put was sent is measured apart
 * (latency.putSend, etcd_soak_put_send_lateness_seconds), so it is never mistaken for etcd's.
 */

export class PutWorkload implements Workload {
  readonly name = 'put';
  /** puts due (issued) and puts not sent because maxInFlight was reached (slips) */
  readonly counts = { issued: 0, slips: 0 };
  inFlight = 0;
  private seq = 0;
  private schedule: OpenLoopSchedule | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private tickImmediate: NodeJS.Immediate | undefined;
  private running = false;
  private indeterminate = 0;

  constructor(private readonly ctx: WorkloadContext) {}

  run(): void {
    this.running = true;
    this.schedule = new OpenLoopSchedule(this.ctx.profile.rate, this.ctx.clock.now());
    this.tick();
  }

  setRate(rate: number): void {
    if (!this.schedule) return;
    this.schedule.setRate(rate, this.ctx.clock.now());
    if (this.running) {
      this.clearTick();
      this.tick();
    }
  }

  halt(): void {
    this.running = false;
    this.clearTick();
  }

  close(): void {
    this.halt();
  }

  private clearTick(): void {
    clearTimeout(this.tickTimer);
    if (this.tickImmediate) clearImmediate(this.tickImmediate);
    this.tickTimer = undefined;
    this.tickImmediate = undefined;
  }

  private tick(): void {
    this.tickTimer = undefined;
    this.tickImmediate = undefined;
    const s = this.schedule;
    if (!s || !this.running) return;
    const clock = this.ctx.clock;
    s.takeDue(clock.now(), (due) => this.issue(due));
    const next = s.nextDue();
    // rate 0 or a long gap: look again after at most one tick (setRate also re-ticks at once)
    const wait = next === undefined ? MAX_TICK_MS : next - clock.now();
    // due already (time passed while issuing): once more after pending I/O, else sleep until it is due
    if (wait <= 0) this.tickImmediate = setImmediate(() => this.tick());
    else this.tickTimer = setTimeout(() => this.tick(), Math.min(Math.ceil(wait), MAX_TICK_MS));
  }

  /** Issues the put due at `due` (monotonic ms); its latency is measured from that instant. */
  issue(due: number): void {
    const { ctx, counts } = this;
    const { profile, keys, events, clock } = ctx;
    counts.issued++;
    if (this.inFlight >= profile.maxInFlight) {
      // not sent: counted, and visible in the put rate (no silent drop, no coordinated omission)
      counts.slips++;
      ctx.metrics?.putScheduleSlips.inc();
      return;
    }
    // a Txn writes `n` distinct keys at one revision, one sequence number (and value) per key
    const n = Math.min(profile.txnKeys, keys.bytes.length);
    const seq = this.seq + 1;
    this.seq += n;
    const conns = ctx.pool.connections;
    const conn = conns[seq % conns.length];
    const connection = conn.idx;
    // the value carries the wall-clock instant it was due (a stamp for people reading etcd's data)
    const stamp = clock.wallNow() + (due - clock.now());
    const evs: OpEvent[] = [];
    const values: Buffer[] = [];
    const keyBytes: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const key = (seq + i) % keys.bytes.length;
      values.push(encodeValue(ctx.runId, { writer: connection, seq: seq + i, due: stamp }, profile.valueSize));
      keyBytes.push(keys.bytes[key]);
      const ev: OpEvent = {
        type: 'invoke',
        workload: 'put',
        op: 'put',
        seq: seq + i,
        key,
        at: clock.now(),
        due,
        connection,
      };
      evs.push(ev);
      events.op(ev);
    }
    this.inFlight++;
    const endpoint = conn.endpoint;
    const opts = { timeoutMs: profile.putTimeout };
    const sent = n === 1 ? conn.client.put(keyBytes[0], values[0], opts) : conn.client.txnPuts(keyBytes, values, opts);
    sent.then(
      (r) => {
        this.inFlight--;
        const at = clock.now();
        for (const ev of evs) events.op({ ...ev, type: 'ok', at, revision: r.revision });
      },
      (err: WireError) => {
        this.inFlight--;
        const message = `put on ${endpoint}: ${err.message}`;
        ctx.error(message);
        // no connection: the request never left this process, so it cannot have been applied
        if (err.sent === false) {
          for (const ev of evs) events.op({ ...ev, type: 'fail', at: clock.now(), error: message });
          return;
        }
        this.indeterminate++;
        if (this.indeterminate <= 10 || this.indeterminate % 1000 === 0) {
          ctx.logger.warn(
            { endpoint, seq, keys: n, err: err.message, indeterminate: this.indeterminate },
            "put failed; indeterminate until observed or settled by etcd's record",
          );
        }
        for (const ev of evs) events.op({ ...ev, type: 'indeterminate', at: clock.now(), error: message });
      },
    );
  }
}
