// etcd's Lease service: Grant, Revoke, TimeToLive and the LeaseKeepAlive bidirectional stream.
// Hand-written protobuf (field numbers from etcd's etcdserverpb/rpc.proto, v3.4). Lease ids are int64
// chosen by etcd from all 63 bits: they are bigints here, never JS numbers.
import { EventEmitter } from 'node:events';
import type { EtcdWireClient, GrpcStream } from './client.js';
import { Status, WireError } from './grpc.js';
import {
  ProtoWriter,
  decodeHeaderRevision,
  readLengthDelimited,
  readVarint,
  readVarintBig,
  skipField,
} from './proto.js';

export interface LeaseGrant {
  id: bigint;
  /** the TTL etcd granted, in seconds */
  ttl: number;
  revision: number;
  /** etcd's error text; non-empty means the grant failed */
  error: string;
}

export interface LeaseTimeToLive {
  id: bigint;
  /** seconds left; -1 when the lease expired or never existed */
  ttl: number;
  grantedTtl: number;
  /** the keys bound to the lease (when asked for) */
  keys: Buffer[];
  revision: number;
}

export interface LeaseKeepAliveReply {
  id: bigint;
  /** the renewed TTL in seconds; 0 when the lease is not found (expired or revoked) */
  ttl: number;
  revision: number;
}

/** LeaseGrantRequest { TTL = 1; ID = 2 } (ID 0: etcd picks one) */
export function encodeLeaseGrant(ttlSeconds: number, id: bigint = 0n): Buffer {
  const w = new ProtoWriter();
  w.int(1, ttlSeconds);
  w.int64(2, id);
  return w.finish();
}

/** LeaseRevokeRequest { ID = 1 } and LeaseKeepAliveRequest { ID = 1 }: the same shape */
export function encodeLeaseId(id: bigint): Buffer {
  const w = new ProtoWriter();
  w.int64(1, id);
  return w.finish();
}

/** LeaseTimeToLiveRequest { ID = 1; keys = 2 } */
export function encodeLeaseTimeToLive(id: bigint, keys = false): Buffer {
  const w = new ProtoWriter();
  w.int64(1, id);
  w.bool(2, keys);
  return w.finish();
}

/**
 * The Lease responses share a layout: { header = 1; ID = 2; TTL = 3 } and then
 * LeaseGrantResponse { error = 4 (string) } or LeaseTimeToLiveResponse { grantedTTL = 4; keys = 5 }.
 */
function decodeLeaseFields(
  b: Uint8Array,
  kind: 'grant' | 'ttl' | 'keepalive',
): { revision: number; id: bigint; ttl: number; grantedTtl: number; error: string; keys: Buffer[] } {
  const out = { revision: 0, id: 0n, ttl: 0, grantedTtl: 0, error: '', keys: [] as Buffer[] };
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = readVarint(b, pos);
    pos = p;
    if (tag === 0x0a) {
      const [s, e] = readLengthDelimited(b, pos, b.length);
      out.revision = decodeHeaderRevision(b, s, e);
      pos = e;
    } else if (tag === 0x10) [out.id, pos] = readVarintBig(b, pos);
    else if (tag === 0x18) [out.ttl, pos] = readVarint(b, pos);
    else if (tag === 0x20 && kind === 'ttl') [out.grantedTtl, pos] = readVarint(b, pos);
    else if ((tag === 0x22 && kind === 'grant') || (tag === 0x2a && kind === 'ttl')) {
      const [s, e] = readLengthDelimited(b, pos, b.length);
      if (kind === 'grant') out.error = Buffer.from(b.subarray(s, e)).toString('utf8');
      else out.keys.push(Buffer.from(b.subarray(s, e)));
      pos = e;
    } else pos = skipField(b, pos, tag & 7, b.length);
  }
  return out;
}

/** LeaseGrantResponse { header = 1; ID = 2; TTL = 3; error = 4 } */
export function decodeLeaseGrantResponse(b: Uint8Array): LeaseGrant {
  const { id, ttl, revision, error } = decodeLeaseFields(b, 'grant');
  return { id, ttl, revision, error };
}

/** LeaseRevokeResponse { header = 1 } */
export function decodeLeaseRevokeResponse(b: Uint8Array): { revision: number } {
  return { revision: decodeLeaseFields(b, 'keepalive').revision };
}

/** LeaseTimeToLiveResponse { header = 1; ID = 2; TTL = 3; grantedTTL = 4; keys = 5 } */
export function decodeLeaseTimeToLiveResponse(b: Uint8Array): LeaseTimeToLive {
  const { id, ttl, grantedTtl, keys, revision } = decodeLeaseFields(b, 'ttl');
  return { id, ttl, grantedTtl, keys, revision };
}

/** LeaseKeepAliveResponse { header = 1; ID = 2; TTL = 3 } */
export function decodeLeaseKeepAliveResponse(b: Uint8Array): LeaseKeepAliveReply {
  const { id, ttl, revision } = decodeLeaseFields(b, 'keepalive');
  return { id, ttl, revision };
}

/** Grants a lease of `ttlSeconds` (with the id asked for, when given); never retried. */
export async function leaseGrant(
  client: EtcdWireClient,
  ttlSeconds: number,
  opts: { timeoutMs: number; id?: bigint; signal?: AbortSignal },
): Promise<{ id: bigint; ttl: number; revision: number }> {
  const body = encodeLeaseGrant(ttlSeconds, opts.id);
  const r = decodeLeaseGrantResponse(
    await client.call('/etcdserverpb.Lease/LeaseGrant', body, opts.timeoutMs, opts.signal),
  );
  if (r.error) throw new WireError(Status.UNKNOWN, `lease grant refused: ${r.error}`);
  return { id: r.id, ttl: r.ttl, revision: r.revision };
}

/** Revokes a lease: its keys are deleted at the returned revision. An unknown lease is NOT_FOUND. */
export async function leaseRevoke(
  client: EtcdWireClient,
  id: bigint,
  opts: { timeoutMs: number },
): Promise<{ revision: number }> {
  const body = encodeLeaseId(id);
  return decodeLeaseRevokeResponse(await client.call('/etcdserverpb.Lease/LeaseRevoke', body, opts.timeoutMs));
}

/** A lease's remaining TTL (-1: expired or unknown), granted TTL and, with `keys`, its keys. */
export async function leaseTimeToLive(
  client: EtcdWireClient,
  id: bigint,
  opts: { timeoutMs: number; keys?: boolean },
): Promise<LeaseTimeToLive> {
  const body = encodeLeaseTimeToLive(id, opts.keys);
  return decodeLeaseTimeToLiveResponse(await client.call('/etcdserverpb.Lease/LeaseTimeToLive', body, opts.timeoutMs));
}

/**
 * The LeaseKeepAlive bidi stream: keepAlive(id) sends one renewal, opening the stream when there is
 * none. Events: 'response'(id, ttl, revision) per reply (ttl 0: the lease is gone), 'error'(WireError)
 * when the stream breaks (a later keepAlive() opens a fresh one), 'close' once, on close().
 */
export class LeaseKeepAliveStream extends EventEmitter {
  private stream: GrpcStream | undefined;
  private ended = false;

  constructor(private readonly client: EtcdWireClient) {
    super();
  }

  /** Sends one keepalive for `id`; a no-op after close(). */
  keepAlive(id: bigint): void {
    if (this.ended) return;
    if (!this.stream) {
      let stream: GrpcStream;
      try {
        stream = this.client.stream(
          '/etcdserverpb.Lease/LeaseKeepAlive',
          (m) => this.onMessage(m),
          (err) => this.onEnd(stream, err),
        );
      } catch (err) {
        this.fail(err instanceof WireError ? err : new WireError('UNAVAILABLE', (err as Error).message));
        return;
      }
      this.stream = stream;
    }
    this.stream.send(encodeLeaseId(id));
  }

  private onMessage(m: Buffer): void {
    let r: LeaseKeepAliveReply;
    try {
      r = decodeLeaseKeepAliveResponse(m);
    } catch (err) {
      const s = this.stream;
      this.stream = undefined;
      s?.cancel();
      this.fail(new WireError(Status.INTERNAL, `undecodable keepalive response: ${(err as Error).message}`));
      return;
    }
    this.emit('response', r.id, r.ttl, r.revision);
  }

  private onEnd(stream: GrpcStream, err: WireError | undefined): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.fail(err ?? new WireError('UNAVAILABLE', 'keepalive stream ended by the server'));
  }

  private fail(err: WireError): void {
    // an 'error' nobody listens to would throw out of a socket callback and end the process
    if (!this.ended && this.listenerCount('error')) this.emit('error', err);
  }

  /** true after close() */
  get closed(): boolean {
    return this.ended;
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.stream?.cancel();
    this.stream = undefined;
    this.emit('close');
  }
}

/** A keepalive stream on this client (opened at the first keepAlive()). */
export function leaseKeepAlive(client: EtcdWireClient): LeaseKeepAliveStream {
  return new LeaseKeepAliveStream(client);
}
