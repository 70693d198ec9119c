// Faults as JSON: each link's (add: the body is a fault spec; list, remove one, clear), faults addressed
// to targets under /faults (one id over several links), and a global reset.
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { faultSpecSchema } from '../../proxy/faults/registry.js';
import { targetedFaultSchema } from '../schemas.js';
import { ApiError, jsonBody } from '../validate.js';

export function faultRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  app.get('/links/:name/faults', (c) => c.json(daemon.getLink(c.req.param('name')).listFaults()));
  app.post(
    '/links/:name/faults',
    // an unknown link is a 404 before the body is judged
    async (c, next) => {
      daemon.getLink(c.req.param('name'));
      await next();
    },
    jsonBody(faultSpecSchema, 'invalid fault'),
    (c) => c.json(daemon.getLink(c.req.param('name')).addFault(c.req.valid('json')), 201),
  );
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
  // every fault, and faults addressed to targets (links, members, roles) under one id
  app.get('/faults', (c) => c.json(daemon.faults.list()));
  app.post('/faults', jsonBody(targetedFaultSchema, 'invalid fault'), async (c) => {
    const { fault, target } = c.req.valid('json');
    return c.json(await daemon.faults.add(fault, target), 201);
  });
  app.get('/faults/:id', (c) => c.json(daemon.faults.get(c.req.param('id'))));
  app.delete('/faults/:id', (c) => {
    if (!daemon.faults.remove(c.req.param('id'))) daemon.faults.get(c.req.param('id')); // the 404, naming it
    return c.body(null, 204);
  });
  app.delete('/faults', (c) => c.json({ removed: daemon.faults.clear() }));
  app.post('/reset', (c) => c.json({ cleared: daemon.resetAll() }));
  return app;
}
