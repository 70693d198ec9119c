// The daemon's HTTP API (hono), composed of small routers (routes/): meta (/healthz, /metrics,
// /openapi.json), links, faults, each link's etcd-proxy compat routes, the load, the cluster, partitions,
// member process faults and the live page (GET /, its assets, /live, /events). Here: the body limit, the
// bearer token, and the one mapping of errors to answers. Client mistakes are 4xx with the field named,
// never a 5xx; bodies are parsed at the routes (validate.ts).
import { Hono, type MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import type { Daemon } from '../daemon.js';
import { Conflict, DomainError, Invalid, NotFound, Unprocessable, zodDetails } from '../util/errors.js';
import { clusterRoutes } from './routes/cluster.js';
import { compatMount, isCompatRoute } from './routes/compat.js';
import { faultRoutes } from './routes/faults.js';
import { linkRoutes } from './routes/links.js';
import { loadRoutes } from './routes/load.js';
import { memberRoutes } from './routes/members.js';
import { metaRoutes } from './routes/meta.js';
import { partitionRoutes } from './routes/partitions.js';
import { scenarioRoutes } from './routes/scenarios.js';
import { PUBLIC_PAGE_PATHS, uiRoutes } from './routes/ui.js';
import { ApiError, limitBody } from './validate.js';

/** The engine's domain errors, as HTTP statuses (here only: the daemon knows nothing of HTTP). */
function domainStatus(err: DomainError): 400 | 404 | 409 | 422 {
  if (err instanceof NotFound) return 404;
  if (err instanceof Conflict) return 409;
  if (err instanceof Unprocessable) return 422;
  if (err instanceof Invalid) return 400;
  return 400;
}

/** The compat routes answer Go texts and read their form with Go's own 10 MiB limit, not the JSON one. */
const limitJsonBodies: MiddlewareHandler = (c, next) =>
  isCompatRoute(c.req.method, c.req.path) ? next() : limitBody(c, next);

function bearer(token: string): MiddlewareHandler {
  const expected = `Bearer ${token}`;
  return async (c, next) => {
    if (c.req.path === '/healthz') return next();
    // the live page and its static assets carry no secret; the page asks for the token and sends it
    if (c.req.method === 'GET' && PUBLIC_PAGE_PATHS.has(c.req.path)) return next();
    if (c.req.header('authorization') !== expected)
      return c.json(
        {
          error: 'missing or wrong bearer token',
          details: [{ path: 'Authorization', message: 'expected "Bearer <token>"' }],
        },
        401,
      );
    return next();
  };
}

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
  if (opts.token) app.use('*', bearer(opts.token));

  // order matters: POST /links/<name>/reset (links) before the compat mount's /links/<name>/<route>
  app.route('/', metaRoutes(daemon));
  app.route('/', linkRoutes(daemon));
  app.route('/', faultRoutes(daemon));
  app.route('/', compatMount(daemon));
  app.route('/', loadRoutes(daemon));
  app.route('/', clusterRoutes(daemon));
  app.route('/', partitionRoutes(daemon));
  app.route('/', memberRoutes(daemon));
  app.route('/', scenarioRoutes(daemon));
  app.route('/', uiRoutes(daemon, { token: Boolean(opts.token) }));
  return app;
}
