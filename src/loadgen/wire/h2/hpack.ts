// HPACK (RFC 7541) for a gRPC client: a full decoder (static and dynamic tables, Huffman strings, table
// size updates) for the server's headers and trailers, and an encoder for request headers that uses
// the static table and plain literals only, so the server's decoder state never depends on ours.
import { huffmanDecode } from './huffman.js';

// prettier-ignore
const STATIC: readonly (readonly [string, string])[] = [
  ['', ''], [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'],
  [':path', '/index.html'], [':scheme', 'http'], [':scheme', 'https'], [':status', '200'],
  [':status', '204'], [':status', '206'], [':status', '304'], [':status', '400'], [':status', '404'],
  [':status', '500'], ['accept-charset', ''], ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''], ['accept-ranges', ''], ['accept', ''], ['access-control-allow-origin', ''],
  ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''], ['content-disposition', ''],
  ['content-encoding', ''], ['content-language', ''], ['content-length', ''], ['content-location', ''],
  ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''],
  ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''],
  ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
const STATIC_LEN = STATIC.length - 1;

export class HpackError extends Error {
  override name = 'HpackError';
}

/**
 * Decodes header blocks into flat [name, value, name, value, ...] lists (latin1: one char per octet).
 * One decoder per connection: blocks must be decoded in the order they arrived, every one of them.
 */
export class HpackDecoder {
  /** newest first */
  private table: [string, string][] = [];
  private size = 0;
  private maxSize: number;
  private pos = 0;
  private buf: Uint8Array = new Uint8Array(0);

  /** `limit`: the SETTINGS_HEADER_TABLE_SIZE this side announced (4096 unless changed) */
  constructor(private readonly limit = 4096) {
    this.maxSize = limit;
  }

  decode(buf: Uint8Array, start = 0, end = buf.length): string[] {
    this.buf = buf;
    this.pos = start;
    const out: string[] = [];
    let fields = false;
    while (this.pos < end) {
      const b = buf[this.pos];
      if (b & 0x80) {
        const [name, value] = this.entry(this.int(7, end));
        out.push(name, value);
        fields = true;
      } else if (b & 0x40) {
        const idx = this.int(6, end);
        const name = idx ? this.entry(idx)[0] : this.str(end);
        const value = this.str(end);
        this.add(name, value);
        out.push(name, value);
        fields = true;
      } else if (b & 0x20) {
        // a table size update: only before the block's first field
        if (fields) throw new HpackError('table size update after a header field');
        const n = this.int(5, end);
        if (n > this.limit) throw new HpackError(`table size ${n} above the announced ${this.limit}`);
        this.maxSize = n;
        this.evict(0);
      } else {
        // literal without indexing (0000) or never indexed (0001)
        const idx = this.int(4, end);
        const name = idx ? this.entry(idx)[0] : this.str(end);
        out.push(name, this.str(end));
        fields = true;
      }
    }
    this.buf = new Uint8Array(0);
    return out;
  }

  private int(prefix: number, end: number): number {
    const max = (1 << prefix) - 1;
    let n = this.buf[this.pos++] & max;
    if (n < max) return n;
    let shift = 0;
    for (;;) {
      if (this.pos >= end) throw new HpackError('integer runs past the block');
      const b = this.buf[this.pos++];
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) break;
      if (shift > 28) throw new HpackError('integer too large');
    }
    return n;
  }

  private str(end: number): string {
    if (this.pos >= end) throw new HpackError('string runs past the block');
    const huffman = (this.buf[this.pos] & 0x80) !== 0;
    const len = this.int(7, end);
    const from = this.pos;
    if (from + len > end) throw new HpackError('string runs past the block');
    this.pos += len;
    if (huffman) return huffmanDecode(this.buf, from, from + len);
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + from, len).toString('latin1');
  }

  private entry(idx: number): readonly [string, string] {
    if (idx === 0) throw new HpackError('index 0');
    if (idx <= STATIC_LEN) return STATIC[idx];
    const e = this.table[idx - STATIC_LEN - 1];
    if (!e) throw new HpackError(`index ${idx} not in the table`);
    return e;
  }

  private add(name: string, value: string): void {
    const size = name.length + value.length + 32;
    // an entry larger than the table empties it and is not added (RFC 7541 4.4)
    this.evict(size);
    if (size > this.maxSize) return;
    this.table.unshift([name, value]);
    this.size += size;
  }

  private evict(room: number): void {
    while (this.table.length && this.size + room > this.maxSize) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }

  /** entries in the dynamic table (for tests) */
  get entries(): number {
    return this.table.length;
  }
}

function appendInt(out: number[], firstBits: number, prefix: number, n: number): void {
  const max = (1 << prefix) - 1;
  if (n < max) {
    out.push(firstBits | n);
    return;
  }
  out.push(firstBits | max);
  n -= max;
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function appendStr(out: number[], s: string): void {
  const b = Buffer.from(s, 'latin1');
  appendInt(out, 0, 7, b.length);
  for (const x of b) out.push(x);
}

/** static-table names a request may use by index */
const STATIC_NAME = new Map<string, number>();
for (let i = STATIC_LEN; i >= 1; i--) STATIC_NAME.set(STATIC[i][0], i);

/**
 * Encodes request headers as one block: fields the static table has whole as an index, the rest as
 * literals without indexing (by the static name's index when there is one), strings not Huffman-coded.
 * Computed once per path and deadline by the client, so its cost is off the hot path.
 */
export function encodeRequestHeaders(fields: readonly (readonly [string, string])[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const whole = STATIC.findIndex((e, i) => i > 0 && e[0] === name && e[1] === value);
    if (whole > 0) {
      appendInt(out, 0x80, 7, whole);
      continue;
    }
    const idx = STATIC_NAME.get(name);
    if (idx) appendInt(out, 0x00, 4, idx);
    else {
      out.push(0x00);
      appendStr(out, name);
    }
    appendStr(out, value);
  }
  return Buffer.from(out);
}

/** the value of the first field named `name` in a decoded list */
export function fieldOf(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}
