// Hand-written protobuf for the few etcd messages the load hot path uses (field numbers from etcd's
// etcdserverpb/rpc.proto and mvccpb/kv.proto, v3.4). Only what is needed is encoded; decoders skip
// unknown fields. Integers are JS numbers (revisions stay far below 2^53), except int64 ids such as leases: bigint.

export interface Kv {
  key: Uint8Array;
  value: Uint8Array;
  createRevision: number;
  modRevision: number;
  version: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: Kv;
  /** the key's previous state, when the watch asked for it (prev_kv) and the key existed */
  prevKv?: Kv;
}

export interface WatchResponse {
  revision: number;
  watchId: number;
  created: boolean;
  canceled: boolean;
  compactRevision: number;
  cancelReason: string;
  events: WatchEvent[];
}

// ---------- encoding

class Writer {
  buf = Buffer.allocUnsafe(64);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  varint(v: number): void {
    this.ensure(10);
    if (v < 0) {
      // two's complement 64-bit, as protobuf encodes negative int64
      let big = BigInt.asUintN(64, BigInt(v));
      while (big >= 0x80n) {
        this.buf[this.len++] = Number(big & 0x7fn) | 0x80;
        big >>= 7n;
      }
      this.buf[this.len++] = Number(big);
      return;
    }
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  /** An int64 as a varint (lease ids use all 63 bits): two's complement when negative. */
  varintBig(v: bigint): void {
    this.ensure(10);
    let u = BigInt.asUintN(64, v);
    while (u >= 0x80n) {
      this.buf[this.len++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.len++] = Number(u);
  }

  /** proto3 int64 field from a bigint; 0 is omitted */
  int64(field: number, v: bigint): void {
    if (v === 0n) return;
    this.tag(field, 0);
    this.varintBig(v);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  /** proto3: zero/false fields are omitted */
  int(field: number, v: number): void {
    if (v === 0) return;
    this.tag(field, 0);
    this.varint(v);
  }

  bool(field: number, v: boolean | undefined): void {
    if (!v) return;
    this.tag(field, 0);
    this.varint(1);
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

export const toBytes = (v: Uint8Array | string): Uint8Array => (typeof v === 'string' ? Buffer.from(v) : v);

/** PutRequest { key = 1; value = 2 } */
export function encodePut(key: Uint8Array | string, value: Uint8Array): Buffer {
  const k = toBytes(key);
  const w = new Writer();
  w.bytes(1, k);
  if (value.length) w.bytes(2, value);
  return w.finish();
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function putBytes(b: Buffer, pos: number, field: number, v: Uint8Array): number {
  b[pos++] = (field << 3) | 2;
  for (let n = v.length; ; n = Math.floor(n / 0x80)) {
    if (n < 0x80) {
      b[pos++] = n;
      break;
    }
    b[pos++] = (n % 0x80) | 0x80;
  }
  b.set(v, pos);
  return pos + v.length;
}

/** encodePut already in its gRPC frame, in one allocation (the put path's only request) */
export function encodePutFramed(key: Uint8Array | string, value: Uint8Array): Buffer {
  const k = toBytes(key);
  const len = 1 + varintSize(k.length) + k.length + (value.length ? 1 + varintSize(value.length) + value.length : 0);
  const b = Buffer.allocUnsafe(5 + len);
  b[0] = 0;
  b.writeUInt32BE(len, 1);
  const end = putBytes(b, 5, 1, k);
  if (value.length) putBytes(b, end, 2, value);
  return b;
}

/** RangeRequest { key = 1; range_end = 2; limit = 3; revision = 4 } */
export function encodeRange(
  key: Uint8Array | string,
  opts: { rangeEnd?: Uint8Array; revision?: number; limit?: number } = {},
): Buffer {
  const w = new Writer();
  w.bytes(1, toBytes(key));
  if (opts.rangeEnd) w.bytes(2, opts.rangeEnd);
  w.int(3, opts.limit ?? 0);
  w.int(4, opts.revision ?? 0);
  return w.finish();
}

export interface WatchCreate {
  key: Uint8Array | string;
  rangeEnd?: Uint8Array;
  startRevision?: number;
  progressNotify?: boolean;
  /** each event carries the key's previous state */
  prevKv?: boolean;
  watchId?: number;
}

/** WatchRequest { create_request = 1 { key = 1; range_end = 2; start_revision = 3; progress_notify = 4; prev_kv = 6; watch_id = 7 } } */
export function encodeWatchCreate(req: WatchCreate): Buffer {
  const inner = new Writer();
  inner.bytes(1, toBytes(req.key));
  if (req.rangeEnd) inner.bytes(2, req.rangeEnd);
  inner.int(3, req.startRevision ?? 0);
  inner.bool(4, req.progressNotify);
  inner.bool(6, req.prevKv);
  inner.int(7, req.watchId ?? 0);
  const w = new Writer();
  w.bytes(1, inner.finish());
  return w.finish();
}

/** WatchRequest { cancel_request = 2 { watch_id = 1 } } */
export function encodeWatchCancel(watchId: number): Buffer {
  const inner = new Writer();
  inner.int(1, watchId);
  const w = new Writer();
  w.bytes(2, inner.finish());
  return w.finish();
}

/** WatchRequest { progress_request = 3 {} } */
export function encodeWatchProgress(): Buffer {
  return Buffer.from([0x1a, 0x00]);
}

/**
 * TxnRequest with no compares and one put per key on success (all at one revision):
 * TxnRequest { success = 2 { RequestOp { request_put = 2 { PutRequest } } } }
 */
export function encodeTxnPuts(keys: readonly (Uint8Array | string)[], values: readonly Uint8Array[]): Buffer {
  const w = new Writer();
  for (let i = 0; i < keys.length; i++) {
    const op = new Writer();
    op.bytes(2, encodePut(keys[i], values[i]));
    w.bytes(2, op.finish());
  }
  return w.finish();
}

/** HashKVRequest { revision = 1 } */
export function encodeHashKV(revision: number): Buffer {
  const w = new Writer();
  w.int(1, revision);
  return w.finish();
}

/** The key range that covers every key with this prefix (etcd's getPrefix). */
export function prefixEnd(prefix: Uint8Array | string): Uint8Array {
  const p = Buffer.from(toBytes(prefix));
  for (let i = p.length - 1; i >= 0; i--) {
    if (p[i] < 0xff) {
      const end = p.subarray(0, i + 1);
      end[i]++;
      return end;
    }
  }
  return Buffer.from([0]); // every key
}

// ---------- decoding

export class ProtoError extends Error {}

/** Reads a varint at `pos` of `b`; returns [value, next position]. 10-byte varints are negative int64. */
function varint(b: Uint8Array, pos: number): [number, number] {
  let x = 0;
  let mul = 1;
  const start = pos;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) throw new ProtoError('truncated varint');
    const c = b[pos++];
    x += (c & 0x7f) * mul;
    mul *= 128;
    if (c < 0x80) {
      if (i === 9) return [slowSigned(b, start, pos), pos];
      return [x, pos];
    }
  }
  throw new ProtoError('varint too long');
}

/** Reads an int64 varint as a bigint (exact above 2^53); returns [value, next position]. */
function varintBig(b: Uint8Array, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= b.length) throw new ProtoError('truncated varint');
    const c = b[pos++];
    v |= BigInt(c & 0x7f) << shift;
    shift += 7n;
    if (c < 0x80) return [BigInt.asIntN(64, v), pos];
  }
  throw new ProtoError('varint too long');
}

function slowSigned(b: Uint8Array, start: number, end: number): number {
  let v = 0n;
  for (let i = end - 1; i >= start; i--) v = (v << 7n) | BigInt(b[i] & 0x7f);
  return Number(BigInt.asIntN(64, v));
}

/** Skips a field of the given wire type; returns the next position. */
function skip(b: Uint8Array, pos: number, wire: number, end: number): number {
  switch (wire) {
    case 0: {
      // skipped without decoding: cluster_id and member_id are 64-bit and would need a BigInt
      const start = pos;
      while (pos < end && b[pos] & 0x80) pos++;
      if (pos >= end || pos - start >= 10) throw new ProtoError('truncated varint');
      return pos + 1;
    }
    case 1:
      pos += 8;
      break;
    case 2: {
      const [n, p] = varint(b, pos);
      pos = p + n;
      break;
    }
    case 5:
      pos += 4;
      break;
    default:
      throw new ProtoError(`unsupported wire type ${wire}`);
  }
  if (pos > end) throw new ProtoError('truncated field');
  return pos;
}

/** Length-delimited field: [start, end] of its payload. */
function lengthDelimited(b: Uint8Array, pos: number, end: number): [number, number] {
  const [n, p] = varint(b, pos);
  if (p + n > end) throw new ProtoError('truncated bytes');
  return [p, p + n];
}

/** ResponseHeader { revision = 3 } */
export function decodeHeaderRevision(b: Uint8Array, pos: number, end: number): number {
  let rev = 0;
  while (pos < end) {
    const [tag, p] = varint(b, pos);
    pos = p;
    if (tag === 0x18) [rev, pos] = varint(b, pos);
    else pos = skip(b, pos, tag & 7, end);
  }
  return rev;
}

/** ResponseHeader { raft_term = 4 }: a new term means a leader election happened */
export function decodeHeaderTerm(b: Uint8Array, pos: number, end: number): number {
  let term = 0;
  while (pos < end) {
    const [tag, p] = varint(b, pos);
    pos = p;
    if (tag === 0x20) [term, pos] = varint(b, pos);
    else pos = skip(b, pos, tag & 7, end);
  }
  return term;
}

/** mvccpb.KeyValue */
export function decodeKv(b: Uint8Array, pos: number, end: number): Kv {
  const kv: Kv = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 };
  while (pos < end) {
    const [tag, p] = varint(b, pos);
    pos = p;
    switch (tag) {
      case 0x0a: {
        const [s, e] = lengthDelimited(b, pos, end);
        kv.key = b.subarray(s, e);
        pos = e;
        break;
      }
      case 0x10:
        [kv.createRevision, pos] = varint(b, pos);
        break;
      case 0x18:
        [kv.modRevision, pos] = varint(b, pos);
        break;
      case 0x20:
        [kv.version, pos] = varint(b, pos);
        break;
      case 0x2a: {
        const [s, e] = lengthDelimited(b, pos, end);
        kv.value = b.subarray(s, e);
        pos = e;
        break;
      }
      default:
        pos = skip(b, pos, tag & 7, end);
    }
  }
  return kv;
}

export const EMPTY = new Uint8Array(0);

/** The encoding and decoding pieces, for the messages other modules of wire/ encode (wire/kv.ts). */
export {
  Writer as ProtoWriter,
  varint as readVarint,
  varintBig as readVarintBig,
  skip as skipField,
  lengthDelimited as readLengthDelimited,
  ProtoError as ProtoDecodeError,
};

/** PutResponse { header = 1 } → header revision */
export function decodePutResponse(b: Uint8Array): { revision: number } {
  let revision = 0;
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = varint(b, pos);
    pos = p;
    if (tag === 0x0a) {
      const [s, e] = lengthDelimited(b, pos, b.length);
      revision = decodeHeaderRevision(b, s, e);
      pos = e;
    } else pos = skip(b, pos, tag & 7, b.length);
  }
  return { revision };
}

/** HashKVResponse { header = 1; hash = 2 (uint32); compact_revision = 3 } */
export function decodeHashKVResponse(b: Uint8Array): { revision: number; hash: number; compactRevision: number } {
  const out = { revision: 0, hash: 0, compactRevision: 0 };
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = varint(b, pos);
    pos = p;
    if (tag === 0x0a) {
      const [s, e] = lengthDelimited(b, pos, b.length);
      out.revision = decodeHeaderRevision(b, s, e);
      pos = e;
    } else if (tag === 0x10) [out.hash, pos] = varint(b, pos);
    else if (tag === 0x18) [out.compactRevision, pos] = varint(b, pos);
    else pos = skip(b, pos, tag & 7, b.length);
  }
  return out;
}

/** RangeResponse { header = 1; kvs = 2; more = 3; count = 4 } */
export function decodeRangeResponse(b: Uint8Array): { revision: number; kvs: Kv[]; count: number } {
  const out = { revision: 0, kvs: [] as Kv[], count: 0 };
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = varint(b, pos);
    pos = p;
    if (tag === 0x0a || tag === 0x12) {
      const [s, e] = lengthDelimited(b, pos, b.length);
      if (tag === 0x0a) out.revision = decodeHeaderRevision(b, s, e);
      else out.kvs.push(decodeKv(b, s, e));
      pos = e;
    } else if (tag === 0x20) [out.count, pos] = varint(b, pos);
    else pos = skip(b, pos, tag & 7, b.length);
  }
  return out;
}
