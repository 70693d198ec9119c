// One contender of the lock workload: on its connection, with its own session, it takes the mutex (the
// client recipe or the Lock RPC), makes its fenced write, holds for lockHold and releases, over and over
// until the run halts. A step without an answer leaves the key's fate unknown: the contender then ends
// its session (revoking the lease takes its key along) and starts a new one rather than re-enter.
import type { Connection } from '../../pool.js';
import { Status, WireError, type WatchStream } from '../../wire/client.js';
import { lock } from '../../wire/concurrency.js';
import type { WorkloadBook } from '../book.js';
import type { OpResult } from '../section.js';
import type { WorkloadContext } from '../types.js';
import type { LockChecker } from './checker.js';
import {
  fencedWrite,
  keyToken,
  mutexKey,
  recipeEnqueue,
  recipeWait,
  release,
  waitDelete,
  type Held,
  type Recipe,
} from './ops.js';
import { Session } from './session.js';

/** What the workload shares with its contenders. */
export interface LockEnv {
  readonly ctx: WorkloadContext;
  readonly book: WorkloadBook;
  readonly checker: LockChecker;
  /** the mutex's name (the Lock RPC's `name`); keys are `<mutex>/<lease hex>` */
  readonly mutex: string;
  /** the key fenced writes put */
  readonly resource: string;
  /** aborted when the run halts: waits end, holds end early, no new cycle starts */
  readonly halted: AbortSignal;
  /** the longest a contender waits for the mutex before it gives up its place */
  readonly waitTimeoutMs: number;
  /** a grant after `waitMs` (the status line's rate and wait percentile) */
  granted(waitMs: number): void;
  /** operations sent and not answered, across contenders */
  inFlight: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

/**
 * One turn of the event loop. An await continuation can run in the microtasks Node drains inside an
 * http2 callback (a stream closed by the peer); resetting another stream there re-enters nghttp2's send
 * from its receive and spins forever (seen on Node 20.20). Streams are closed after this hop.
 */
export const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** etcd's answers that say the request did nothing (a stale key, an unknown lease, a bad argument) */
const REFUSED: readonly unknown[] = [Status.INVALID_ARGUMENT, Status.NOT_FOUND, Status.FAILED_PRECONDITION];

/** a call that failed before it left, or that etcd refused, did not happen; anything else may have */
const resultOf = (err: unknown): OpResult =>
  err instanceof WireError && (!err.sent || REFUSED.includes(err.code)) ? 'failed' : 'indeterminate';

export class Contender {
  private session: Session | undefined;
  private watch: WatchStream | undefined;
  private watchClient: unknown;
  private watchId = 0;
  private loop: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly recipe: Recipe,
    private readonly conn: Connection,
    /** where its lease is granted and kept alive: another link than its lock calls' when there are several */
    private readonly leaseConn: Connection,
    private readonly env: LockEnv,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** resolves once the loop ended (after the halt) and the session is revoked */
  get done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  private get now(): number {
    return this.env.ctx.clock.now();
  }

  private async run(): Promise<void> {
    const { env } = this;
    while (!env.halted.aborted) {
      try {
        await this.cycle();
      } catch (err) {
        if (env.halted.aborted) break;
        env.ctx.error(`lock ${this.name} on ${this.conn.endpoint}: ${(err as Error).message}`);
        await this.endSession();
        await sleep(200 + Math.random() * 300, env.halted);
      }
    }
    await this.endSession();
    // this continuation may run inside an http2 callback (the revoke's answer): reset a turn later
    await nextTurn();
    this.watch?.close();
  }

  /** One call, counted as an operation of the book and in flight while it goes. */
  private async op<T>(name: string, f: () => Promise<T>): Promise<T> {
    const t0 = this.now;
    this.env.inFlight++;
    try {
      const r = await f();
      this.env.book.op(name, 'ok', this.now - t0);
      return r;
    } catch (err) {
      // a wait this contender abandoned (halt, its lease gone) is no result of etcd's
      if (!(err instanceof WireError && err.code === Status.CANCELLED) && !this.env.halted.aborted)
        this.env.book.op(name, resultOf(err), this.now - t0);
      throw err;
    } finally {
      this.env.inFlight--;
    }
  }

  private async cycle(): Promise<void> {
    const { env } = this;
    const p = env.ctx.profile;
    if (!this.session || this.session.lost.aborted) {
      if (this.session) env.book.count('sessionsLost');
      await this.endSession();
      const opts = { timeoutMs: p.putTimeout, onError: (m: string) => env.ctx.error(`lock ${this.name}: ${m}`) };
      this.session = await this.op('leaseGrant', () => Session.open(this.leaseConn, p.sessionTtl, opts));
    }
    const session = this.session;
    const signal = AbortSignal.any([env.halted, session.lost]);
    const asked = this.now;
    const got = await this.acquire(session, signal);
    if (got === 'lost') {
      env.book.count('waitsLost');
      return;
    }
    const { held, at } = got;
    const wait = at - asked;
    env.book.figure('wait', wait);
    env.book.count('grants');
    env.book.count(this.recipe === 'rpc' ? 'rpcGrants' : 'recipeGrants');
    env.granted(wait);
    const key = held.key.toString();
    const hold = env.checker.grant({ holder: this.name, key, token: held.token, revision: held.revision, at });
    try {
      const w = await this.op('fencedWrite', () =>
        fencedWrite(this.conn.client, env.resource, this.name, held, { timeoutMs: p.putTimeout }),
      );
      env.book.count(w.succeeded ? 'fencedOk' : 'fencedRejected');
      env.checker.write({ holder: this.name, key, token: held.token, revision: w.revision, succeeded: w.succeeded });
    } catch (err) {
      env.ctx.error(`lock ${this.name} fenced write: ${(err as Error).message}`);
    }
    await sleep(p.lockHold, signal);
    const end = this.now;
    env.checker.release(hold, end);
    env.book.figure('hold', end - at);
    await this.op('release', () => release(this.conn.client, this.recipe, held.key, { timeoutMs: p.putTimeout }));
  }

  /** Takes the mutex: the grant and the instant it was received, or 'lost' (the lease ended while waiting). */
  private async acquire(session: Session, signal: AbortSignal): Promise<{ held: Held; at: number } | 'lost'> {
    const { env } = this;
    const client = this.conn.client;
    const timeoutMs = env.ctx.profile.putTimeout;
    if (this.recipe === 'rpc') {
      let r: { key: Buffer; revision: number };
      try {
        r = await this.op('lock', () => lock(client, env.mutex, session.id, { timeoutMs: env.waitTimeoutMs, signal }));
      } catch (err) {
        if (session.lost.aborted && !env.halted.aborted) return 'lost';
        throw err;
      }
      const at = this.now;
      const token = await this.op('tokenRead', () => keyToken(client, r.key, r.revision, { timeoutMs }));
      return { held: { key: r.key, token, revision: r.revision }, at };
    }
    const key = mutexKey(env.mutex, session.id);
    const token = await this.op('enqueue', () => recipeEnqueue(client, key, session.id, { timeoutMs }));
    const waitSignal = AbortSignal.any([signal, AbortSignal.timeout(env.waitTimeoutMs)]);
    let r: Held | 'lost';
    try {
      r = await recipeWait(client, env.mutex, key, token, {
        timeoutMs,
        signal: waitSignal,
        waitDelete: (k, from, s) => this.waitDelete(k, from, s),
      });
    } catch (err) {
      if (session.lost.aborted && !env.halted.aborted) return 'lost';
      // gave up its place (halt, wait timeout): its key must go, else it blocks the others until the TTL
      await this.op('withdraw', () => release(client, 'recipe', key, { timeoutMs })).catch(() => undefined);
      throw err;
    }
    if (r === 'lost') return 'lost';
    return { held: r, at: this.now };
  }

  private waitDelete(key: Uint8Array, fromRevision: number, signal: AbortSignal): Promise<void> {
    // a watch that stays silent (its member cut off) must not hold the wait forever: Range again after a TTL
    const recheckMs = this.env.ctx.profile.sessionTtl;
    return waitDelete(this.watchStream(), ++this.watchId, key, fromRevision, { signal, recheckMs });
  }

  /** this contender's watch stream, opened anew when it broke or its connection moved */
  private watchStream(): WatchStream {
    const client = this.conn.client;
    if (this.watch && !this.watch.closed && this.watchClient === client) return this.watch;
    const old = this.watch;
    if (old) setImmediate(() => old.close());
    const ws = client.watchStream();
    ws.setMaxListeners(0);
    ws.on('error', (err: Error) => this.env.ctx.logger.debug({ err: err.message }, 'lock watch stream broke'));
    this.watch = ws;
    this.watchClient = client;
    return ws;
  }

  private async endSession(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    if (s) await s.end(this.env.ctx.profile.putTimeout);
  }
}
