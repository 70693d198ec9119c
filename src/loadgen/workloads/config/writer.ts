// The config writer: version n+1 is a compare-and-set Txn on version n's mod revision, so the writer
// itself never leaves a gap nor writes a version twice. A write without an answer (timeout, broken
// connection) may or may not have applied: the next step is a linearizable read of the key, never a
// blind next write; a failed compare reads the key in its failure branch. One step at a time, open
// loop: a due write that finds the previous step still out is done right after it (dues beyond that one
// are counted as slips). It keeps to one connection until a call on it fails, then moves to the next.
import type { Clock } from '../../../util/clock.js';
import type { ClientPool } from '../../pool.js';
import type { WireError } from '../../wire/client.js';
import { kvRange, kvTxn } from '../../wire/kv.js';
import type { Kv } from '../../wire/proto.js';
import type { WorkloadBook } from '../book.js';

export interface ConfigValue {
  version: number;
  writtenAt: string;
}

/** The config's version from a value; undefined when it is not one of ours. */
export function parseConfig(value: Uint8Array): number | undefined {
  try {
    const v = JSON.parse(Buffer.from(value).toString('utf8')) as Partial<ConfigValue>;
    return Number.isSafeInteger(v.version) && v.version! > 0 ? v.version : undefined;
  } catch {
    return undefined;
  }
}

export interface WriterEvents {
  /** version is in etcd at modRevision: acknowledged at ackAt, or learned by a read (ackAt undefined) */
  written(version: number, modRevision: number, ackAt: number | undefined): void;
  error(message: string): void;
  /** a drop/corrupt fault is (or was within settle) active on a link: an answer may not be etcd's */
  transitSuspect(): boolean;
}

export class ConfigWriter {
  /** the latest version known to be in etcd, and its mod revision (0, 0: the key does not exist) */
  version = 0;
  modRevision = 0;
  /** the last write had no answer: read the key before writing again */
  unknown = false;
  busy = false;
  private owed = false;
  private halted = false;
  private seq = 0;

  constructor(
    private readonly pool: ClientPool,
    private readonly key: string,
    private readonly timeoutMs: () => number,
    private readonly clock: Clock,
    private readonly book: WorkloadBook,
    private readonly on: WriterEvents,
  ) {}

  /** A write is due (the schedule's tick): start the next step, or owe it when one is out. */
  due(): void {
    if (this.halted) return;
    if (this.busy) {
      if (this.owed) this.book.count('slips');
      this.owed = true;
      return;
    }
    void this.step();
  }

  /** No new write (the one out still completes; resolve() may still read). */
  halt(): void {
    this.halted = true;
    this.owed = false;
  }

  /** Learns the current version when the last write's fate is unknown (at the end, before judging). */
  async resolve(attempts: number): Promise<boolean> {
    for (let i = 0; i < attempts && this.unknown; i++) {
      while (this.busy) await new Promise((r) => setTimeout(r, 20));
      if (!this.unknown) break;
      await this.step();
    }
    return !this.unknown;
  }

  /** the connection the writer uses: the same one until a call on it fails, as a real writer does */
  private connection() {
    const conns = this.pool.connections;
    return conns[this.seq % conns.length];
  }

  /** a call failed: the next goes to the next connection (so another member, when there are several) */
  private failOver(): void {
    this.seq++;
  }

  private async step(): Promise<void> {
    this.busy = true;
    this.owed = false;
    try {
      if (this.unknown) await this.readBack();
      else await this.write();
    } finally {
      this.busy = false;
    }
    if (this.owed && !this.halted) void this.step();
  }

  private async write(): Promise<void> {
    const next = this.version + 1;
    const value: ConfigValue = { version: next, writtenAt: new Date(this.clock.wallNow()).toISOString() };
    const conn = this.connection();
    const t0 = this.clock.now();
    try {
      const r = await kvTxn(
        conn.client,
        {
          compare: [{ key: this.key, target: 'mod', result: 'equal', value: this.modRevision }],
          success: [{ put: { key: this.key, value: JSON.stringify(value) } }],
          failure: [{ range: { key: this.key } }],
        },
        { timeoutMs: this.timeoutMs() },
      );
      const at = this.clock.now();
      this.book.op('write', 'ok', at - t0);
      if (r.succeeded) return this.learn(next, r.revision, at);
      // someone else's write, or one of ours that applied though it looked lost: take what is there
      this.book.count('casFailed');
      const kv = r.responses[0]?.type === 'range' ? r.responses[0].kvs[0] : undefined;
      this.learnKv(kv, 'a failed compare');
    } catch (err) {
      const e = err as WireError;
      this.book.op('write', e.sent === false ? 'failed' : 'indeterminate', this.clock.now() - t0);
      this.on.error(`config write of version ${next} on ${conn.endpoint}: ${e.message}`);
      this.failOver();
      if (e.sent !== false) this.unknown = true;
    }
  }

  private async readBack(): Promise<void> {
    const conn = this.connection();
    const t0 = this.clock.now();
    try {
      const r = await kvRange(conn.client, this.key, { timeoutMs: this.timeoutMs() });
      this.book.op('read', 'ok', this.clock.now() - t0);
      this.learnKv(r.kvs[0], 'a read after an indeterminate write');
      this.unknown = false;
    } catch (err) {
      const e = err as WireError;
      this.book.op('read', e.sent === false ? 'failed' : 'indeterminate', this.clock.now() - t0);
      this.on.error(`config read on ${conn.endpoint}: ${e.message}`);
      this.failOver();
    }
  }

  /** What a read showed: a newer version (an indeterminate write that applied) is learned without an ack. */
  private learnKv(kv: Kv | undefined, how: string): void {
    if (!kv) {
      if (this.version > 0) this.on.error(`config key gone (seen by ${how})`);
      return;
    }
    const v = parseConfig(kv.value);
    if (v !== undefined && v > this.version) {
      this.book.count('learned', v - this.version);
      this.learn(v, kv.modRevision, undefined);
    } else if (v === this.version) this.modRevision = kv.modRevision;
    else if (this.on.transitSuspect()) {
      // What etcd holds is not what the writer was told: under a drop/corrupt fault an answer (a flipped
      // 'succeeded') or a write (its key or value flipped on the way in) was garbled. Every next compare
      // would fail on it, so go on from what etcd holds rather than wedge (the next version follows it).
      this.book.count('rebased');
      this.on.error(
        `config read (${how}) showed ${v === undefined ? 'no version' : `version ${v}`} under a drop/corrupt fault, the writer knew version ${this.version}: going on from etcd's`,
      );
      if (v !== undefined) this.version = v;
      this.modRevision = kv.modRevision;
    } else if (v === undefined) this.on.error(`config key holds no version (seen by ${how})`);
    else this.on.error(`config read (${how}) showed version ${v}, older than the known ${this.version}`);
  }

  private learn(version: number, modRevision: number, ackAt: number | undefined): void {
    this.version = version;
    this.modRevision = modRevision;
    this.on.written(version, modRevision, ackAt);
  }
}
