// Scenarios: start one from its document (the file's content as JSON; `?dryRun=true` answers the
// expanded plan and its hash without running it, `?seed=N` replaces the file's seed), follow its
// progress and active windows, abort it (its faults removed, its members restored).
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { expandScenario, scenarioSchema } from '../../scenario/index.js';
import { ApiError, jsonBody } from '../validate.js';

function seedParam(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < 0)
    throw new ApiError(400, `invalid seed ${JSON.stringify(raw)}`, [
      { path: 'seed', message: 'expected a non-negative integer' },
    ]);
  return n;
}

function flagParam(raw: string | undefined, name: string): boolean {
  if (raw === undefined || raw === 'false' || raw === '0') return false;
  if (raw === '' || raw === 'true' || raw === '1') return true;
  throw new ApiError(400, `invalid ${name} ${JSON.stringify(raw)}`, [
    { path: name, message: 'expected true or false' },
  ]);
}

export function scenarioRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  app.get('/scenarios', (c) => c.json(daemon.scenarios.list()));
  app.post('/scenarios', jsonBody(scenarioSchema, 'invalid scenario'), (c) => {
    const seed = seedParam(c.req.query('seed'));
    const dryRun = flagParam(c.req.query('dryRun'), 'dryRun');
    const plan = expandScenario(c.req.valid('json'), { members: daemon.topology.size || undefined, seed });
    if (dryRun) return c.json(plan);
    return c.json(daemon.scenarios.start(plan).status(), 201);
  });
  app.get('/scenarios/:id', (c) => c.json(daemon.scenarios.get(c.req.param('id')).status()));
  app.delete('/scenarios/:id', async (c) => c.json(await daemon.scenarios.get(c.req.param('id')).abort()));
  return app;
}
