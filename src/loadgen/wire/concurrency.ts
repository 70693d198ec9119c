// etcd's server-side concurrency services: v3lock (Lock, Unlock) and v3election (Campaign, Proclaim,
// Leader, Observe, Resign). Hand-written protobuf (field numbers from etcd's v3lockpb/v3lock.proto and
// v3electionpb/v3election.proto, v3.4); never retried.
import { EventEmitter } from 'node:events';
import type { EtcdWireClient, GrpcStream } from './client.js';
import { Status, WireError } from './grpc.js';
import {
  ProtoWriter,
  decodeHeaderRevision,
  decodeKv,
  readLengthDelimited,
  readVarint,
  readVarintBig,
  skipField,
  toBytes,
  type Kv,
} from './proto.js';

/** Holds an election's leadership: proclaim and resign name it. */
export interface LeaderKey {
  /** the election's name */
  name: Buffer;
  /** the leader's key under the name (name/lease-id in hex) */
  key: Buffer;
  /** the key's create revision */
  rev: number;
  lease: bigint;
}

/** The fields of a response: header revision, and the bytes / message fields by number. */
function fieldsOf(b: Uint8Array): { revision: number; fields: Map<number, [number, number]> } {
  let revision = 0;
  const fields = new Map<number, [number, number]>();
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = readVarint(b, pos);
    pos = p;
    if ((tag & 7) === 2) {
      const [s, e] = readLengthDelimited(b, pos, b.length);
      if (tag === 0x0a) revision = decodeHeaderRevision(b, s, e);
      else fields.set(tag >>> 3, [s, e]);
      pos = e;
    } else pos = skipField(b, pos, tag & 7, b.length);
  }
  return { revision, fields };
}

const copy = (b: Uint8Array, at: [number, number] | undefined): Buffer =>
  at ? Buffer.from(b.subarray(at[0], at[1])) : Buffer.alloc(0);

/** LockRequest { name = 1; lease = 2 } */
export function encodeLock(name: Uint8Array | string, lease: bigint): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, toBytes(name));
  w.int64(2, lease);
  return w.finish();
}

/** LockResponse { header = 1; key = 2 } */
export function decodeLockResponse(b: Uint8Array): { key: Buffer; revision: number } {
  const { revision, fields } = fieldsOf(b);
  return { key: copy(b, fields.get(2)), revision };
}

/** UnlockRequest { key = 1 } and LeaderRequest { name = 1 }: one bytes field */
export function encodeBytes1(v: Uint8Array | string): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, toBytes(v));
  return w.finish();
}

/** UnlockResponse, ProclaimResponse, ResignResponse: { header = 1 } */
export function decodeHeaderOnly(b: Uint8Array): { revision: number } {
  return { revision: fieldsOf(b).revision };
}

/** LeaderKey { name = 1; key = 2; rev = 3; lease = 4 } */
export function encodeLeaderKey(l: LeaderKey): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, l.name);
  w.bytes(2, l.key);
  w.int(3, l.rev);
  w.int64(4, l.lease);
  return w.finish();
}

export function decodeLeaderKey(b: Uint8Array, pos: number, end: number): LeaderKey {
  const l: LeaderKey = { name: Buffer.alloc(0), key: Buffer.alloc(0), rev: 0, lease: 0n };
  while (pos < end) {
    const [tag, p] = readVarint(b, pos);
    pos = p;
    if (tag === 0x0a || tag === 0x12) {
      const [s, e] = readLengthDelimited(b, pos, end);
      if (tag === 0x0a) l.name = Buffer.from(b.subarray(s, e));
      else l.key = Buffer.from(b.subarray(s, e));
      pos = e;
    } else if (tag === 0x18) [l.rev, pos] = readVarint(b, pos);
    else if (tag === 0x20) [l.lease, pos] = readVarintBig(b, pos);
    else pos = skipField(b, pos, tag & 7, end);
  }
  return l;
}

/** CampaignRequest { name = 1; lease = 2; value = 3 } */
export function encodeCampaign(name: Uint8Array | string, lease: bigint, value: Uint8Array | string): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, toBytes(name));
  w.int64(2, lease);
  const v = toBytes(value);
  if (v.length) w.bytes(3, v);
  return w.finish();
}

/** CampaignResponse { header = 1; leader = 2 } */
export function decodeCampaignResponse(b: Uint8Array): { leader: LeaderKey; revision: number } {
  const { revision, fields } = fieldsOf(b);
  const at = fields.get(2);
  const leader = at ? decodeLeaderKey(b, at[0], at[1]) : decodeLeaderKey(b, 0, 0);
  return { leader, revision };
}

/** ProclaimRequest { leader = 1; value = 2 } */
export function encodeProclaim(leader: LeaderKey, value: Uint8Array | string): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, encodeLeaderKey(leader));
  const v = toBytes(value);
  if (v.length) w.bytes(2, v);
  return w.finish();
}

/** ResignRequest { leader = 1 } */
export function encodeResign(leader: LeaderKey): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, encodeLeaderKey(leader));
  return w.finish();
}

/** LeaderResponse { header = 1; kv = 2 } (key and value copied out of the frame) */
export function decodeLeaderResponse(b: Uint8Array): { kv: Kv | undefined; revision: number } {
  const { revision, fields } = fieldsOf(b);
  const at = fields.get(2);
  if (!at) return { kv: undefined, revision };
  const kv = decodeKv(b, at[0], at[1]);
  return { kv: { ...kv, key: Buffer.from(kv.key), value: Buffer.from(kv.value) }, revision };
}

/**
 * Takes the lock `name` for `lease`: blocks until every holder of a lower create revision is gone.
 * `key` is the holder's key (its create revision is the fencing token); `revision` the header's.
 */
export async function lock(
  client: EtcdWireClient,
  name: Uint8Array | string,
  lease: bigint,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ key: Buffer; revision: number }> {
  const body = encodeLock(name, lease);
  return decodeLockResponse(await client.call('/v3lockpb.Lock/Lock', body, opts.timeoutMs, opts.signal));
}

/** Releases a lock by deleting the holder's key. */
export async function unlock(
  client: EtcdWireClient,
  key: Uint8Array,
  opts: { timeoutMs: number },
): Promise<{ revision: number }> {
  return decodeHeaderOnly(await client.call('/v3lockpb.Lock/Unlock', encodeBytes1(key), opts.timeoutMs));
}

/** Campaigns in election `name` with `value`: blocks until this candidate leads. */
export async function campaign(
  client: EtcdWireClient,
  name: Uint8Array | string,
  lease: bigint,
  value: Uint8Array | string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ leader: LeaderKey; revision: number }> {
  const body = encodeCampaign(name, lease, value);
  return decodeCampaignResponse(
    await client.call('/v3electionpb.Election/Campaign', body, opts.timeoutMs, opts.signal),
  );
}

/** The leader announces a new value; fails when `leader` no longer leads. */
export async function proclaim(
  client: EtcdWireClient,
  leader: LeaderKey,
  value: Uint8Array | string,
  opts: { timeoutMs: number },
): Promise<{ revision: number }> {
  const body = encodeProclaim(leader, value);
  return decodeHeaderOnly(await client.call('/v3electionpb.Election/Proclaim', body, opts.timeoutMs));
}

/** etcd 3.4 answers Leader of an election without one with UNKNOWN "election: no leader" */
const isNoLeader = (err: unknown): boolean =>
  err instanceof WireError && typeof err.code === 'number' && /election: no leader/.test(err.message);

/** The current leader's key and value; `kv` undefined when the election has no leader. */
export async function electionLeader(
  client: EtcdWireClient,
  name: Uint8Array | string,
  opts: { timeoutMs: number },
): Promise<{ kv: Kv | undefined; revision: number }> {
  try {
    return decodeLeaderResponse(await client.call('/v3electionpb.Election/Leader', encodeBytes1(name), opts.timeoutMs));
  } catch (err) {
    if (isNoLeader(err)) return { kv: undefined, revision: 0 };
    throw err;
  }
}

/** Gives up leadership (deletes the leader's key); the next candidate is elected. */
export async function resign(
  client: EtcdWireClient,
  leader: LeaderKey,
  opts: { timeoutMs: number },
): Promise<{ revision: number }> {
  return decodeHeaderOnly(await client.call('/v3electionpb.Election/Resign', encodeResign(leader), opts.timeoutMs));
}

/**
 * Observe's server stream: 'leader'(kv, revision) for each leader value etcd reports (a new leader or a
 * proclaimed value), 'error'(WireError) when the stream breaks or ends, then 'close' once.
 */
export class ObserveStream extends EventEmitter {
  private stream: GrpcStream | undefined;
  private ended = false;

  constructor(client: EtcdWireClient, name: Uint8Array | string) {
    super();
    try {
      this.stream = client.stream(
        '/v3electionpb.Election/Observe',
        (m) => this.onMessage(m),
        (err) => this.fail(err ?? new WireError('UNAVAILABLE', 'observe stream ended by the server')),
      );
    } catch (err) {
      const why = err instanceof WireError ? err : new WireError('UNAVAILABLE', (err as Error).message);
      // reported once listeners can be attached
      queueMicrotask(() => this.fail(why));
      return;
    }
    this.stream.sendLast(encodeBytes1(name));
  }

  private onMessage(m: Buffer): void {
    let r: { kv: Kv | undefined; revision: number };
    try {
      r = decodeLeaderResponse(m);
    } catch (err) {
      this.stream?.cancel();
      this.fail(new WireError(Status.INTERNAL, `undecodable observe response: ${(err as Error).message}`));
      return;
    }
    if (r.kv) this.emit('leader', r.kv, r.revision);
  }

  private fail(err: WireError): void {
    if (this.ended) return;
    this.ended = true;
    // an 'error' nobody listens to would throw out of a socket callback and end the process
    if (this.listenerCount('error')) this.emit('error', err);
    this.emit('close');
  }

  get closed(): boolean {
    return this.ended;
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.stream?.cancel();
    this.emit('close');
  }
}

/** Follows election `name`'s leader from now on (the current leader first, when there is one). */
export function observe(client: EtcdWireClient, name: Uint8Array | string): ObserveStream {
  return new ObserveStream(client, name);
}
