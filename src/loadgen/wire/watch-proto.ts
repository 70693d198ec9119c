// The WatchResponse decoder, the generator's hottest (one call per event delivered to each watcher):
// a module-level cursor instead of a [value, position] pair per varint, plain Uint8Array views of the
// frame instead of Buffer#subarray, and one decode per distinct event however many watchers get it.
import {
  EMPTY,
  ProtoDecodeError as ProtoError,
  readVarint as varint,
  skipField,
  type Kv,
  type WatchEvent,
  type WatchResponse,
} from './proto.js';

/**
 * Position after the last varint `uv` read. The watch decoders below run once per delivered event (a
 * million a second at high fan-out): a module-level cursor instead of a [value, position] pair per
 * varint keeps them free of garbage.
 */
let after = 0;

/** A varint at `pos` (as `varint`), its end left in `after`. */
function uv(b: Uint8Array, pos: number): number {
  let x = 0;
  let mul = 1;
  for (let i = 0, p = pos; i < 9; i++) {
    if (p >= b.length) throw new ProtoError('truncated varint');
    const c = b[p++];
    x += (c & 0x7f) * mul;
    if (c < 0x80) {
      after = p;
      return x;
    }
    mul *= 128;
  }
  // a 10-byte varint: a negative int64
  const [v, p] = varint(b, pos);
  after = p;
  return v;
}

/** The payload end of a length-delimited field whose length varint is at `pos`; its start is left in `after`. */
function ld(b: Uint8Array, pos: number, end: number): number {
  const n = uv(b, pos);
  if (after + n > end) throw new ProtoError('truncated bytes');
  return after + n;
}

/** A view of bytes [s, e) of `b`: a plain Uint8Array over the same memory, cheaper than Buffer#subarray. */
function view(b: Uint8Array, s: number, e: number): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset + s, e - s);
}

/** ResponseHeader { revision = 3 } */
function headerRevision(b: Uint8Array, pos: number, end: number): number {
  let rev = 0;
  while (pos < end) {
    const tag = uv(b, pos);
    pos = after;
    if (tag === 0x18) {
      rev = uv(b, pos);
      pos = after;
    } else pos = skipField(b, pos, tag & 7, end);
  }
  return rev;
}

/** mvccpb.KeyValue, the watch path's decoder (decodeKv without tuples) */
function decodeEventKv(b: Uint8Array, pos: number, end: number): Kv {
  const kv: Kv = { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 };
  while (pos < end) {
    const tag = uv(b, pos);
    pos = after;
    switch (tag) {
      case 0x0a: {
        const e = ld(b, pos, end);
        kv.key = view(b, after, e);
        pos = e;
        break;
      }
      case 0x10:
        kv.createRevision = uv(b, pos);
        pos = after;
        break;
      case 0x18:
        kv.modRevision = uv(b, pos);
        pos = after;
        break;
      case 0x20:
        kv.version = uv(b, pos);
        pos = after;
        break;
      case 0x2a: {
        const e = ld(b, pos, end);
        kv.value = view(b, after, e);
        pos = e;
        break;
      }
      default:
        pos = skipField(b, pos, tag & 7, end);
    }
  }
  return kv;
}

/** WatchResponse; the hottest decoder: events keep views of the frame, nothing is copied. */
export function decodeWatchResponse(b: Uint8Array): WatchResponse {
  const r: WatchResponse = {
    revision: 0,
    watchId: 0,
    created: false,
    canceled: false,
    compactRevision: 0,
    cancelReason: '',
    events: [],
  };
  const end = b.length;
  let pos = 0;
  while (pos < end) {
    const tag = uv(b, pos);
    pos = after;
    switch (tag) {
      case 0x0a: {
        const e = ld(b, pos, end);
        r.revision = headerRevision(b, after, e);
        pos = e;
        break;
      }
      case 0x10:
        r.watchId = uv(b, pos);
        pos = after;
        break;
      case 0x18:
        r.created = b[pos++] !== 0;
        break;
      case 0x20:
        r.canceled = b[pos++] !== 0;
        break;
      case 0x28:
        r.compactRevision = uv(b, pos);
        pos = after;
        break;
      case 0x32: {
        const e = ld(b, pos, end);
        r.cancelReason = Buffer.from(b.buffer, b.byteOffset + after, e - after).toString('utf8');
        pos = e;
        break;
      }
      case 0x5a: {
        const e = ld(b, pos, end);
        r.events.push(eventAt(b, after, e));
        pos = e;
        break;
      }
      default:
        pos = skipField(b, pos, tag & 7, end);
    }
  }
  return r;
}

// Events decoded lately, by mod revision. Fan-out sends the same event bytes to every watcher of a key,
// one response each, and a watcher that is behind gets many revisions per response: the next watcher's
// response repeats the same run of events. An event whose bytes equal a cached one of its revision is
// that event, decoded once and shared (read-only); a byte compare, so a garbled copy never matches.
// Cached events are decoded from their own copy, so the cache pins no socket buffers.
const compareBytes = Buffer.prototype.compare;
const copyBytes = Uint8Array.prototype.slice;
const CACHE_REVISIONS = 1024;
const CACHE_MAX_EVENT = 4096;
const cache = new Map<number, { bytes: Uint8Array; ev: WatchEvent }>();

/** the kv's mod revision, read without decoding (0 when the bytes do not say) */
function modRevisionAt(b: Uint8Array, pos: number, end: number): number {
  while (pos < end) {
    const tag = uv(b, pos);
    pos = after;
    if (tag === 0x12) {
      const e = ld(b, pos, end);
      pos = after;
      while (pos < e) {
        const t = uv(b, pos);
        pos = after;
        if (t === 0x18) return uv(b, pos);
        pos = skipField(b, pos, t & 7, e);
      }
      return 0;
    }
    pos = skipField(b, pos, tag & 7, end);
  }
  return 0;
}

function eventAt(b: Uint8Array, s: number, e: number): WatchEvent {
  const len = e - s;
  if (len > CACHE_MAX_EVENT) return decodeEvent(b, s, e);
  const rev = modRevisionAt(b, s, e);
  const hit = rev > 0 ? cache.get(rev) : undefined;
  if (hit && hit.bytes.length === len && compareBytes.call(b, hit.bytes, 0, len, s, e) === 0) return hit.ev;
  const bytes = copyBytes.call(b, s, e);
  const ev = decodeEvent(bytes, 0, len);
  if (rev > 0) {
    cache.delete(rev);
    cache.set(rev, { bytes, ev });
    if (cache.size > CACHE_REVISIONS) cache.delete(cache.keys().next().value!);
  }
  return ev;
}

/** mvccpb.Event { type = 1; kv = 2; prev_kv = 3 } */
function decodeEvent(b: Uint8Array, pos: number, end: number): WatchEvent {
  let type: 'put' | 'delete' = 'put';
  let kv: Kv | undefined;
  let prevKv: Kv | undefined;
  while (pos < end) {
    const tag = uv(b, pos);
    pos = after;
    if (tag === 0x08) {
      type = uv(b, pos) === 1 ? 'delete' : 'put';
      pos = after;
    } else if (tag === 0x12) {
      const e = ld(b, pos, end);
      kv = decodeEventKv(b, after, e);
      pos = e;
    } else if (tag === 0x1a) {
      const e = ld(b, pos, end);
      prevKv = decodeEventKv(b, after, e);
      pos = e;
    } else pos = skipField(b, pos, tag & 7, end);
  }
  const ev: WatchEvent = {
    type,
    kv: kv ?? { key: EMPTY, value: EMPTY, createRevision: 0, modRevision: 0, version: 0 },
  };
  if (prevKv) ev.prevKv = prevKv;
  return ev;
}
