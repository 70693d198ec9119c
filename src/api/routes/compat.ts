// Each link's etcd-proxy compatible routes under /links/<name>/<route>, with the Go tool's exact texts.
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { answerCompat, compatRoutes } from '../compat.js';

/** Whether a request is one of the compat routes (they read forms with Go's own limit, not the JSON one). */
export function isCompatRoute(method: string, path: string): boolean {
  const parts = path.split('/');
  if (parts.length !== 4 || parts[1] !== 'links') return false;
  const op = `/${parts[3]}`;
  // POST /links/<name>/reset is the JSON route (routes/links.ts)
  return Object.hasOwn(compatRoutes, op) && !(op === '/reset' && method === 'POST');
}

export function compatMount(daemon: Daemon): Hono {
  const app = new Hono();
  app.all('/links/:name/:op', async (c, next) => {
    const op = `/${c.req.param('op')}`;
    if (!Object.hasOwn(compatRoutes, op)) return next();
    const link = daemon.getLink(c.req.param('name'));
    const a = link.address();
    return (await answerCompat(c, op, {
      link,
      from: `tcp://${a.host || 'localhost'}:${a.port}`,
      to: `tcp://${link.upstream}`,
    }))!;
  });
  return app;
}
