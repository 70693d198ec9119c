// A watch's confirmation and the events etcd sends right behind it (a resume's catch-up batch) can be
// handled in one read, before any promise callback runs. The watch workload must take the confirmation
// as it is read: events handled before watch()'s promise resolves were once dropped, and the checker
// then blamed etcd for skipping them (reliable/resumable violations after a member restart).
import { EventEmitter } from 'node:events';
import t from 'tap';
import { Checker } from '../src/loadgen/checker.js';
import type { Violation } from '../src/loadgen/verdict.js';
import { encodeValue } from '../src/loadgen/value.js';
import { WatchWorkload } from '../src/loadgen/workloads/watch/index.js';
import type { WorkloadContext } from '../src/loadgen/workloads/types.js';
import type { WatchEvent } from '../src/loadgen/wire/client.js';
import { loadProfileSchema } from '../src/schema/load.js';
import { ManualClock } from '../src/util/clock.js';

const RUN = 'burst000';
const KEYS = [`/p/${RUN}/k0`];

/** A watch stream whose responses the test reads out, in order, in one synchronous burst. */
class BurstStream extends EventEmitter {
  readonly pending = new Map<number, (id: number) => void>();
  readonly starts = new Map<number, number>();
  lastMessageAt = 0;
  watch(req: { watchId?: number; startRevision?: number }): Promise<number> {
    const id = req.watchId!;
    this.starts.set(id, req.startRevision ?? 0);
    return new Promise((resolve) => this.pending.set(id, resolve));
  }
  /** as the wire client reads a confirmation then a batch: 'created' and the promise at once, 'events' next */
  burst(id: number, revision: number, events: WatchEvent[]): void {
    this.emit('created', id, revision);
    this.pending.get(id)!(id);
    this.emit('events', id, events, revision);
  }
  cancel(): void {}
  requestProgress(): void {}
  close(): void {}
  get closed(): boolean {
    return false;
  }
}

t.test('a catch-up batch read with its watch confirmation is checked, not dropped', async (t) => {
  const violations: Violation[] = [];
  const checker = new Checker({ runId: RUN, keys: KEYS, settleMs: 1000, onViolation: (v) => violations.push(v) });
  const clock = new ManualClock();
  const stream = new BurstStream();
  const names = KEYS;
  const ctx = {
    runId: RUN,
    profile: loadProfileSchema.parse({ watchers: 1, keys: 1, connections: 1 }),
    keys: {
      base: `/p/${RUN}/`,
      names,
      bytes: names.map((n) => Buffer.from(n)),
      index: new Map(names.map((n, i) => [n, i])),
    },
    pool: { connections: [{ idx: 0, endpoint: 'burst:1', client: { watchStream: () => stream } }], onMove() {} },
    clock,
    events: { subscribe() {}, wantsWatch: false, watch() {} },
    checker,
    logger: { warn() {}, info() {}, debug() {}, error() {} },
    metrics: undefined,
    active: true,
    transitSuspect: () => false,
    generatorFault: (kind: string, message: string) => t.fail(`generator fault ${kind}: ${message}`),
    error() {},
    violation: (v: Violation) => violations.push(v),
    anomaly() {},
    opDone() {},
  } as unknown as WorkloadContext;
  const workload = new WatchWorkload(ctx);
  t.teardown(() => workload.close());
  const attached = workload.prepare(1);
  t.equal(stream.starts.get(1), 2, 'the watch starts after the run start revision');

  // 20 puts at revisions 2..21, all acknowledged, then the whole run of them right behind the confirmation
  const events: WatchEvent[] = [];
  for (let seq = 1; seq <= 20; seq++) {
    const rev = seq + 1;
    checker.registerPut(seq, 0, clock.now());
    checker.ack(seq, rev, 0);
    events.push({
      type: 'put',
      kv: {
        key: Buffer.from(KEYS[0]),
        value: encodeValue(RUN, { writer: 0, seq, due: clock.now() }, 64),
        createRevision: 2,
        modRevision: rev,
        version: seq,
      },
    });
  }
  checker.maxKnownRev = 21;
  stream.burst(1, 21, events);
  await attached;
  clock.advance(5000);
  checker.sweep(clock.now(), true);

  t.equal(workload.counts.events, 20, 'every event of the batch was checked');
  t.same(violations, [], 'no violation blamed on etcd');
  t.equal(workload.watchers[0].status, 'watching', 'the watcher is watching');
});
