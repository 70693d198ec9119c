// etcd's own record of the run, as the judge of what the watchers and the puts' outcomes say:
// - a suspected skip is confirmed with a Range of that key at that revision (is there an event at that
//   revision on that key?), during the run;
// - periodically and at the end, a fresh watch replays the run's prefix, each replay from where the last
//   one ended (so every revision is read once): it settles indeterminate puts (applied when etcd has
//   them; at the end, not applied when it does not) and the skips still open.
import type { Logger } from '../util/log.js';
import type { Checker, PendingSkip, RecordAnswer } from './checker.js';
import { Status, WireError, type EtcdWireClient, type Kv } from './wire/client.js';
import { prefixEnd } from './wire/proto.js';
import { replayPrefix } from './wire/replay.js';

export interface ReplayResult {
  /** every event of the prefix up to this revision was read (0: nothing could be read) */
  replayedTo: number;
  events: number;
  /** the last revision of each key in etcd's record (by key index), for the end-of-run catch-up check */
  lastOnKey: Map<number, number>;
  error?: string;
}

export class EtcdRecord {
  private asking = false;
  private lastAsk = 0;
  /** the record was read up to this revision by the replays so far (each goes on from here) */
  private checkpoint = 0;
  private replaying: Promise<unknown> | undefined;
  private lastReplayAt = -Infinity;

  constructor(
    private readonly clients: () => EtcdWireClient[],
    private readonly keyBytes: readonly Buffer[],
    private readonly base: string,
    private readonly keyIndex: ReadonlyMap<string, number>,
    private readonly logger: Logger,
  ) {}

  /** Asks etcd about the skips that passed settle (at most one round a second, one at a time). */
  confirmSkips(checker: Checker, now: number): void {
    if (this.asking || now - this.lastAsk < 1000) return;
    const questions = checker.takeQuestions(50);
    if (!questions.length) return;
    this.asking = true;
    this.lastAsk = now;
    void this.ask(checker, questions).finally(() => (this.asking = false));
  }

  /** Asks about every open skip now (the end of a run), waiting for the answers. */
  async confirmAll(checker: Checker): Promise<void> {
    for (let round = 0; round < 100; round++) {
      const questions = checker.takeQuestions(200);
      if (!questions.length) return;
      await this.ask(checker, questions);
      // what could not be answered stays open for the replay; do not ask again in this loop
      if (questions.every((q) => checker.pending.get(`${q.key}:${q.rev}`) === q)) return;
    }
  }

  private async ask(checker: Checker, questions: PendingSkip[]): Promise<void> {
    const clients = this.clients();
    let i = 0;
    for (const q of questions) {
      const client = clients[i++ % clients.length];
      let answer: RecordAnswer;
      try {
        const r = await client.range(this.keyBytes[q.key], { revision: q.rev, limit: 1, timeoutMs: 3000 });
        answer = r.kvs.length && r.kvs[0].modRevision === q.rev ? 'on-key' : 'not-on-key';
      } catch (err) {
        // compacted or unreachable: the end-of-run replay (or nobody) decides
        answer = 'unavailable';
        if (!(err instanceof WireError) || err.code !== Status.OUT_OF_RANGE)
          this.logger.debug({ err: (err as Error).message, key: q.key, rev: q.rev }, 'could not ask etcd about a skip');
      }
      checker.recordSays(q.key, q.rev, answer);
    }
  }

  /** The run starts after this revision: the first replay begins just above it. */
  begin(startRev: number): void {
    this.checkpoint = startRev;
  }

  /** While the run goes: a replay from the checkpoint every `periodMs`, when a put is indeterminate. */
  maybeReplay(checker: Checker, t: number, periodMs: number, now: () => number, timeoutMs: number): void {
    if (this.replaying || t - this.lastReplayAt < periodMs || checker.indeterminateCount() === 0) return;
    this.lastReplayAt = t;
    this.replaying = this.replayOnward(checker, now, timeoutMs).finally(() => (this.replaying = undefined));
  }

  /** Replays from where the last replay ended; the checkpoint moves on when it succeeded. */
  private async replayOnward(
    checker: Checker,
    now: () => number,
    timeoutMs: number,
    stable = false,
  ): Promise<ReplayResult & { from: number }> {
    const from = this.checkpoint + 1;
    const r = await this.replay(checker, from, now, timeoutMs, stable);
    if (!r.error && r.replayedTo) this.checkpoint = Math.max(this.checkpoint, r.replayedTo);
    return { ...r, from };
  }

  /**
   * The end of the run: ask etcd about every open skip, then replay its record from where the last
   * replay ended (the run's start at first: a revision learned on a garbled connection cannot bound
   * where to begin), and settle the checker by it.
   */
  async settle(checker: Checker, now: () => number, timeoutMs: number): Promise<ReplayResult & { from: number }> {
    checker.sweep(now(), true);
    await this.replaying;
    await this.confirmAll(checker);
    const r = checker.hasOpenQuestions()
      ? await this.replayOnward(checker, now, timeoutMs, true)
      : { replayedTo: this.checkpoint, events: 0, lastOnKey: new Map<number, number>(), from: this.checkpoint + 1 };
    // where each key ended, for the catch-up check, needs the head even when nothing was open
    if (!r.lastOnKey.size && !r.error)
      Object.assign(r, await this.replay(checker, 0, now, 10_000, true), { from: r.from });
    checker.finish(now(), r.error ? 0 : r.replayedTo, r.from);
    return r;
  }

  /**
   * Replays the run's prefix from `fromRev` up to the store's current revision with a fresh watch and
   * hands each event to the checker. Tries each client in turn; gives up after `timeoutMs`. The replay
   * goes over the run's own links, where an injected corrupt fault garbles bytes on the way: an event
   * that is not one of the run's puts on its key is read again (below) before the replay goes past it,
   * and `replayedTo` is the last revision actually read, so a garbled head can only make a replay stop
   * short (the next one goes on from there), never skip a revision. `stable` (the end of the run, no
   * puts any more) takes the head only when two reads of it agree.
   */
  async replay(
    checker: Checker,
    fromRev: number,
    now: () => number,
    timeoutMs: number,
    stable = false,
  ): Promise<ReplayResult> {
    const result: ReplayResult = { replayedTo: 0, events: 0, lastOnKey: new Map() };
    const errors: string[] = [];
    for (const client of this.clients()) {
      try {
        // the last event of the prefix at the current revision: the replay is complete once it is read
        const head = await this.head(client, stable);
        for (const kv of head.kvs) {
          const k = this.keyOf(kv.key);
          if (k >= 0) result.lastOnKey.set(k, kv.modRevision);
        }
        if (fromRev <= 0 || fromRev > head.target) {
          // nothing new on the prefix; a head read once may be garbled low, so the checkpoint stays
          result.replayedTo = stable || fromRev <= 0 ? head.revision : fromRev - 1;
          return result;
        }
        const read = await this.watchUntil(client, fromRev, head.target, checker, now, timeoutMs, result);
        await this.confirmDoubtful(client, read.doubtful, checker, now);
        // the head says nothing of the prefix lies between the target and the store's revision; a head
        // read once may be garbled, so then only what was read counts
        result.replayedTo = stable ? head.revision : read.lastRev;
        return result;
      } catch (err) {
        errors.push(`${client.endpoint}: ${(err as Error).message}`);
      }
    }
    result.error = errors.join('; ');
    return result;
  }

  /** the run's index of a key (-1: not one of the run's keys, e.g. the sentinel or a garbled name) */
  private keyOf(key: Uint8Array): number {
    return this.keyIndex.get(Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1')) ?? -1;
  }

  private async head(
    client: EtcdWireClient,
    stable: boolean,
  ): Promise<{ revision: number; target: number; kvs: Kv[] }> {
    const end = prefixEnd(this.base);
    let last = -1;
    for (let read = 0; read < 4; read++) {
      const h = await client.range(this.base, { rangeEnd: end, timeoutMs: 5000 });
      let target = 0;
      for (const kv of h.kvs) if (kv.modRevision > target) target = kv.modRevision;
      if (target > h.revision) continue; // a garbled answer: no event is above the store's revision
      if (!stable || target === last) return { revision: h.revision, target, kvs: h.kvs };
      last = target;
    }
    throw new Error("the head of the run's prefix read differently each time (garbled in transit)");
  }

  /**
   * Reads each doubtful revision again with a Range at that revision until its events are the run's puts
   * on their keys, or the same keys and values come back twice (etcd stores them so: writes an injected
   * fault garbled on their way in); the checker takes them then. Throws when one cannot be pinned down.
   */
  private async confirmDoubtful(
    client: EtcdWireClient,
    doubtful: Map<number, Kv[]>,
    checker: Checker,
    now: () => number,
  ): Promise<void> {
    const end = prefixEnd(this.base);
    const keyOf = (kv: Kv) => this.keyOf(kv.key);
    const same = (a: Kv, b: Kv) => Buffer.compare(a.key, b.key) === 0 && Buffer.compare(a.value, b.value) === 0;
    for (const [rev, first] of doubtful) {
      let prev = first;
      let settled = false;
      for (let read = 0; read < 4 && !settled; read++) {
        const r = await client.range(this.base, { rangeEnd: end, revision: rev, timeoutMs: 5000 });
        // the events of that revision (several keys: a Txn), the run's puts on their keys taken at once
        const unclear = r.kvs
          .filter((kv) => kv.modRevision === rev)
          .filter((kv) => !checker.replayEvent(keyOf(kv), rev, kv.value, now()));
        if (r.kvs.every((kv) => kv.modRevision !== rev)) prev = [];
        else if (unclear.every((kv) => prev.some((p) => same(p, kv)))) {
          for (const kv of unclear) checker.replayEvent(keyOf(kv), rev, kv.value, now(), true);
          settled = true;
        } else prev = unclear;
      }
      if (!settled) throw new Error(`revision ${rev} read differently each time (garbled in transit)`);
    }
  }

  private async watchUntil(
    client: EtcdWireClient,
    fromRev: number,
    target: number,
    checker: Checker,
    now: () => number,
    timeoutMs: number,
    result: ReplayResult,
  ): Promise<{ lastRev: number; doubtful: Map<number, Kv[]> }> {
    const doubtful = new Map<number, Kv[]>();
    let lastRev = fromRev - 1;
    let garbled = '';
    await replayPrefix(client.watchStream(), {
      prefix: this.base,
      startRevision: fromRev,
      timeoutMs,
      timeoutError: () => new Error(`replay did not reach revision ${target} within ${timeoutMs} ms`),
      canceledError: (compactRev) =>
        new Error(
          compactRev > 0
            ? `history compacted at ${compactRev}: the run's record before it is gone`
            : 'replay watch canceled',
        ),
      onEvents: (events) => {
        const t = now();
        for (const ev of events) {
          const rev = ev.kv.modRevision;
          // revisions only go up, from where the watch started, and the head's last one is met exactly
          // (the run never deletes): anything else was garbled on the way
          if (rev < lastRev || rev < fromRev || rev > target) {
            garbled = `revision ${rev} after ${lastRev} (target ${target})`;
            return true;
          }
          lastRev = rev;
          const key = this.keyOf(ev.kv.key);
          result.events++;
          if (ev.type === 'put' && !checker.replayEvent(key, rev, ev.kv.value, t)) {
            const copy = { ...ev.kv, key: Buffer.from(ev.kv.key), value: Buffer.from(ev.kv.value) };
            doubtful.set(rev, [...(doubtful.get(rev) ?? []), copy]);
          }
          if (rev >= target) return true;
        }
        return false;
      },
    });
    if (garbled) throw new Error(`replay read a ${garbled} (garbled in transit)`);
    return { lastRev, doubtful };
  }
}
