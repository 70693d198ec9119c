// The load: status, start (the profile parsed once, here, over the daemon's default), live rate, stop.
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { loadStartBody, rateSchema } from '../schemas.js';
import { jsonBody } from '../validate.js';

export function loadRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  app.get('/load', (c) => c.json(daemon.loadStatus()));
  app.put('/load', jsonBody(loadStartBody(() => daemon.defaultProfile)), async (c) => {
    const { profile, endpoints, replace } = c.req.valid('json');
    return c.json(await daemon.startLoad(profile, endpoints, { replace }), 201);
  });
  app.patch('/load', jsonBody(rateSchema), (c) => c.json(daemon.setRate(c.req.valid('json').rate)));
  app.delete('/load', async (c) => c.json(await daemon.stopLoad()));
  return app;
}
