// Parsing at the edge: a route names the schema of its JSON body and its handler reads the typed value
// with c.req.valid('json'); the engine never sees raw JSON. A failure is answered here as
// `{ error, details: [{ path, message }] }`, the same shape the domain errors map to.
import type { Context, Env, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { zodDetails, type ErrorDetail } from '../util/errors.js';

/** An answer the API itself gives (bad JSON, a schema failure, an unknown fault): status and the fields at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

/** Largest JSON request body, bytes. */
export const MAX_BODY_BYTES = 1 << 20;

/**
 * 1 MiB per request body: a larger Content-Length is refused without reading, a chunked body is counted
 * as it streams and refused once past the limit (hono's bodyLimit; at most the limit is ever held, the
 * HTTP server then discards or closes the rest).
 */
export const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) =>
    c.json(
      {
        error: 'request body too large: limit 1 MiB',
        details: [{ path: 'body', message: `expected at most ${MAX_BODY_BYTES} bytes` }],
      },
      413,
    ),
});

/**
 * The body as JSON whatever its Content-Type (curl -d sends a form type), an empty body as {}. Hono's
 * own json validator reads only application/json and answers its own text, hence this reader.
 */
async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `invalid JSON body: ${(err as Error).message}`);
  }
}

/** What a route's handler gets: `c.req.valid('json')` is the schema's output. */
type JsonInput<T extends z.ZodTypeAny> = { in: { json: z.input<T> }; out: { json: z.output<T> } };

/**
 * A validator middleware in hono's style (it fills c.req.valid('json')) for a zod schema; a failure is
 * a 400 with `error` (default "invalid request body") and each issue's path and message.
 */
export function jsonBody<T extends z.ZodTypeAny, E extends Env = Env, P extends string = string>(
  schema: T,
  error = 'invalid request body',
): MiddlewareHandler<E, P, JsonInput<T>> {
  return async (c, next) => {
    const r = await schema.safeParseAsync(await readJson(c));
    if (!r.success) return c.json({ error, details: zodDetails(r.error) }, 400);
    c.req.addValidatedData('json', r.data as object);
    await next();
  };
}
