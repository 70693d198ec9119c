// Liveness, Prometheus metrics and the OpenAPI document.
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { openapiDocument } from '../openapi.js';

export function metaRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/metrics', async (c) =>
    c.body(await daemon.metrics.registry.metrics(), 200, { 'Content-Type': daemon.metrics.registry.contentType }),
  );
  app.get('/openapi.json', (c) => c.json(openapiDocument()));
  return app;
}
