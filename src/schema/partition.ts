// A partition request as the API, config files and the CLI take it: who cannot reach whom (isolate a
// member, symmetric groups, a one-way cut, or a preset after Jepsen's nemeses), how the chosen pairs are
// affected (a total cut, or lossy: drop or delay) and for how long. src/cluster/partition.ts expands it
// into directed (from, to) member pairs; names are checked against the members there, not here.
import { z } from 'zod';
import { faultDurationInput, latencyInput } from './duration.js';

/** The role keyword a member name may be replaced with, resolved when the partition is applied. */
export const LEADER = 'leader';

const member = z
  .string({ invalid_type_error: 'expected a member name (a string)' })
  .min(1, 'expected a member name')
  .max(64, 'expected at most 64 characters');

/** one member name or a list of them: `"s1"` or `["s1","s2"]` */
const members = z
  .union([member, z.array(member).min(1, 'expected at least one member name').max(64)], {
    errorMap: (issue, ctx) => {
      if (issue.code !== 'invalid_union') return { message: ctx.defaultError };
      // a list with a bad item: say which item (the union itself reports at the field)
      const item = Array.isArray(ctx.data) ? issue.unionErrors[1]?.issues[0] : undefined;
      const where = item ? ` (item ${item.path.slice(issue.path.length).join('.')}: ${item.message})` : '';
      return { message: `expected a member name or a list of member names${where}` };
    },
  })
  .transform((v) => (typeof v === 'string' ? [v] : v));

const dropCut = z
  .object({
    drop: z
      .number({ invalid_type_error: 'expected a probability (a number from 0 to 1)' })
      .gt(0, 'expected a probability above 0 (omit cut for a total cut)')
      .max(1, 'expected a probability of at most 1')
      .describe('probability that a chunk of the pair’s traffic is discarded'),
  })
  .strict();

const delayCut = z
  .object({
    delay: latencyInput.describe('added latency on the pair’s traffic (Go duration or milliseconds)'),
    jitter: latencyInput.default(0).describe('± jitter around the latency (default 0)'),
  })
  .strict();

const CUT_EXPECTED = 'expected "total", {"drop": probability} or {"delay": "200ms", "jitter": "50ms"}';

/**
 * How the chosen pairs are affected: cut entirely, or lossy. Parsed to the fault parameters of the same
 * name (drop's probability, delay's latency and jitter in milliseconds).
 */
export const partitionCutSchema = z
  .union([z.literal('total'), dropCut, delayCut], {
    errorMap: (issue, ctx) =>
      issue.code === 'invalid_union' ? { message: CUT_EXPECTED } : { message: ctx.defaultError },
  })
  .transform((c): PartitionCut => {
    if (c === 'total') return { type: 'total' };
    if ('drop' in c) return { type: 'drop', probability: c.drop };
    return { type: 'delay', latency: c.delay, jitter: c.jitter };
  })
  .describe(
    'how the chosen pairs are affected: "total" (default: nothing passes), {"drop": p} (each chunk lost with ' +
      'probability p) or {"delay": "200ms", "jitter": "50ms"} (held latency ± jitter)',
  );

export type PartitionCut =
  { type: 'total' } | { type: 'drop'; probability: number } | { type: 'delay'; latency: number; jitter: number };

export const PRESETS = ['halves', 'ring', 'bridge'] as const;
export type PartitionPreset = (typeof PRESETS)[number];

const SHAPES = ['isolate', 'groups', 'from', 'preset'] as const;
const SHAPES_TEXT = 'expected exactly one of isolate, groups, from+to, preset';

export const partitionSpecSchema = z
  .object({
    isolate: member
      .optional()
      .describe('cut one member off from every other member, both ways; "leader" is the leader when applied'),
    groups: z
      .array(z.array(member).min(1, 'expected a non-empty group of member names').max(64), {
        invalid_type_error: 'expected a list of groups (lists of member names)',
      })
      .min(2, 'expected at least 2 groups')
      .max(64)
      .optional()
      .describe(
        'symmetric groups: members in different groups cannot reach each other; a member in no group reaches ' +
          'everyone ("leader": the leader when applied, here and in from/to)',
      ),
    from: members.optional().describe('one-way cut: the traffic of these members to `to` is cut'),
    to: members.optional().describe('one-way cut: the members `from` cannot reach'),
    preset: z
      .enum(PRESETS, { errorMap: () => ({ message: 'expected "halves", "ring" or "bridge"' }) })
      .optional()
      .describe(
        'halves: a majority and a minority; ring: every member sees a majority, no two the same; ' +
          'bridge: two halves and one member that reaches both',
      ),
    leader: z
      .enum(['minority', 'majority'], { errorMap: () => ({ message: 'expected "minority" or "majority"' }) })
      .optional()
      .describe('preset halves: the side the current leader is put on (default: random halves)'),
    seed: z
      .number({ invalid_type_error: 'expected an integer seed' })
      .int('expected an integer seed')
      .min(0, 'expected a seed from 0 to 4294967295')
      .max(0xffffffff, 'expected a seed from 0 to 4294967295')
      .optional()
      .describe('presets: the seed of the random choice of members (the same seed gives the same partition)'),
    duration: faultDurationInput
      .optional()
      .describe('how long the partition stays (it then heals itself): 1ms to 168h; omit it for no expiry'),
    cut: partitionCutSchema.default('total'),
    established: z
      .enum(['blackhole', 'reset'], { errorMap: () => ({ message: 'expected "blackhole" or "reset"' }) })
      .optional()
      .describe('total cut: what happens to open connections of a cut pair: blackhole (default: they stall) or reset'),
  })
  .strict()
  .superRefine((s, ctx) => {
    const given = SHAPES.filter((k) => s[k] !== undefined || (k === 'from' && s.to !== undefined)).map((k) =>
      k === 'from' ? 'from+to' : k,
    );
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: given.length ? `${SHAPES_TEXT} (got ${given.join(', ')})` : SHAPES_TEXT,
      });
    }
    if (s.from !== undefined && s.to === undefined)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'expected the members `from` cannot reach' });
    if (s.to !== undefined && s.from === undefined)
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'expected the members whose traffic to `to` is cut' });
    if (s.leader !== undefined && s.preset !== 'halves')
      ctx.addIssue({ code: 'custom', path: ['leader'], message: 'expected only with preset "halves"' });
    if (s.seed !== undefined && s.preset === undefined)
      ctx.addIssue({ code: 'custom', path: ['seed'], message: 'expected only with a preset' });
    if (s.established !== undefined && s.cut.type !== 'total')
      ctx.addIssue({ code: 'custom', path: ['established'], message: 'expected only with a total cut' });
  })
  .transform((s) => ({ ...s, established: s.established ?? ('blackhole' as const) }))
  .describe(
    'A network partition between members: exactly one of isolate, groups, from+to or preset; ' +
      'heals when deleted or after its duration',
  );

export type PartitionSpecInput = z.input<typeof partitionSpecSchema>;
/** A validated partition request (durations in milliseconds, from/to as lists, cut normalized). */
export type PartitionSpec = z.output<typeof partitionSpecSchema>;

/** Validates a partition request; throws the ZodError (field paths) when it is invalid. */
export function parsePartitionSpec(input: unknown): PartitionSpec {
  return partitionSpecSchema.parse(input);
}
