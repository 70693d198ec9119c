// Network addresses in schemas.
import { z } from 'zod';
import { splitHostPort } from '../util/net.js';

/** "host:port" with a port in range; the message says what is wrong. */
export const hostPortSchema = z.string().superRefine((s, ctx) => {
  try {
    splitHostPort(s);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
  }
});
