// The fault model's vocabulary, shared by the engine, the compat layer, the API and config files.
// Schemas are zod so every entry point (API body, config file, CLI) gets the same field-named errors.
import { z } from 'zod';
import { durationToMs, formatGoDuration, MAX_GO_DURATION_MS, MAX_GO_DURATION_NS } from '../util/duration.js';

export type Direction = 'tx' | 'rx';
/** Where a fault applies: a data direction, the accept path, or the whole link. */
export type FaultScope = Direction | 'accept' | 'link';

const HOUR_MS = 3600 * 1000;

/**
 * A Go duration string ("250ms", "1h30m") or a number of milliseconds, parsed to milliseconds within
 * [minMs, maxMs], so a bad value is reported by zod with its path like any other field.
 */
function durationField(bounds: { maxMs: number; max: string; minMs?: number; min?: string }) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    let ms: number;
    try {
      ms = durationToMs(v);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${(err as Error).message} (expected a Go duration such as "250ms" or a number of milliseconds)` });
      return z.NEVER;
    }
    const out = ms > bounds.maxMs ? bounds.max : bounds.minMs !== undefined && ms < bounds.minMs ? bounds.min : undefined;
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

/** The largest bandwidth limit, bytes/s (10 GiB/s). */
export const MAX_RATE = 10 * 1024 ** 3;

const base = {
  /** Go duration; the fault removes itself after this long. */
  duration: faultDurationInput.optional(),
};
const dir = z.enum(['tx', 'rx']);
const PROBABILITY = 'expected a number in (0, 1]';
const probability = z.number().gt(0, PROBABILITY).max(1, PROBABILITY);
const rate = z
  .number()
  .int('expected a whole number of bytes per second')
  .min(1, 'expected at least 1 byte/s')
  .max(MAX_RATE, `expected at most ${MAX_RATE} bytes/s (10 GiB/s)`);

/**
 * The one fault schema: API bodies, the etcd-proxy compat routes (which build a spec from the form and
 * validate it here) and config files. Its output is branded: Link.addFault takes nothing else, so raw
 * input cannot reach the engine without passing through here.
 */
export const faultSpecSchema = z
  .discriminatedUnion('type', [
    z.object({
      type: z.literal('delay'), direction: dir, ...base,
      latency: latencyInput,
      jitter: latencyInput.default(0),
      distribution: z.enum(['uniform', 'normal', 'pareto', 'paretonormal']).default('uniform'),
    }).strict(),
    z.object({ type: z.literal('pause'), direction: dir, ...base }).strict(),
    z.object({ type: z.literal('blackhole'), direction: dir, ...base }).strict(),
    z.object({ type: z.literal('drop'), direction: dir, ...base, probability }).strict(),
    z.object({ type: z.literal('corrupt'), direction: dir, ...base, probability }).strict(),
    z.object({ type: z.literal('bandwidth'), direction: dir, ...base, rate }).strict(),
    z.object({ type: z.literal('reset'), ...base }).strict(),
    z.object({ type: z.literal('refuse'), ...base, mode: z.enum(['close', 'rst']).default('rst') }).strict(),
    z.object({ type: z.literal('accept-delay'), ...base, latency: latencyInput, jitter: latencyInput.default(0) }).strict(),
    z.object({ type: z.literal('accept-pause'), ...base }).strict(),
    z.object({ type: z.literal('reset-listener'), ...base }).strict(),
  ])
  .brand<'FaultSpec'>();

export type FaultSpecInput = z.input<typeof faultSpecSchema>;
/** A validated fault spec (durations in milliseconds); only faultSpecSchema makes one. */
export type FaultSpec = z.output<typeof faultSpecSchema>;
export type FaultType = FaultSpec['type'];

/** Validates a fault spec; throws the ZodError (field paths) when it is invalid. */
export function parseFaultSpec(input: unknown): FaultSpec {
  return faultSpecSchema.parse(input);
}

/** A fault as reported by a link (durations normalised to milliseconds). */
export interface FaultInfo {
  id: string;
  type: FaultType;
  scope: FaultScope;
  /** The validated spec, durations in milliseconds. */
  spec: FaultSpec;
  createdAt: string; // ISO time
  expiresAt?: string; // ISO time, when `duration` was given
}

export interface DirectionStats {
  /** bytes read from the source of this direction */
  read: number;
  forwarded: number;
  dropped: number; // drop fault
  corrupted: number; // corrupt fault (still forwarded, counted in forwarded too)
  blackholed: number;
}

export interface LinkStats {
  name: string;
  kind?: 'client' | 'peer' | 'custom';
  member?: string;
  listen: string; // host:port actually bound
  upstream: string; // host:port
  connections: number; // live
  connectionsTotal: number;
  dialFailures: number;
  tx: DirectionStats;
  rx: DirectionStats;
  faults: FaultInfo[];
  /** where this link's etcd-proxy admin API is served, when the daemon serves one */
  compatAdmin?: string;
}
