// Member process faults on launched members: list the members with the open member fault windows, and
// kill, stop, freeze, continue, restart or start one, by name or role (resolved when applied).
import { Hono } from 'hono';
import type { Daemon } from '../../daemon.js';
import { MEMBER_ACTIONS, type MemberAction } from '../../daemon/members.js';
import { memberActionSchema } from '../schemas.js';
import { ApiError, jsonBody } from '../validate.js';

const isAction = (a: string): a is MemberAction => (MEMBER_ACTIONS as readonly string[]).includes(a);

export function memberRoutes(daemon: Daemon): Hono {
  const app = new Hono();
  const book = daemon.memberBook;
  app.get('/members', (c) => c.json({ members: daemon.members(), windows: book.active() }));
  app.post(
    '/members/:target/:action',
    // an unknown action is a 400 naming it before the body is judged
    async (c, next) => {
      if (!isAction(c.req.param('action')))
        throw new ApiError(400, `unknown member action ${JSON.stringify(c.req.param('action'))}`, [
          { path: 'action', message: `expected one of ${MEMBER_ACTIONS.join(', ')}` },
        ]);
      await next();
    },
    jsonBody(memberActionSchema, 'invalid member action'),
    async (c) => {
      const { duration, avoid } = c.req.valid('json');
      const action = c.req.param('action') as MemberAction;
      return c.json(await book.act(c.req.param('target'), action, { duration, avoid }));
    },
  );
  return app;
}
