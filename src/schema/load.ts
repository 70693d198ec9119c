// The load profile: one schema for the CLI, config files and the API, so every entry point rejects the
// same things with the field named, and the one source of its defaults (the lab's config names none).
import { z } from 'zod';
import { durationInput } from './duration.js';

/** bytes of a load value's self-describing header (src/loadgen/value.ts): the smallest valueSize */
export const VALUE_HEADER = 49;

const count = (max: number) => z.number().int().min(0).max(max);

export const loadProfileSchema = z
  .object({
    connections: count(1024).min(1).default(3),
    watchers: count(100000).default(60),
    keys: count(100000).min(1).default(12),
    rate: z.number().finite().min(0).max(1_000_000).default(200),
    valueSize: z
      .number()
      .int()
      .min(VALUE_HEADER)
      .max(1536 * 1024)
      .default(256),
    duration: durationInput.optional(),
    putTimeout: durationInput.default('5s'),
    settle: durationInput.default('5s'),
    /** a watch stream silent this long after a put on its keys was acknowledged is probed, then reset */
    stallTimeout: durationInput.default('5s'),
    prefix: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[^\s]+$/, 'expected a key prefix without spaces')
      .default('/etcd-soak'),
    maxInFlight: count(100000).min(1).default(1024),
    watchMode: z.enum(['key', 'prefix']).default('key'),
    interval: durationInput.default('5s'),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.putTimeout <= 0) ctx.addIssue({ code: 'custom', path: ['putTimeout'], message: 'expected a duration > 0' });
    if (p.stallTimeout < 100)
      ctx.addIssue({ code: 'custom', path: ['stallTimeout'], message: 'expected at least 100ms' });
    if (p.interval < 100) ctx.addIssue({ code: 'custom', path: ['interval'], message: 'expected at least 100ms' });
    if (p.duration !== undefined && p.duration <= 0)
      ctx.addIssue({
        code: 'custom',
        path: ['duration'],
        message: 'expected a duration > 0 (omit it for an unbounded run)',
      });
  });

export type LoadProfileInput = z.input<typeof loadProfileSchema>;
/** Durations in milliseconds. */
export type LoadProfile = z.output<typeof loadProfileSchema>;
