// The one fault schema: API bodies, the etcd-proxy compat routes (which build a spec from the form and
// validate it here) and config files parse into a FaultSpec; the proxy engine takes nothing else.
import { z } from 'zod';
import { faultDurationInput, latencyInput } from './duration.js';

export type Direction = 'tx' | 'rx';
/** Where a fault applies: a data direction, the accept path, or the whole link. */
export type FaultScope = Direction | 'accept' | 'link';

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
    z
      .object({
        type: z.literal('delay'),
        direction: dir,
        ...base,
        latency: latencyInput,
        jitter: latencyInput.default(0),
        distribution: z.enum(['uniform', 'normal', 'pareto', 'paretonormal']).default('uniform'),
      })
      .strict(),
    z.object({ type: z.literal('pause'), direction: dir, ...base }).strict(),
    z.object({ type: z.literal('blackhole'), direction: dir, ...base }).strict(),
    z.object({ type: z.literal('drop'), direction: dir, ...base, probability }).strict(),
    z.object({ type: z.literal('corrupt'), direction: dir, ...base, probability }).strict(),
    z.object({ type: z.literal('bandwidth'), direction: dir, ...base, rate }).strict(),
    z.object({ type: z.literal('reset'), ...base }).strict(),
    z.object({ type: z.literal('refuse'), ...base, mode: z.enum(['close', 'rst']).default('rst') }).strict(),
    z
      .object({ type: z.literal('accept-delay'), ...base, latency: latencyInput, jitter: latencyInput.default(0) })
      .strict(),
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
