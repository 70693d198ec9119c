// etcd's own record of the run, as the judge of what the watchers and the puts' outcomes say:
// - a suspected skip is confirmed with a Range of that key at that revision (is there an event at that
//   revision on that key?), during the run;
// - periodically and at the end, a fresh watch replays the run's prefix, each replay from where the last
//   one ended (so every revision is read once): it settles indeterminate puts (applied when etcd has
//   them; at the end, not applied when it does not) and the skips still open.
import type { Logger } from '../util/log.js';
import type { Checker, PendingSkip, RecordAnswer } from './checker.js';
import { Status, WireError, type EtcdWireClient } from './wire/client.js';
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
  ): Promise<ReplayResult & { from: number }> {
    const from = this.checkpoint + 1;
    const r = await this.replay(checker, from, now, timeoutMs);
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
      ? await this.replayOnward(checker, now, timeoutMs)
      : { replayedTo: this.checkpoint, events: 0, lastOnKey: new Map<number, number>(), from: this.checkpoint + 1 };
    // where each key ended, for the catch-up check, needs the head even when nothing was open
    if (!r.lastOnKey.size && !r.error) Object.assign(r, await this.replay(checker, 0, now, 10_000), { from: r.from });
    checker.finish(now(), r.error ? 0 : r.replayedTo, r.from);
    return r;
  }

  /**
   * Replays the run's prefix from `fromRev` up to the store's current revision with a fresh watch and
   * hands each event to the checker. Tries each client in turn; gives up after `timeoutMs`.
   */
  async replay(checker: Checker, fromRev: number, now: () => number, timeoutMs: number): Promise<ReplayResult> {
    const result: ReplayResult = { replayedTo: 0, events: 0, lastOnKey: new Map() };
    const end = prefixEnd(this.base);
    const errors: string[] = [];
    for (const client of this.clients()) {
      try {
        // the last event of the prefix at the current revision: the replay is complete once it is read
        const head = await client.range(this.base, { rangeEnd: end, timeoutMs: 5000 });
        let target = 0;
        for (const kv of head.kvs) if (kv.modRevision > target) target = kv.modRevision;
        for (const kv of head.kvs) {
          const k = this.keyIndex.get(Buffer.from(kv.key).toString('latin1'));
          if (k !== undefined) result.lastOnKey.set(k, kv.modRevision);
        }
        if (fromRev <= 0 || fromRev > target) {
          result.replayedTo = head.revision;
          return result;
        }
        await this.watchUntil(client, fromRev, target, checker, now, timeoutMs, result);
        result.replayedTo = head.revision;
        return result;
      } catch (err) {
        errors.push(`${client.endpoint}: ${(err as Error).message}`);
      }
    }
    result.error = errors.join('; ');
    return result;
  }

  private watchUntil(
    client: EtcdWireClient,
    fromRev: number,
    target: number,
    checker: Checker,
    now: () => number,
    timeoutMs: number,
    result: ReplayResult,
  ): Promise<void> {
    return replayPrefix(client.watchStream(), {
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
          const key =
            this.keyIndex.get(
              Buffer.from(ev.kv.key.buffer, ev.kv.key.byteOffset, ev.kv.key.length).toString('latin1'),
            ) ?? -1;
          result.events++;
          if (ev.type === 'put') checker.replayEvent(key, rev, ev.kv.value, t);
          if (rev >= target) return true;
        }
        return false;
      },
    });
  }
}
