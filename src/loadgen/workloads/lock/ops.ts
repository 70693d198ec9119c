// The lock workload's calls on the wire, one step each, so the contender and the tests of etcd's own
// behaviour (#11456) run the same code: the client recipe's enqueue and wait (clientv3/concurrency.Mutex
// as in 3.5, with the re-check of its own key after waiting), the Lock RPC's token read, the fenced
// write and the releases. Never retried: a step that fails is the caller's to judge.
import type { EtcdWireClient, WatchStream } from '../../wire/client.js';
import { Status, WireError } from '../../wire/client.js';
import { unlock } from '../../wire/concurrency.js';
import { kvDeleteRange, kvRange, kvTxn, type Compare } from '../../wire/kv.js';
import { prefixEnd } from '../../wire/proto.js';

export type Recipe = 'recipe' | 'rpc';

/** What a grant gave the holder. */
export interface Held {
  key: Buffer;
  /** the key's create revision; undefined when the key was gone at the grant (etcd #11456) */
  token: number | undefined;
  /** the revision the grant was decided at */
  revision: number;
}

/** A mutex key, as clientv3 and etcd's v3lock name them: `<mutex>/<lease id in hex>`. */
export function mutexKey(mutex: string, lease: bigint): Buffer {
  return Buffer.from(`${mutex}/${lease.toString(16)}`);
}

/**
 * The recipe's enqueue: create the key bound to the lease if absent (compare create revision == 0).
 * Its create revision is the contender's place in line. A key already there means an earlier release
 * did not apply: this workload never re-enters (that would grant one token twice), so it is an error.
 */
export async function recipeEnqueue(
  client: EtcdWireClient,
  key: Buffer,
  lease: bigint,
  opts: { timeoutMs: number },
): Promise<number> {
  const r = await kvTxn(
    client,
    {
      compare: [{ key, target: 'create', value: 0 }],
      success: [{ put: { key, value: '', lease } }],
      failure: [{ range: { key } }],
    },
    opts,
  );
  if (!r.succeeded) throw new WireError(Status.FAILED_PRECONDITION, `${key} is still there from an earlier hold`);
  return r.revision;
}

/**
 * The recipe's wait: Range the mutex prefix; while a key with a lower create revision exists, wait for
 * the DELETE of the closest one (`waitDelete` watches it from the Range's revision + 1), then Range
 * again. The same Range re-checks that the contender's own key still exists with its create revision
 * (the 3.5 fix of #11456): 'lost' when its lease expired while it waited. Granted at the revision of
 * the Range that found no lower key.
 */
export async function recipeWait(
  client: EtcdWireClient,
  mutex: string,
  key: Buffer,
  token: number,
  opts: {
    timeoutMs: number;
    signal: AbortSignal;
    waitDelete: (key: Uint8Array, fromRevision: number, signal: AbortSignal) => Promise<void>;
  },
): Promise<Held | 'lost'> {
  const prefix = `${mutex}/`;
  for (;;) {
    opts.signal.throwIfAborted();
    const r = await kvRange(client, prefix, { rangeEnd: prefixEnd(prefix), timeoutMs: opts.timeoutMs });
    const mine = r.kvs.find((kv) => key.equals(kv.key));
    if (!mine || mine.createRevision !== token) return 'lost';
    let before: (typeof r.kvs)[number] | undefined;
    for (const kv of r.kvs)
      if (kv.createRevision < token && (!before || kv.createRevision > before.createRevision)) before = kv;
    if (!before) return { key, token, revision: r.revision };
    await opts.waitDelete(before.key, r.revision + 1, opts.signal);
  }
}

/**
 * Resolves at `key`'s DELETE from `fromRevision` on (watch `id` on `ws`, cancelled after), or when the
 * watch cannot tell — canceled, its stream broken, nothing within `recheckMs` — for the caller to Range
 * again; rejects when `signal` aborts.
 */
export function waitDelete(
  ws: WatchStream,
  id: number,
  key: Uint8Array,
  fromRevision: number,
  opts: { signal: AbortSignal; recheckMs: number },
): Promise<void> {
  const { signal } = opts;
  return new Promise<void>((resolve, reject) => {
    let finished = false;
    const done = (err?: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      ws.off('events', onEvents);
      ws.off('canceled', onCanceled);
      ws.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      ws.cancel(id);
      if (err) reject(err);
      else resolve();
    };
    const onEvents = (wid: number, events: { type: string }[]) => {
      if (wid === id && events.some((e) => e.type === 'delete')) done();
    };
    const onCanceled = (wid: number) => wid === id && done();
    const onClose = () => done();
    const onAbort = () => done(signal.reason ?? new WireError(Status.CANCELLED, 'wait aborted'));
    const timer = setTimeout(() => done(), opts.recheckMs);
    ws.on('events', onEvents);
    ws.on('canceled', onCanceled);
    ws.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) return onAbort();
    // the id is chosen here: events may come in the same read as the confirmation of the create
    ws.watch({ key, startRevision: fromRevision, watchId: id }).catch(() => done());
  });
}

/** The Lock RPC's token: its key's create revision at the grant's revision (undefined: the key was gone). */
export async function keyToken(
  client: EtcdWireClient,
  key: Buffer,
  revision: number,
  opts: { timeoutMs: number },
): Promise<number | undefined> {
  const r = await kvRange(client, key, { revision, timeoutMs: opts.timeoutMs });
  return r.kvs.find((kv) => key.equals(kv.key))?.createRevision;
}

/**
 * The fenced write: put the resource only while the holder's key still has its token as create
 * revision. A holder without a token (its key was gone at the grant) can only ask that its key exist.
 */
export async function fencedWrite(
  client: EtcdWireClient,
  resource: string,
  holder: string,
  held: Held,
  opts: { timeoutMs: number },
): Promise<{ revision: number; succeeded: boolean }> {
  const guard: Compare =
    held.token === undefined
      ? { key: held.key, target: 'create', result: 'greater', value: 0 }
      : { key: held.key, target: 'create', value: held.token };
  const value = JSON.stringify({ holder, token: held.token ?? null });
  const r = await kvTxn(client, { compare: [guard], success: [{ put: { key: resource, value } }] }, opts);
  return { revision: r.revision, succeeded: r.succeeded };
}

/** Releases: the recipe deletes its key, the RPC holder calls Unlock. */
export async function release(
  client: EtcdWireClient,
  recipe: Recipe,
  key: Buffer,
  opts: { timeoutMs: number },
): Promise<{ revision: number }> {
  if (recipe === 'rpc') return unlock(client, key, opts);
  return kvDeleteRange(client, key, opts);
}
