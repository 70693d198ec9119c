// The daemon's HTTP API (hono): JSON routes for links, faults and the load, each link's etcd-proxy
// compat routes, /metrics and /healthz. Client mistakes are 4xx with the field named, never a 5xx.
// Request bodies are parsed here, at the edge, with the schemas the engine's types come from.
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { z, ZodError } from 'zod';
import type { Daemon } from '../daemon.js';
import { faultSpecSchema } from '../proxy/faults/registry.js';
import { linkCreateSchema } from '../schema/link.js';
import { loadProfileSchema } from '../schema/load.js';
import { hostPortSchema } from '../schema/net.js';
import {
  Conflict,
  DomainError,
  Invalid,
  NotFound,
  Unprocessable,
  zodDetails,
  type ErrorDetail,
} from '../util/errors.js';

/** An HTTP answer the API itself gives (bad JSON, a schema failure): status and the fields at fault. */
class ApiError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }
}

/** The engine's domain errors, as HTTP statuses (here only: the daemon knows nothing of HTTP). */
function domainStatus(err: DomainError): 400 | 404 | 409 | 422 {
  if (err instanceof NotFound) return 404;
  if (err instanceof Conflict) return 409;
  if (err instanceof Unprocessable) return 422;
  if (err instanceof Invalid) return 400;
  return 400;
}
import { answerCompat, compatRoutes } from './compat.js';
import { openapiDocument } from './openapi.js';

const hostPort = hostPortSchema;

export const loadStartSchema = z
  .object({
    profile: z.record(z.unknown()).optional(),
    endpoints: z.array(hostPort).min(1).optional(),
    /** start even while a load runs, stopping it first (without it the daemon answers 409) */
    replace: z.boolean().optional(),
  })
  .strict();

/** Largest JSON request body, bytes. */
export const MAX_BODY_BYTES = 1 << 20;
const rateSchema = z.object({ rate: z.number().finite().min(0).max(1_000_000) }).strict();

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `invalid JSON body: ${(err as Error).message}`);
  }
}

function parse<T extends z.ZodTypeAny>(
  schema: T,
  body: unknown,
  prefix = '',
  error = 'invalid request body',
): z.output<T> {
  const r = schema.safeParse(body);
  if (!r.success) throw new ApiError(400, error, zodDetails(r.error, prefix));
  return r.data;
}

/**
 * 1 MiB per request body: a larger Content-Length is refused without reading, a chunked body is counted
 * as it streams and refused once past the limit (hono's bodyLimit; at most the limit is ever held, the
 * HTTP server then discards or closes the rest).
 */
const limitBody = bodyLimit({
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
 * The etcd-proxy compat routes under /links/<name>/ answer Go texts and read their form with Go's own
 * 10 MiB limit (readGoForm), so the JSON limit is not theirs. POST /links/<name>/reset is the JSON route.
 */
function isCompatRoute(c: Context): boolean {
  const parts = c.req.path.split('/');
  if (parts.length !== 4 || parts[1] !== 'links') return false;
  const op = `/${parts[3]}`;
  return Object.hasOwn(compatRoutes, op) && !(op === '/reset' && c.req.method === 'POST');
}

const limitJsonBodies: MiddlewareHandler = (c, next) => (isCompatRoute(c) ? next() : limitBody(c, next));

export interface AppOptions {
  token?: string;
}

export function buildApp(daemon: Daemon, opts: AppOptions = {}): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json({ error: err.message, details: err.details }, err.status);
    if (err instanceof DomainError) return c.json({ error: err.message, details: err.details }, domainStatus(err));
    if (err instanceof ZodError) return c.json({ error: 'invalid request', details: zodDetails(err) }, 400);
    if (err instanceof HTTPException && err.status < 500)
      return c.json({ error: err.message, details: [] }, err.status);
    daemon.logger.error({ err, path: c.req.path }, 'API handler failed');
    return c.json({ error: `internal error: ${err.message}`, details: [] }, 500);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}`, details: [] }, 404));

  app.use('*', limitJsonBodies);
  app.get('/healthz', (c) => c.json({ ok: true }));
  if (opts.token) {
    const expected = `Bearer ${opts.token}`;
    app.use('*', async (c, next) => {
      if (c.req.path === '/healthz') return next();
      if (c.req.header('authorization') !== expected)
        return c.json(
          {
            error: 'missing or wrong bearer token',
            details: [{ path: 'Authorization', message: 'expected "Bearer <token>"' }],
          },
          401,
        );
      return next();
    });
  }

  app.get('/metrics', async (c) =>
    c.body(await daemon.metrics.registry.metrics(), 200, { 'Content-Type': daemon.metrics.registry.contentType }),
  );
  app.get('/openapi.json', (c) => c.json(openapiDocument()));

  // links
  app.get('/links', (c) => c.json(daemon.listLinks()));
  app.post('/links', async (c) => {
    const spec = parse(linkCreateSchema, await jsonBody(c));
    return c.json(await daemon.addLink(spec), 201);
  });
  app.get('/links/:name', (c) =>
    c.json({
      ...daemon.getLink(c.req.param('name')).stats(),
      compatAdmin: daemon.linkSpec(c.req.param('name')).compatAdmin,
    }),
  );
  app.delete('/links/:name', async (c) => {
    await daemon.removeLink(c.req.param('name'));
    return c.body(null, 204);
  });

  // faults
  app.get('/links/:name/faults', (c) => c.json(daemon.getLink(c.req.param('name')).listFaults()));
  app.post('/links/:name/faults', async (c) => {
    const link = daemon.getLink(c.req.param('name'));
    const spec = parse(faultSpecSchema, await jsonBody(c), '', 'invalid fault');
    return c.json(link.addFault(spec), 201);
  });
  app.delete('/links/:name/faults', (c) => {
    const link = daemon.getLink(c.req.param('name'));
    const removed = link.listFaults().length;
    link.clearFaults();
    return c.json({ removed });
  });
  app.delete('/links/:name/faults/:id', (c) => {
    const link = daemon.getLink(c.req.param('name'));
    if (!link.removeFault(c.req.param('id')))
      throw new ApiError(404, `no fault ${JSON.stringify(c.req.param('id'))} on link ${link.name}`);
    return c.body(null, 204);
  });
  app.post('/links/:name/reset', (c) => c.json({ reset: daemon.getLink(c.req.param('name')).resetConnections() }));
  app.post('/reset', (c) => c.json({ cleared: daemon.resetAll() }));

  // each link's etcd-proxy compat routes, exact texts
  app.all('/links/:name/:op', async (c, next) => {
    const op = `/${c.req.param('op')}`;
    if (!Object.hasOwn(compatRoutes, op)) return next();
    const name = c.req.param('name');
    const link = daemon.getLink(name);
    const a = link.address();
    return (await answerCompat(c, op, {
      link,
      from: `tcp://${a.host || 'localhost'}:${a.port}`,
      to: `tcp://${link.upstream}`,
    }))!;
  });

  // load
  app.get('/load', (c) => c.json(daemon.loadStatus()));
  app.put('/load', async (c) => {
    const body = parse(loadStartSchema, await jsonBody(c));
    parse(loadProfileSchema, body.profile ?? {}, 'profile');
    return c.json(await daemon.startLoad(body.profile ?? {}, body.endpoints, { replace: body.replace }), 201);
  });
  app.patch('/load', async (c) => c.json(daemon.setRate(parse(rateSchema, await jsonBody(c)).rate)));
  app.delete('/load', async (c) => c.json(await daemon.stopLoad()));

  // members (launched, or an existing cluster's from its links): each member's own view through its client URL
  app.get('/cluster', async (c) => c.json(await daemon.clusterStatus()));

  return app;
}
