// Member-aware partitions: create (a graph of who cannot reach whom, or a preset), list, heal one, heal all.
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { partitionSpecSchema } from '../../schema/partition.js';
import { jsonBody } from '../validate.js';

export function partitionRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  const book = daemon.peers.partitions;
  app.get('/partitions', (c) => c.json(book.list()));
  app.post('/partitions', jsonBody(partitionSpecSchema, 'invalid partition'), async (c) =>
    c.json(await book.add(c.req.valid('json')), 201),
  );
  app.get('/partitions/:id', (c) => c.json(book.get(c.req.param('id'))));
  app.delete('/partitions/:id', (c) => {
    if (!book.remove(c.req.param('id'))) book.get(c.req.param('id')); // the 404, naming it
    return c.body(null, 204);
  });
  app.delete('/partitions', (c) => c.json({ healed: book.clear() }));
  // bytes, live tunnels and refused dials per (from, to) member pair, with the effect in force
  app.get('/peers', (c) => {
    const effects = new Map(book.pairs().map((p) => [`${p.from}>${p.to}`, p.effect]));
    return c.json(daemon.peers.pairStats().map((s) => ({ ...s, effect: effects.get(`${s.from}>${s.to}`) ?? null })));
  });
  return app;
}
