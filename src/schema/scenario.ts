// A scenario file: a timeline of steps (link faults, member actions, partitions, load changes) at offsets
// or in sequence with waits, repeating, plus optional seeded random chaos from a weighted menu. The fault
// schema is the proxy's fault registry, which this layer may not import: `makeScenarioSchema` takes it
// (src/scenario/parse.ts passes faultSpecSchema). Durations are Go durations or milliseconds.
import { z } from 'zod';
import { durationToMs } from '../util/duration.js';
import { durationInput, faultDurationInput } from './duration.js';
import { partitionSpecSchema } from './partition.js';
import { faultTargetSchema } from './target.js';

/** What a member action does; `continue` thaws a frozen member, `start` starts a killed or stopped one. */
export const MEMBER_ACTIONS = ['kill', 'stop', 'freeze', 'continue', 'restart', 'start'] as const;
export type MemberActionName = (typeof MEMBER_ACTIONS)[number];
/** Member actions that take a member down; a step's `duration` undoes them (freeze → continue, else start). */
export const DOWN_ACTIONS: readonly MemberActionName[] = ['kill', 'stop', 'freeze'];
export const WAIT_CONDITIONS = ['healthy', 'leader'] as const;

const memberTarget = z
  .string({ invalid_type_error: 'expected a member name or a role' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, 'expected a member name (1-32 characters [A-Za-z0-9_.-]) or a role')
  .describe('a member name, or leader, follower or random-follower (resolved when applied)');

export const memberActionSchema = z
  .object({
    action: z
      .enum(MEMBER_ACTIONS)
      .describe('kill (SIGKILL), stop (graceful), freeze (SIGSTOP), continue, restart, start'),
    target: memberTarget,
  })
  .strict()
  .describe('a process action on a launched member');

/** The fault target (src/schema/target.ts) with one more role: one follower picked at random when applied. */
const targetFields = faultTargetSchema.innerType().shape;
export const scenarioTargetSchema = faultTargetSchema
  .innerType()
  .extend({
    links: targetFields.links.describe('links by name'),
    members: targetFields.members.describe('members by name: their client and peer links (narrowed by kind)'),
    kind: targetFields.kind.describe("which links of the selected members (default both); alone: every member's"),
    role: z
      .enum(['leader', 'follower', 'random-follower'])
      .optional()
      .describe('members by role, resolved when applied: the leader, every follower, or one follower at random'),
  })
  .strict()
  .refine((t) => t.links || t.members || t.role || t.kind, {
    message: 'expected at least one of links, members, role, kind',
  })
  .describe('which links the fault applies to: links by name, and/or the client or peer links of members');
export type ScenarioTarget = z.output<typeof scenarioTargetSchema>;

const loadChangeSchema = z
  .object({ rate: z.number().finite().min(0).max(1_000_000).describe('puts per second from now on') })
  .strict()
  .describe('a change of the running load (it stays until the next change)');

const waitSchema = z
  .object({
    for: z
      .enum(WAIT_CONDITIONS)
      .describe('healthy: every member answers health; leader: all running members agree on one'),
    timeout: durationInput.default('60s').describe('how long to wait (default 60s)'),
    onTimeout: z
      .enum(['fail', 'continue'])
      .default('fail')
      .describe('fail (default): the track ends there; continue: go on with the next item'),
  })
  .strict()
  .describe('wait until a condition holds');

const noOwnDuration = (what: string) => (v: { duration?: number }, ctx: z.RefinementCtx) => {
  if (v.duration !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['duration'],
      message: `expected no ${what} duration here (use the step's duration)`,
    });
};

/** A partition without its own duration (the step's duration heals it). */
export const scenarioPartitionSchema = partitionSpecSchema
  .superRefine(noOwnDuration('partition'))
  .transform(({ duration: _, ...spec }) => spec);
export type ScenarioPartition = z.output<typeof scenarioPartitionSchema>;

/** Any zod schema of link faults (the registry's faultSpecSchema in practice). */
type FaultSchema = z.ZodType<{ type: string; duration?: number }, z.ZodTypeDef, unknown>;

const ACTION_KEYS = ['fault', 'member', 'partition', 'load'] as const;
type Kinded = {
  fault?: unknown;
  target?: unknown;
  member?: { action: MemberActionName };
  partition?: unknown;
  load?: unknown;
  duration?: unknown;
};

/** The checks shared by steps, sequence items and menu items: one kind, target with fault, duration rules. */
function checkAction(v: Kinded, ctx: z.RefinementCtx, kinds: readonly string[]) {
  const given = kinds.filter((k) => (v as Record<string, unknown>)[k] !== undefined);
  if (given.length !== 1) {
    const list = kinds.join(', ');
    ctx.addIssue({
      code: 'custom',
      message: given.length ? `expected exactly one of ${list} (got ${given.join(', ')})` : `expected one of ${list}`,
    });
    return;
  }
  if (v.fault !== undefined && v.target === undefined)
    ctx.addIssue({ code: 'custom', path: ['target'], message: 'expected the target of the fault' });
  if (v.fault === undefined && v.target !== undefined)
    ctx.addIssue({ code: 'custom', path: ['target'], message: 'expected only with a fault' });
  if (v.duration === undefined) return;
  if (v.load !== undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['duration'],
      message: 'expected no duration on a load change (it stays until the next)',
    });
  if (v.member && !DOWN_ACTIONS.includes(v.member.action))
    ctx.addIssue({
      code: 'custom',
      path: ['duration'],
      message: `expected no duration on ${v.member.action} (only kill, stop and freeze are undone after one)`,
    });
}

/** A [min, max] range or one value, for the random menu; parsed to {min, max}. */
function rangeOf(value: typeof faultDurationInput, what: string) {
  return z
    .union([value, z.tuple([value, value])], {
      errorMap: (issue, ctx) =>
        issue.code === 'invalid_union'
          ? { message: `expected ${what} or a [min, max] range of them` }
          : { message: ctx.defaultError },
    })
    .transform((v) => (Array.isArray(v) ? { min: v[0], max: v[1] } : { min: v, max: v }))
    .refine((r) => r.min <= r.max, { message: 'expected min <= max' });
}
export interface Range {
  min: number;
  max: number;
}

/** A 2-array of numbers or of Go durations: a range in a template, drawn when the menu item is picked. */
export function isRangeValue(v: unknown): v is [number, number] | [string, string] {
  if (!Array.isArray(v) || v.length !== 2) return false;
  if (typeof v[0] === 'number' && typeof v[1] === 'number') return true;
  if (typeof v[0] !== 'string' || typeof v[1] !== 'string') return false;
  try {
    durationToMs(v[0]);
    durationToMs(v[1]);
    return true;
  } catch {
    return false;
  }
}

/** The template with every range replaced by its low (`end` 0) or high (`end` 1) end, as milliseconds for durations. */
export function rangeEnd(template: unknown, end: 0 | 1): unknown {
  if (isRangeValue(template)) return typeof template[end] === 'number' ? template[end] : durationToMs(template[end]);
  if (Array.isArray(template)) return template.map((x) => rangeEnd(x, end));
  if (template && typeof template === 'object')
    return Object.fromEntries(Object.entries(template).map(([k, x]) => [k, rangeEnd(x, end)]));
  return template;
}

/**
 * An object whose numbers and durations may be [min, max] ranges: valid when `schema` takes it with
 * every range at its low end and at its high end (the values between are drawn per use).
 */
function templateOf(schema: z.ZodTypeAny, what: string) {
  return z.record(z.unknown(), { invalid_type_error: `expected ${what} (an object)` }).superRefine((raw, ctx) => {
    const seen = new Set<string>();
    for (const end of [0, 1] as const) {
      const r = schema.safeParse(rangeEnd(raw, end));
      if (r.success) continue;
      for (const i of r.error.issues) {
        const key = `${i.path.join('.')}:${i.message}`;
        if (seen.has(key)) continue;
        seen.add(key);
        ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
      }
    }
    const lo = rangeEnd(raw, 0);
    const hi = rangeEnd(raw, 1);
    walkRanges(raw, [], (path) => {
      const [a, b] = [pick(lo, path), pick(hi, path)] as number[];
      if (a > b) ctx.addIssue({ code: 'custom', path, message: 'expected a range [min, max] with min <= max' });
    });
  });
}

function walkRanges(v: unknown, path: (string | number)[], visit: (path: (string | number)[]) => void) {
  if (isRangeValue(v)) return visit(path);
  if (Array.isArray(v)) v.forEach((x, i) => walkRanges(x, [...path, i], visit));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walkRanges(x, [...path, k], visit);
}
const pick = (v: unknown, path: (string | number)[]) =>
  path.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], v);

export function makeScenarioSchema<F extends FaultSchema>(fault: F) {
  // (the cast keeps F's own output: superRefine on a generic sees only the constraint's)
  const withoutDuration = (f: F) =>
    f.superRefine(noOwnDuration('fault')) as unknown as z.ZodEffects<F, z.output<F>, z.input<F>>;
  const stepFault = withoutDuration(fault).describe('a link fault, as POST /faults takes it');
  const action = {
    name: z.string().min(1).max(120).optional().describe('a label shown in the plan and the report'),
    fault: stepFault.optional(),
    target: scenarioTargetSchema.optional(),
    member: memberActionSchema.optional(),
    partition: scenarioPartitionSchema
      .optional()
      .describe('a partition, as POST /partitions takes it, without duration'),
    load: loadChangeSchema.optional(),
    duration: faultDurationInput
      .optional()
      .describe('undo the action after this long (faults removed, member continued or started, partition healed)'),
  };

  const sequenceItem = z
    .object({
      ...action,
      wait: waitSchema.optional(),
      sleep: durationInput.optional().describe('pause the sequence this long'),
    })
    .strict()
    .superRefine((v, ctx) => checkAction(v, ctx, [...ACTION_KEYS, 'wait', 'sleep']))
    .describe('one item of a sequence: an action, a wait or a sleep');

  const step = z
    .object({
      at: durationInput.default(0).describe('offset from the scenario start (default 0)'),
      ...action,
      sequence: z.array(sequenceItem).min(1).max(1000).optional().describe('items run one after another'),
      every: faultDurationInput
        .optional()
        .describe('repeat the step this often from `at` (bounded by repeat or duration)'),
      repeat: z.number().int().min(1).max(100000).optional().describe('how many copies of a repeating step'),
    })
    .strict()
    .superRefine((v, ctx) => {
      checkAction(v, ctx, [...ACTION_KEYS, 'sequence']);
      if (v.sequence && v.duration !== undefined)
        ctx.addIssue({ code: 'custom', path: ['duration'], message: 'expected durations on the sequence items' });
      if (v.repeat !== undefined && v.every === undefined)
        ctx.addIssue({ code: 'custom', path: ['every'], message: 'expected `every` with `repeat`' });
    })
    .describe('a step: an action or a sequence, at an offset, maybe repeating');

  const menuItem = z
    .object({
      weight: z.number().finite().gt(0).max(1e6).default(1).describe('relative chance of this item (default 1)'),
      name: action.name,
      fault: templateOf(withoutDuration(fault), 'a fault')
        .optional()
        .describe('a link fault; any number or duration may be a [min, max] range, drawn per pick'),
      target: scenarioTargetSchema.optional(),
      member: memberActionSchema.optional(),
      partition: templateOf(partitionSpecSchema.superRefine(noOwnDuration('partition')), 'a partition')
        .optional()
        .describe('a partition without duration; numbers and durations of its cut may be ranges'),
      duration: rangeOf(faultDurationInput, 'a duration')
        .optional()
        .describe('how long the pick lasts: a duration or a [min, max] range'),
    })
    .strict()
    .superRefine((v, ctx) => {
      checkAction(v, ctx, ['fault', 'member', 'partition']);
      if (v.member?.action === 'start' || v.member?.action === 'continue')
        ctx.addIssue({ code: 'custom', path: ['member', 'action'], message: 'expected kill, stop, freeze or restart' });
      const undone =
        v.fault !== undefined || v.partition !== undefined || (v.member && DOWN_ACTIONS.includes(v.member.action));
      if (undone && v.duration === undefined)
        ctx.addIssue({ code: 'custom', path: ['duration'], message: 'expected a duration (a random pick must end)' });
    })
    .describe('a weighted template of a random pick');

  const random = z
    .object({
      seed: z
        .number()
        .int()
        .min(0)
        .max(0xffffffff)
        .optional()
        .describe('the seed (default: a fresh one, shown in the plan)'),
      start: durationInput.default(0).describe('when random picks begin (default 0)'),
      end: durationInput.optional().describe("when random picks stop (default: the scenario's duration)"),
      meanGap: faultDurationInput.describe('mean of the exponential gaps between two picks'),
      maxConcurrent: z
        .number()
        .int()
        .min(1)
        .max(64)
        .default(1)
        .describe('most random picks active at once (default 1)'),
      quorumGuard: z
        .boolean()
        .optional()
        .describe(
          "skip picks that would take more than a minority of members down or cut off at once (default: the scenario's)",
        ),
      menu: z.array(menuItem).min(1).max(256).describe('what a pick may be'),
    })
    .strict()
    .describe('seeded random chaos');

  return z
    .object({
      name: z.string().min(1).max(120).describe('the scenario name'),
      description: z.string().max(4000).optional().describe('what the scenario does'),
      duration: durationInput.optional().describe('scenario length: repeats and random picks stop there'),
      members: z
        .number()
        .int()
        .min(1)
        .max(64)
        .optional()
        .describe('cluster size for the quorum guard (default 3; the runner passes the real one)'),
      quorumGuard: z
        .boolean()
        .default(true)
        .describe('warn of steps, and skip random picks, that take more than a minority of members down at once'),
      steps: z.array(step).max(10000).default([]).describe('the timeline'),
      random: random.optional(),
    })
    .strict()
    .superRefine((s, ctx) => {
      s.steps.forEach((st, i) => {
        if (s.duration !== undefined && st.at >= s.duration)
          ctx.addIssue({
            code: 'custom',
            path: ['steps', i, 'at'],
            message: `expected an offset before the scenario's duration`,
          });
        if (st.every !== undefined && st.repeat === undefined && s.duration === undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['steps', i, 'every'],
            message: "expected `repeat` or the scenario's `duration` to bound the repeats",
          });
      });
      if (!s.random) return;
      const end = s.random.end ?? s.duration;
      if (end === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['random', 'end'],
          message: "expected an end (or the scenario's duration)",
        });
      else if (end <= s.random.start)
        ctx.addIssue({ code: 'custom', path: ['random', 'end'], message: 'expected an end after the start' });
      else if (s.duration !== undefined && end > s.duration)
        ctx.addIssue({
          code: 'custom',
          path: ['random', 'end'],
          message: "expected an end within the scenario's duration",
        });
    })
    .describe('A chaos scenario: timed steps and seeded random chaos');
}
