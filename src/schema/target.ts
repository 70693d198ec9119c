// Which links a fault applies to. A fault names links directly, or members (by name, or by role resolved
// when the fault is applied), narrowed to their client or peer links.
import { z } from 'zod';

const name = z.string().min(1, 'expected a name').max(64, 'expected at most 64 characters');

export const faultTargetSchema = z
  .object({
    /** links by name */
    links: z.array(name).min(1, 'expected at least one link name').max(256).optional(),
    /** members by name: their client and peer links (narrowed by `kind`) */
    members: z.array(name).min(1, 'expected at least one member name').max(64).optional(),
    /** members by role, resolved once when the fault is applied (asks the members who leads) */
    role: z.enum(['leader', 'follower']).optional(),
    /** which links of the selected members: their client links or their peer links (default both); alone: every member's */
    kind: z.enum(['client', 'peer']).optional(),
  })
  .strict()
  .refine((t) => t.links || t.members || t.role || t.kind, {
    message: 'expected at least one of links, members, role, kind',
  })
  .describe('Which links the fault applies to: links by name, and/or the links of members chosen by name or role');

export type FaultTarget = z.output<typeof faultTargetSchema>;
