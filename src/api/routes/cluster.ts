// The members the daemon knows (launched, or an existing cluster's from its links), each member's own view.
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';

export function clusterRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  app.get('/cluster', async (c) => c.json(await daemon.clusterStatus()));
  return app;
}
