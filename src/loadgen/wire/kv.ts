// The KV calls a linearizability history needs, beside client.ts's put/range: Put (with a lease), Range (linearizable or
// serializable, at a revision), Txn (compares on value / mod / create revision / version, success and
// failure branches of put, delete and range) and DeleteRange. Hand-written protobuf (field numbers from
// etcd's etcdserverpb/rpc.proto, v3.4); never retried.
import type { EtcdWireClient } from './client.js';
import {
  ProtoWriter,
  decodeHeaderRevision,
  decodeKv,
  decodePutResponse,
  decodeRangeResponse,
  readLengthDelimited,
  readVarint,
  skipField,
  toBytes,
  type Kv,
} from './proto.js';

export interface RangeOptions {
  rangeEnd?: Uint8Array;
  limit?: number;
  /** read at this revision (0: the latest) */
  revision?: number;
  /** served by the member that answers from its own store, without a quorum round */
  serializable?: boolean;
}

export interface RangeResult {
  /** the header revision the read was served at */
  revision: number;
  kvs: Kv[];
  count: number;
}

export interface PutResult {
  revision: number;
  /** the key's state before the put, when asked for (prevKv) and the key existed */
  prevKv?: Kv;
}

export interface DeleteResult {
  revision: number;
  /** keys deleted (0: nothing there, no revision created) */
  deleted: number;
}

export type CompareTarget = 'value' | 'mod' | 'create' | 'version';
export type CompareResult = 'equal' | 'greater' | 'less' | 'not-equal';

export interface Compare {
  key: Uint8Array | string;
  target: CompareTarget;
  result?: CompareResult;
  /** value: bytes; mod / create / version: a number (0 = the key does not exist) */
  value: Uint8Array | string | number;
}

export type TxnOp =
  | { put: { key: Uint8Array | string; value: Uint8Array | string; lease?: bigint } }
  | { del: { key: Uint8Array | string; rangeEnd?: Uint8Array } }
  | { range: { key: Uint8Array | string } & RangeOptions };

export type TxnOpResponse =
  | { type: 'put'; revision: number }
  | { type: 'del'; revision: number; deleted: number }
  | { type: 'range'; revision: number; kvs: Kv[]; count: number };

export interface TxnRequest {
  compare: Compare[];
  success: TxnOp[];
  failure?: TxnOp[];
}

export interface TxnResult {
  /** the header revision: the revision the Txn created when a branch wrote, else the store's */
  revision: number;
  succeeded: boolean;
  /** the taken branch's responses, in order */
  responses: TxnOpResponse[];
}

const RESULT: Record<CompareResult, number> = { equal: 0, greater: 1, less: 2, 'not-equal': 3 };
const TARGET: Record<CompareTarget, number> = { version: 0, create: 1, mod: 2, value: 3 };
/** Compare's target_union field per target: version = 4, create_revision = 5, mod_revision = 6, value = 7 */
const UNION_FIELD: Record<CompareTarget, number> = { version: 4, create: 5, mod: 6, value: 7 };

/** RangeRequest { key = 1; range_end = 2; limit = 3; revision = 4; serializable = 7 } */
export function encodeRangeRequest(key: Uint8Array | string, opts: RangeOptions = {}): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, toBytes(key));
  if (opts.rangeEnd) w.bytes(2, opts.rangeEnd);
  w.int(3, opts.limit ?? 0);
  w.int(4, opts.revision ?? 0);
  w.bool(7, opts.serializable);
  return w.finish();
}

/** PutRequest { key = 1; value = 2; lease = 3; prev_kv = 4 } */
export function encodePutRequest(
  key: Uint8Array | string,
  value: Uint8Array | string,
  opts: { lease?: bigint; prevKv?: boolean } = {},
): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, toBytes(key));
  const v = toBytes(value);
  if (v.length) w.bytes(2, v);
  w.int64(3, opts.lease ?? 0n);
  w.bool(4, opts.prevKv);
  return w.finish();
}

/** PutResponse { header = 1; prev_kv = 2 } */
export function decodePutResponseFull(b: Uint8Array): PutResult {
  const out: PutResult = { revision: 0 };
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = readVarint(b, pos);
    pos = p;
    if (tag === 0x0a || tag === 0x12) {
      const [s, e] = readLengthDelimited(b, pos, b.length);
      if (tag === 0x0a) out.revision = decodeHeaderRevision(b, s, e);
      else out.prevKv = decodeKv(b, s, e);
      pos = e;
    } else pos = skipField(b, pos, tag & 7, b.length);
  }
  return out;
}

/** DeleteRangeRequest { key = 1; range_end = 2 } */
export function encodeDeleteRange(key: Uint8Array | string, rangeEnd?: Uint8Array): Buffer {
  const w = new ProtoWriter();
  w.bytes(1, toBytes(key));
  if (rangeEnd) w.bytes(2, rangeEnd);
  return w.finish();
}

/** Compare { result = 1; target = 2; key = 3; version = 4 | create_revision = 5 | mod_revision = 6 | value = 7 } */
export function encodeCompare(c: Compare): Buffer {
  const w = new ProtoWriter();
  w.int(1, RESULT[c.result ?? 'equal']);
  w.int(2, TARGET[c.target]);
  w.bytes(3, toBytes(c.key));
  const field = UNION_FIELD[c.target];
  if (c.target === 'value') {
    if (typeof c.value === 'number') throw new TypeError('a value compare takes bytes');
    // a oneof member is written even when empty: it says which target the compare means
    w.bytes(field, toBytes(c.value));
  } else {
    if (typeof c.value !== 'number') throw new TypeError(`a ${c.target} compare takes a number`);
    w.tag(field, 0);
    w.varint(c.value);
  }
  return w.finish();
}

/** RequestOp { request_range = 1; request_put = 2; request_delete_range = 3 } */
export function encodeRequestOp(op: TxnOp): Buffer {
  const w = new ProtoWriter();
  if ('put' in op) w.bytes(2, encodePutRequest(op.put.key, op.put.value, op.put));
  else if ('del' in op) w.bytes(3, encodeDeleteRange(op.del.key, op.del.rangeEnd));
  else w.bytes(1, encodeRangeRequest(op.range.key, op.range));
  return w.finish();
}

/** TxnRequest { compare = 1; success = 2; failure = 3 } */
export function encodeTxn(req: TxnRequest): Buffer {
  const w = new ProtoWriter();
  for (const c of req.compare) w.bytes(1, encodeCompare(c));
  for (const op of req.success) w.bytes(2, encodeRequestOp(op));
  for (const op of req.failure ?? []) w.bytes(3, encodeRequestOp(op));
  return w.finish();
}

/** DeleteRangeResponse { header = 1; deleted = 2 } */
export function decodeDeleteRangeResponse(b: Uint8Array): DeleteResult {
  const out = { revision: 0, deleted: 0 };
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = readVarint(b, pos);
    pos = p;
    if (tag === 0x0a) {
      const [s, e] = readLengthDelimited(b, pos, b.length);
      out.revision = decodeHeaderRevision(b, s, e);
      pos = e;
    } else if (tag === 0x10) [out.deleted, pos] = readVarint(b, pos);
    else pos = skipField(b, pos, tag & 7, b.length);
  }
  return out;
}

/** ResponseOp { response_range = 1; response_put = 2; response_delete_range = 3 } */
function decodeResponseOp(b: Uint8Array): TxnOpResponse | undefined {
  let pos = 0;
  let out: TxnOpResponse | undefined;
  while (pos < b.length) {
    const [tag, p] = readVarint(b, pos);
    pos = p;
    if (tag === 0x0a || tag === 0x12 || tag === 0x1a) {
      const [s, e] = readLengthDelimited(b, pos, b.length);
      const inner = b.subarray(s, e);
      if (tag === 0x0a) out = { type: 'range', ...decodeRangeResponse(inner) };
      else if (tag === 0x12) out = { type: 'put', ...decodePutResponse(inner) };
      else out = { type: 'del', ...decodeDeleteRangeResponse(inner) };
      pos = e;
    } else pos = skipField(b, pos, tag & 7, b.length);
  }
  return out;
}

/** TxnResponse { header = 1; succeeded = 2; responses = 3 } */
export function decodeTxnResponse(b: Uint8Array): TxnResult {
  const out: TxnResult = { revision: 0, succeeded: false, responses: [] };
  let pos = 0;
  while (pos < b.length) {
    const [tag, p] = readVarint(b, pos);
    pos = p;
    if (tag === 0x0a || tag === 0x1a) {
      const [s, e] = readLengthDelimited(b, pos, b.length);
      if (tag === 0x0a) out.revision = decodeHeaderRevision(b, s, e);
      else {
        const r = decodeResponseOp(b.subarray(s, e));
        if (r) out.responses.push(r);
      }
      pos = e;
    } else if (tag === 0x10) {
      let v: number;
      [v, pos] = readVarint(b, pos);
      out.succeeded = v !== 0;
    } else pos = skipField(b, pos, tag & 7, b.length);
  }
  return out;
}

/** A Range: linearizable unless `serializable`, at `revision` when given. */
export async function kvRange(
  client: EtcdWireClient,
  key: Uint8Array | string,
  opts: RangeOptions & { timeoutMs: number },
): Promise<RangeResult> {
  const body = encodeRangeRequest(key, opts);
  return decodeRangeResponse(await client.call('/etcdserverpb.KV/Range', body, opts.timeoutMs));
}

/** A Txn: the compares, then the success or the failure branch. */
export async function kvTxn(client: EtcdWireClient, req: TxnRequest, opts: { timeoutMs: number }): Promise<TxnResult> {
  return decodeTxnResponse(await client.call('/etcdserverpb.KV/Txn', encodeTxn(req), opts.timeoutMs));
}

/** A Put, bound to `lease` when given (the key is deleted when the lease ends); never retried. */
export async function kvPut(
  client: EtcdWireClient,
  key: Uint8Array | string,
  value: Uint8Array | string,
  opts: { timeoutMs: number; lease?: bigint; prevKv?: boolean },
): Promise<PutResult> {
  const body = encodePutRequest(key, value, opts);
  return decodePutResponseFull(await client.call('/etcdserverpb.KV/Put', body, opts.timeoutMs));
}

/** A DeleteRange of one key (or [key, rangeEnd)); `deleted` says how many keys were there. */
export async function kvDeleteRange(
  client: EtcdWireClient,
  key: Uint8Array | string,
  opts: { rangeEnd?: Uint8Array; timeoutMs: number },
): Promise<DeleteResult> {
  const body = encodeDeleteRange(key, opts.rangeEnd);
  return decodeDeleteRangeResponse(await client.call('/etcdserverpb.KV/DeleteRange', body, opts.timeoutMs));
}
