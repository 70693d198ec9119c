// JSON API calls for tests: over HTTP with undici, or in-process through a hono app's request(); both
// answer the same shape, so a test reads the same whichever way it reaches the API.
import { request } from 'undici';

export interface Answer {
  status: number;
  text: string;
  /** the body as JSON, undefined when it is not JSON */
  json: any;
  type: string | undefined;
}

/** A call: a string body is sent as is, anything else (but undefined) as JSON. */
export type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer>;

function answer(status: number, text: string, type: string | undefined): Answer {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, text, json, type };
}

const encode = (body: unknown) =>
  body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);

/** Calls to the API at `base` ("http://127.0.0.1:8379") over HTTP. */
export function httpClient(base: string, defaults: Record<string, string> = {}): Call {
  return async (method, path, body, headers = {}) => {
    const res = await request(base + path, {
      method: method as 'GET',
      body: encode(body),
      headers: { 'content-type': 'application/json', ...defaults, ...headers },
    });
    const type = res.headers['content-type'];
    return answer(res.statusCode, await res.body.text(), Array.isArray(type) ? type[0] : type);
  };
}

/** Calls to a hono app in process (no socket). */
export function appClient(app: { request(path: string, init: RequestInit): Response | Promise<Response> }): Call {
  return async (method, path, body, headers = {}) => {
    const res = await app.request(path, {
      method,
      body: encode(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
    return answer(res.status, await res.text(), res.headers.get('content-type') ?? undefined);
  };
}
