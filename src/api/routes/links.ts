// Links: list, create, get, delete, and RST every live connection of one.
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { linkCreateSchema } from '../../schema/link.js';
import { jsonBody } from '../validate.js';

export function linkRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  app.get('/links', (c) => c.json(daemon.listLinks()));
  app.post('/links', jsonBody(linkCreateSchema), async (c) => c.json(await daemon.addLink(c.req.valid('json')), 201));
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
  // the JSON route; GET /links/<name>/reset is etcd-proxy's (routes/compat.ts)
  app.post('/links/:name/reset', (c) => c.json({ reset: daemon.getLink(c.req.param('name')).resetConnections() }));
  return app;
}
