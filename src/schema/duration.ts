// Durations in schemas: a Go duration string ("250ms", "1h30m") or a number of milliseconds, parsed to
// milliseconds with bounds, so a bad value is reported by zod with its path like any other field.
import { z } from 'zod';
import { durationToMs, formatGoDuration, MAX_GO_DURATION_MS, MAX_GO_DURATION_NS } from '../util/duration.js';

const HOUR_MS = 3600 * 1000;

/**
 * A Go duration string ("250ms", "1h30m") or a number of milliseconds, parsed to milliseconds within
 * [minMs, maxMs], so a bad value is reported by zod with its path like any other field.
 */
export function durationField(bounds: { maxMs: number; max: string; minMs?: number; min?: string }) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    let ms: number;
    try {
      ms = durationToMs(v);
    } catch (err) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `${(err as Error).message} (expected a Go duration such as "250ms" or a number of milliseconds)`,
      });
      return z.NEVER;
    }
    const out =
      ms > bounds.maxMs ? bounds.max : bounds.minMs !== undefined && ms < bounds.minMs ? bounds.min : undefined;
    if (out === undefined) return ms;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: out });
    return z.NEVER;
  });
}

/** A duration of the daemon's own (intervals, timeouts, run lengths): 0 to 168h. */
export const durationInput = durationField({ maxMs: 168 * HOUR_MS, max: 'expected a duration of at most 168h' });

/**
 * A latency or jitter: anything Go's time.ParseDuration accepts that is not negative, up to Go's largest
 * duration (etcd-proxy accepts `latency=200h`; the pipes re-arm timers beyond Node's limit).
 */
export const latencyInput = durationField({
  maxMs: MAX_GO_DURATION_MS,
  max: `expected a duration of at most ${formatGoDuration(MAX_GO_DURATION_NS)} (Go's largest)`,
});

/** How long a fault stays: at least 1ms (a shorter one would be expired when applied), at most 168h. */
export const faultDurationInput = durationField({
  minMs: 1,
  min: 'expected a duration of at least 1ms (omit it for no expiry)',
  maxMs: 168 * HOUR_MS,
  max: 'expected a duration of at most 168h',
});
