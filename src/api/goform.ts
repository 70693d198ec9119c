// Go's net/http form parsing as etcd-proxy sees it (Request.ParseForm + PostForm.Get): only an
// application/x-www-form-urlencoded body of PUT/POST/PATCH fills PostForm; a malformed URL query still
// makes ParseForm fail. Error texts are Go's.

import { goQuote } from '../util/goquote.js';

const MAX_FORM_BYTES = 10 << 20;

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

/** url.QueryUnescape, on bytes like Go. */
export function queryUnescape(str: string): string {
  const s = Buffer.from(str, 'utf8');
  const out = Buffer.allocUnsafe(s.length);
  let n = 0;
  for (let i = 0; i < s.length; ) {
    const c = s[i];
    if (c === 0x25) {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) {
        throw new FormError(`invalid URL escape ${goQuote(s.subarray(i, i + 3).toString('utf8'))}`);
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

/** ParseForm for one request: method, Content-Type header, raw body and raw URL query. */
export function parseGoForm(method: string, contentType: string | undefined, body: string, rawQuery: string): GoForm {
  const post = new Map<string, string[]>();
  let error: string | undefined;
  if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    const ct = contentType === undefined ? 'application/octet-stream' : contentType;
    const media = ct.split(';')[0].trim().toLowerCase();
    if (media === '') error = 'mime: no media type';
    else if (media === 'application/x-www-form-urlencoded') {
      if (Buffer.byteLength(body) > MAX_FORM_BYTES) error = 'http: POST too large';
      else error = parseQuery(body, post);
    }
  }
  const queryError = parseQuery(rawQuery, new Map());
  error ??= queryError;
  return { get: (k) => post.get(k)?.[0] ?? '', error };
}
