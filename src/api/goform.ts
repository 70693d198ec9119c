// Go's net/http form parsing as etcd-proxy sees it (Request.ParseForm + PostForm.Get): only an
// application/x-www-form-urlencoded body of PUT/POST/PATCH fills PostForm, read up to Go's 10 MiB limit
// and no further; a malformed URL query still makes ParseForm fail. Error texts are Go's.

import { goQuote } from '../util/goquote.js';

/** Go's maxFormSize: a url-encoded body over this is `http: POST too large` */
export const MAX_FORM_BYTES = 10 << 20;

export interface GoForm {
  /** first value of a key in the body form, '' when absent (PostForm.Get) */
  get(key: string): string;
  /** ParseForm's error text, when it failed */
  error: string | undefined;
}

class FormError extends Error {}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** strconv.Quote of bytes: Go cuts an escape at 3 bytes, and a UTF-8 sequence cut there is quoted as \xNN. */
function quoteBytes(b: Buffer): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const n = b[i] < 0x80 ? 1 : b[i] >= 0xf0 ? 4 : b[i] >= 0xe0 ? 3 : b[i] >= 0xc0 ? 2 : 0;
    let ch: string | undefined;
    try {
      ch = n > 0 && i + n <= b.length ? utf8.decode(b.subarray(i, i + n)) : undefined;
    } catch {
      ch = undefined;
    }
    if (ch === undefined) {
      out += '\\x' + b[i].toString(16).padStart(2, '0');
      i++;
    } else {
      out += goQuote(ch).slice(1, -1);
      i += n;
    }
  }
  return `"${out}"`;
}

/** url.QueryUnescape, on bytes like Go. */
export function queryUnescape(str: string): string {
  const s = Buffer.from(str, 'utf8');
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length;) {
    const c = s[i];
    if (c === 0x25) {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) {
        throw new FormError(`invalid URL escape ${quoteBytes(s.subarray(i, i + 3))}`);
      }
      out[n++] = parseInt(s.subarray(i + 1, i + 3).toString('latin1'), 16);
      i += 3;
    } else {
      out[n++] = c === 0x2b ? 0x20 : c;
      i++;
    }
  }
  return out.subarray(0, n).toString('utf8');
}

/** url.ParseQuery: every pair parsed, the first error kept. */
export function parseQuery(query: string, into: Map<string, string[]>): string | undefined {
  let err: string | undefined;
  for (const part of query.split('&')) {
    if (part.includes(';')) {
      err ??= 'invalid semicolon separator in query';
      continue;
    }
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    try {
      const key = queryUnescape(rawKey);
      const value = queryUnescape(rawValue);
      const list = into.get(key);
      if (list) list.push(value);
      else into.set(key, [value]);
    } catch (e) {
      err ??= (e as Error).message;
    }
  }
  return err;
}

/** The media type ParseForm reads a body for, or why it fails; undefined = not a form (body not read). */
function formMedia(contentType: string | undefined): 'form' | { error: string } | undefined {
  const ct = contentType === undefined ? 'application/octet-stream' : contentType;
  const media = ct.split(';')[0].trim().toLowerCase();
  if (media === '') return { error: 'mime: no media type' };
  return media === 'application/x-www-form-urlencoded' ? 'form' : undefined;
}

/**
 * ParseForm for one request: method, Content-Type header, the raw body (or `TOO_LARGE` when it exceeded
 * Go's 10 MiB form limit) and the raw URL query.
 */
export function parseGoForm(
  method: string,
  contentType: string | undefined,
  body: string | typeof TOO_LARGE,
  rawQuery: string,
): GoForm {
  const post = new Map<string, string[]>();
  let error: string | undefined;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const media = formMedia(contentType);
    if (typeof media === 'object') error = media.error;
    else if (media === 'form')
      error =
        body === TOO_LARGE || Buffer.byteLength(body) > MAX_FORM_BYTES
          ? 'http: POST too large'
          : parseQuery(body, post);
  }
  const queryError = parseQuery(rawQuery, new Map());
  error ??= queryError;
  return { get: (k) => post.get(k)?.[0] ?? '', error };
}

/** Marks a body longer than the limit it was read with. */
export const TOO_LARGE: unique symbol = Symbol('too large');

/**
 * Reads a request body up to `limit` bytes. Past the limit it stops reading (a declared Content-Length
 * over the limit is not read at all) and returns TOO_LARGE: at most `limit` bytes are ever held.
 */
export async function readBodyUpTo(req: Request, limit: number): Promise<Buffer | typeof TOO_LARGE> {
  const declared = req.headers.get('content-length');
  if (declared !== null && !req.headers.has('transfer-encoding') && Number(declared) > limit) return TOO_LARGE;
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      // stop here; the HTTP server discards or closes what the client still sends
      reader.cancel().catch(() => undefined);
      return TOO_LARGE;
    }
    parts.push(value);
  }
  return Buffer.concat(parts, n);
}

/** What etcd-proxy's handlers see after r.ParseForm(): the body is read only for a form Content-Type, at most 10 MiB + 1 bytes (Go's LimitReader). */
export async function readGoForm(req: Request): Promise<GoForm> {
  const method = req.method;
  const contentType = req.headers.get('content-type') ?? undefined;
  const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const body = hasBody && formMedia(contentType) === 'form' ? await readBodyUpTo(req, MAX_FORM_BYTES) : Buffer.alloc(0);
  const url = req.url;
  const q = url.indexOf('?');
  return parseGoForm(
    method,
    contentType,
    body === TOO_LARGE ? TOO_LARGE : body.toString('utf8'),
    q < 0 ? '' : url.slice(q + 1),
  );
}
