// The request bodies of the API's own (the link, fault and load profile schemas live in src/schema/):
// validated at the routes and documented in the OpenAPI document from these same objects.
import { z } from 'zod';
import { loadProfileSchema, type LoadProfile, type LoadProfileInput } from '../schema/load.js';
import { hostPortSchema } from '../schema/net.js';
import { faultTargetSchema } from '../schema/target.js';
import { faultSpecSchema } from '../proxy/faults/registry.js';
import { faultDurationInput } from '../schema/duration.js';

/**
 * PUT /load as sent. The profile is checked as a whole only once merged over the daemon's default
 * profile (loadStartBody): which fields it may omit depends on the daemon's config.
 */
export const loadStartSchema = z
  .object({
    profile: z.record(z.unknown()).optional(),
    endpoints: z
      .array(hostPortSchema)
      .min(1)
      .optional()
      .describe("etcd client endpoints (default: the members' client links)"),
    replace: z.boolean().optional().describe('stop a running load and start this one instead of answering 409'),
  })
  .strict();

/** PATCH /load: the put rate, live. */
export const rateSchema = z
  .object({ rate: z.number().finite().min(0).max(1_000_000).describe('puts per second') })
  .strict();

export interface LoadStart {
  /** the whole profile: the daemon's default with the request's fields over it, parsed */
  profile: LoadProfile;
  endpoints?: string[];
  replace?: boolean;
}

/**
 * PUT /load parsed once: the request's profile fields over `defaults()` (the config's `load` section),
 * validated by loadProfileSchema; its issues are reported under "profile.".
 */
export function loadStartBody(defaults: () => Readonly<LoadProfileInput> | undefined) {
  return loadStartSchema.transform((body, ctx): LoadStart => {
    const r = loadProfileSchema.safeParse({ ...defaults(), ...body.profile });
    if (!r.success) {
      for (const i of r.error.issues)
        ctx.addIssue({ code: 'custom', path: ['profile', ...i.path], message: i.message });
      return z.NEVER;
    }
    return { profile: r.data, endpoints: body.endpoints, replace: body.replace };
  });
}

/** POST /faults: one fault applied to every link its target selects, under one id with one expiry. */
export const targetedFaultSchema = z
  .object({
    target: faultTargetSchema,
    fault: faultSpecSchema,
  })
  .strict();

/** POST /members/:target/:action: optionally undone after `duration` (freeze → continue, kill/stop → start). */
export const memberActionSchema = z
  .object({
    duration: faultDurationInput
      .optional()
      .describe('kill, stop, freeze: undo it after this long (freeze → continue, kill/stop → start)'),
    avoid: z.array(z.string().min(1).max(64)).max(64).optional().describe('members random-follower must not pick'),
  })
  .strict();
