// The fault model's vocabulary, shared by the engine, the compat layer, the API and config files.
// Schemas are zod so every entry point (API body, config file, CLI) gets the same field-named errors.
import { z } from 'zod';
import { durationToMs } from '../util/duration.js';

export type Direction = 'tx' | 'rx';
/** Where a fault applies: a data direction, the accept path, or the whole link. */
export type FaultScope = Direction | 'accept' | 'link';

/**
 * A Go duration string ("250ms", "1h30m") or a number of milliseconds; parsed to milliseconds, so a
 * bad value is reported by zod with its path like any other field.
 */
export const durationInput = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    const ms = durationToMs(v);
    if (ms > 7 * 24 * 3600 * 1000) throw new Error('expected a duration of at most 168h');
    return ms;
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${(err as Error).message} (expected a Go duration such as "250ms" or a number of milliseconds)` });
    return z.NEVER;
  }
});

const base = {
  /** Go duration; the fault removes itself after this long. */
  duration: durationInput.optional(),
};
const dir = z.enum(['tx', 'rx']);

export const faultSpecSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('delay'), direction: dir, ...base,
    latency: durationInput,
    jitter: durationInput.default(0),
    distribution: z.enum(['uniform', 'normal', 'pareto', 'paretonormal']).default('uniform'),
  }).strict(),
  z.object({ type: z.literal('pause'), direction: dir, ...base }).strict(),
  z.object({ type: z.literal('blackhole'), direction: dir, ...base }).strict(),
  z.object({ type: z.literal('drop'), direction: dir, ...base, probability: z.number().gt(0).max(1) }).strict(),
  z.object({ type: z.literal('corrupt'), direction: dir, ...base, probability: z.number().gt(0).max(1) }).strict(),
  z.object({ type: z.literal('bandwidth'), direction: dir, ...base, rate: z.number().int().positive().max(10 * 1024 ** 3) }).strict(),
  z.object({ type: z.literal('reset'), ...base }).strict(),
  z.object({ type: z.literal('refuse'), ...base, mode: z.enum(['close', 'rst']).default('rst') }).strict(),
  z.object({ type: z.literal('accept-delay'), ...base, latency: durationInput, jitter: durationInput.default(0) }).strict(),
  z.object({ type: z.literal('accept-pause'), ...base }).strict(),
  z.object({ type: z.literal('reset-listener'), ...base }).strict(),
]);

export type FaultSpecInput = z.input<typeof faultSpecSchema>;
export type FaultSpec = z.output<typeof faultSpecSchema>;
export type FaultType = FaultSpec['type'];

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
