// A link as the API and config files describe one.
import { z } from 'zod';
import { hostPortSchema as hostPort } from './net.js';

export const linkCreateSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'expected 1-64 characters [A-Za-z0-9_.-]'),
    listen: hostPort,
    upstream: hostPort,
    kind: z.enum(['client', 'peer', 'custom']).default('custom'),
    member: z.string().max(64).optional(),
    compatAdmin: hostPort.optional(),
  })
  .strict();
