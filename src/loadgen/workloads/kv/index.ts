// The kv workload: open-loop linearizable (or serializable) reads, puts, compare-and-set Txns and
// deletes on a few keys, so operations collide, spread over every connection (and so every member: a
// member cut off serves its serializable reads from a stale store). Each operation is one LinOp of the
// history (invoke/return on the run's monotonic clock, its result, the header revision and the revision
// a write created), fed live to the streaming linearizability checker, told to the observers (the
// history file) and settled, when indeterminate, from etcd's history of the prefix — never retried.
//
// Keys live under `<prefix>/<runId>-kv/`, beside the run's `<prefix>/<runId>/` rather than under it: the
// watch workload's prefix watchers and the run's record read that prefix and would count kv writes as
// unexpected. Values are `<runId>.<id>`: unique, so a value names the operation that wrote it.
import { LinChecker } from '../../lin/checker.js';
import { FINDING_KINDS, type Finding, type FindingKind, type LinOp } from '../../lin/history.js';
import { OpenLoopSchedule } from '../../schedule.js';
import type { WireError } from '../../wire/client.js';
import type { Workload, WorkloadContext } from '../types.js';
import { expectFrom, failedStatus, perform, pickType } from './ops.js';
import { PrefixFollower } from './settle.js';
import type { KvLine, KvStatus } from './summary.js';

export type { KvLine, KvStatus } from './summary.js';

const MAX_TICK_MS = 250;
/** findings kept in full (the summary lists the first; every one is a violation and counted) */
const MAX_FINDINGS = 10_000;
/** findings listed in the summary's kv section */
const FIRST_FINDINGS = 10;

export class KvWorkload implements Workload {
  readonly name = 'kv';
  readonly counts = { issued: 0, slips: 0 };
  inFlight = 0;
  readonly base: string;
  readonly checker: LinChecker;
  private readonly names: string[];
  private readonly bytes: Buffer[];
  private readonly follower: PrefixFollower;
  private schedule: OpenLoopSchedule | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private seq = 0;
  /** what this workload last saw of each key (a CAS compares against it) */
  private last: ({ value: string | null; rev: number } | undefined)[];
  /** operations sent and not answered, by id (the watcher may see their writes first) */
  private pending = new Map<number, LinOp>();
  /** writes the watcher saw while they were in flight: id → revision */
  private seenEarly = new Map<number, number>();
  /** indeterminate writes not settled yet, by id */
  private open = new Map<number, LinOp>();
  /** delete revisions an acknowledged delete explains, and delete events none does (yet) */
  private okDeleteRevs = new Set<number>();
  private deleteEvents: { key: number; rev: number }[] = [];
  private reported = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<FindingKind, number>;
  private emittedKept = 0;
  private replay: KvStatus['replay'];
  /**
   * keys whose bytes a drop or corrupt fault on the links may have garbled (an operation on them or an
   * event of them went by while one was active), with when: a garbled write stays in etcd and a garbled
   * answer misleads the checker, so findings on them from then on are the generator's doubt, not etcd's
   */
  private readonly tainted = new Map<string, number>();
  /** findings on tainted keys: counted apart, not violations */
  private unverified = 0;
  /** the findings reported as violations (kept ones), for the summary */
  private readonly verified: Finding[] = [];
  private done = false;
  private lineMark = { elapsed: 0, ops: 0 };

  constructor(private readonly ctx: WorkloadContext) {
    const p = ctx.profile;
    this.base = `${p.prefix.replace(/\/+$/, '')}/${ctx.runId}-kv/`;
    this.names = Array.from({ length: p.kvKeys }, (_, i) => `${this.base}k${i}`);
    this.bytes = this.names.map((n) => Buffer.from(n));
    this.last = this.names.map(() => undefined);
    // settle covers the longest operation (each has putTimeout) with room for a late callback
    this.checker = new LinChecker({ settle: Math.max(p.settle, p.putTimeout + 1000), maxFindings: MAX_FINDINGS });
    const index = new Map(this.names.map((n, i) => [n, i]));
    this.follower = new PrefixFollower(
      ctx.pool,
      this.base,
      index,
      {
        onValue: (v, rev) => this.onValue(v, rev),
        onDelete: (k, rev) => this.deleteEvents.push({ key: k, rev }),
        // an event read while a drop/corrupt fault was active may be garbled, its key too: then all keys
        onTaken: (k) => (k === undefined ? this.names.forEach((n) => this.taint(n)) : this.taint(this.names[k])),
      },
      ctx.logger,
    );
  }

  /** Forgets deletes matched to their acknowledgement (both sides are kept only to pair them). */
  watchdog(): void {
    if (this.deleteEvents.length < 1024) return;
    this.deleteEvents = this.deleteEvents.filter((d) => !this.okDeleteRevs.delete(d.rev));
  }

  async prepare(startRev: number): Promise<void> {
    this.follower.start(startRev);
  }

  run(): void {
    this.running = true;
    this.schedule = new OpenLoopSchedule(this.ctx.profile.kvRate, this.ctx.clock.now());
    this.tick();
  }

  halt(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  private tick(): void {
    const s = this.schedule;
    if (!s || !this.running) return;
    const clock = this.ctx.clock;
    s.takeDue(clock.now(), () => this.issue());
    const next = s.nextDue();
    const wait = next === undefined ? MAX_TICK_MS : Math.max(0, Math.ceil(next - clock.now()));
    this.timer = setTimeout(() => this.tick(), Math.min(wait, MAX_TICK_MS));
  }

  private issue(): void {
    const { ctx } = this;
    this.counts.issued++;
    if (this.inFlight >= ctx.profile.maxInFlight) {
      this.counts.slips++;
      return;
    }
    const id = ++this.seq;
    const conns = ctx.pool.connections;
    const conn = conns[id % conns.length];
    const k = Math.floor(Math.random() * this.names.length);
    const type = pickType(Math.random());
    const op: LinOp = { id, client: conn.idx, type, key: this.names[k], invoke: 0, status: 'ok' };
    if (type === 'put' || type === 'cas') op.value = `${ctx.runId}.${id}`;
    if (type === 'cas') op.expect = expectFrom(this.last[k], Math.random() < 0.5);
    const ev = { workload: 'kv', op: `kv:${type}`, seq: id, key: k, connection: conn.idx };
    op.invoke = ctx.clock.now();
    this.taint(op.key);
    ctx.events.op({ ...ev, type: 'invoke', at: op.invoke, due: op.invoke });
    this.inFlight++;
    this.pending.set(id, op);
    const opts = { timeoutMs: ctx.profile.putTimeout, serializable: ctx.profile.serializableReads };
    perform(conn.client, op, this.bytes[k], opts).then(
      () => this.returned(op, k, ev, undefined),
      (err: WireError) => this.returned(op, k, ev, err),
    );
  }

  private returned(
    op: LinOp,
    k: number,
    ev: { workload: string; op: string; seq: number; key: number; connection: number },
    err: WireError | undefined,
  ): void {
    const { ctx } = this;
    this.inFlight--;
    this.pending.delete(op.id);
    op.ret = ctx.clock.now();
    this.taint(op.key);
    if (err) {
      op.status = failedStatus(err);
      ctx.error(`kv ${op.type} on ${ctx.pool.connections[ev.connection]?.endpoint}: ${err.message}`);
    } else this.learn(op, k);
    const type = op.status === 'ok' ? 'ok' : op.status === 'fail' ? 'fail' : 'indeterminate';
    ctx.events.op({ ...ev, type, at: op.ret, due: op.invoke, revision: op.rev, lin: op, error: err?.message });
    if (this.done) return;
    this.checker.add(op);
    if (op.status === 'indeterminate' && op.type !== 'get') {
      const early = this.seenEarly.get(op.id);
      this.seenEarly.delete(op.id);
      if (early !== undefined) this.settle(op, early);
      else this.open.set(op.id, op);
    } else this.seenEarly.delete(op.id);
    if (op.status === 'ok' && op.type === 'del' && op.rev !== undefined) this.okDeleteRevs.add(op.rev);
    this.report();
  }

  /** What a CAS will compare against next: the state this answer showed. */
  private learn(op: LinOp, k: number): void {
    if (op.type === 'get') this.last[k] = { value: (op.result as string | null) ?? null, rev: op.rev ?? 0 };
    else if (op.rev !== undefined) this.last[k] = { value: op.type === 'del' ? null : op.value!, rev: op.rev };
  }

  /** The watcher (or the replay) saw a value of this run written at rev. */
  private onValue(value: string, rev: number): void {
    const dot = value.lastIndexOf('.');
    if (value.slice(0, dot) !== this.ctx.runId) return;
    const id = Number(value.slice(dot + 1));
    const op = this.open.get(id);
    if (op) return this.settle(op, rev);
    if (this.pending.has(id)) this.seenEarly.set(id, rev);
  }

  private settle(op: LinOp, rev: number | null): void {
    this.open.delete(op.id);
    this.checker.settle(op.id, rev);
    const { ctx } = this;
    const key = this.names.indexOf(op.key);
    ctx.events.op({
      type: 'settled',
      workload: 'kv',
      op: `kv:${op.type}`,
      seq: op.id,
      key,
      at: ctx.clock.now(),
      due: op.invoke,
      connection: op.client,
      revision: rev ?? undefined,
      applied: rev !== null,
    });
    this.report();
  }

  /** Marks `key` as possibly garbled from now on when a drop/corrupt fault may garble bytes now. */
  private taint(key: string): void {
    if (!this.tainted.has(key) && this.ctx.transitSuspect()) this.tainted.set(key, this.ctx.clock.now());
  }

  /**
   * New findings become violations (key, revision, the operations; the fault window follows from the
   * time), but for those on a key a drop/corrupt fault may have garbled: counted apart (`unverified`).
   */
  private report(): void {
    const found = this.checker.findings;
    while (this.emittedKept < found.length) {
      const f = found[this.emittedKept++];
      this.reported[f.kind]++;
      if (this.tainted.has(f.key)) this.unverified++;
      else {
        this.verified.push(f);
        this.violation(f.kind, f.key, f.revision, f.ops, f.detail);
      }
    }
    // past maxFindings they are only counted: still violations, without the detail (unless keys are in doubt)
    const counts = this.checker.counts.findings;
    for (const kind of FINDING_KINDS)
      while (this.reported[kind] < counts[kind]) {
        this.reported[kind]++;
        if (this.tainted.size) this.unverified++;
        else this.violation(kind, '', 0, [], 'not kept in full (over the findings kept)');
      }
  }

  private violation(kind: FindingKind, key: string, revision: number, ops: number[], detail: string): void {
    const conns = this.ctx.pool.connections.length;
    this.ctx.violation({
      kind: 'linearizability',
      key,
      revision,
      watcher: -1,
      // operation ids are sent on connection id % connections
      connection: ops.length ? ops[0] % conns : -1,
      detail: `${kind}: ${detail}${ops.length ? ` (ops ${ops.map((o) => `#${o}`).join(', ')})` : ''}`,
    });
  }

  /**
   * The end (every operation answered or timed out): the replay of etcd's history of the prefix settles
   * what the watcher did not; deletes none acknowledged explain go to the indeterminate deletes of their
   * key; what is still open was not applied, when the replay read everything. Then the last judgement.
   */
  async finish(): Promise<void> {
    if (this.done) return;
    if (this.open.size) {
      const timeoutMs = Math.max(30_000, this.ctx.profile.settle * 4);
      this.replay = await this.follower.catchUp(`${this.base}end`, timeoutMs);
      this.settleDeletes();
      if (this.replay.complete) for (const op of [...this.open.values()]) this.settle(op, null);
    }
    this.follower.stop();
    this.checker.finish();
    this.report();
    this.done = true;
  }

  private settleDeletes(): void {
    const unexplained = this.deleteEvents.filter((d) => !this.okDeleteRevs.has(d.rev));
    const dels = [...this.open.values()].filter((o) => o.type === 'del').sort((a, b) => a.invoke - b.invoke);
    for (const d of unexplained) {
      const i = dels.findIndex((o) => o.key === this.names[d.key]);
      if (i >= 0) this.settle(dels.splice(i, 1)[0], d.rev);
    }
  }

  /** The status line's part: operations per second since the last line, indeterminate, findings. */
  line(elapsed: number): KvLine {
    const c = this.checker.counts;
    const dt = elapsed - this.lineMark.elapsed;
    const rate = dt > 0 ? Math.round(((c.ops - this.lineMark.ops) / dt) * 10) / 10 : 0;
    this.lineMark = { elapsed, ops: c.ops };
    return {
      rate,
      ops: c.ops,
      indeterminate: c.indeterminate,
      findings: this.verifiedFindings,
    };
  }

  /** the run's findings so far that count as violations: all but those on keys in doubt */
  private get verifiedFindings(): number {
    const c = this.checker.counts;
    return FINDING_KINDS.reduce((n, k) => n + c.findings[k], 0) - this.unverified;
  }

  status(): KvStatus {
    const c = this.checker.counts;
    const p = this.ctx.profile;
    return {
      keys: p.kvKeys,
      rate: p.kvRate,
      serializableReads: p.serializableReads,
      ...this.counts,
      checked: { ...c, unsettled: this.done ? c.unsettled : this.open.size, findings: { ...c.findings } },
      findings: this.verifiedFindings,
      first: this.verified.slice(0, FIRST_FINDINGS),
      unverified: this.unverified,
      garbledKeys: [...this.tainted.keys()],
      replay: this.replay,
    };
  }

  close(): void {
    this.halt();
    this.follower.stop();
  }
}
