// The load profile: one schema for the CLI, config files and the API, so every entry point rejects the
// same things with the field named, and the one source of its defaults (the lab's config names none).
// Each field's description is the text of the CLI's --help and of the API's documentation.
import { z } from 'zod';
import { durationInput } from './duration.js';
import { parseThreshold, THRESHOLD_HELP } from './threshold.js';

/** bytes of a load value's self-describing header (src/loadgen/value.ts): the smallest valueSize */
export const VALUE_HEADER = 49;

/** the workloads a load runs unless told otherwise: open-loop puts and the watch fleet that checks them */
export const DEFAULT_WORKLOADS = ['put', 'watch'];
/** the workloads that make a run's base load: a list naming none of them gets the default put/watch too */
const BASE_WORKLOADS = ['put', 'watch', 'kv'];

const count = (max: number) => z.number().int().min(0).max(max);

export const loadProfileSchema = z
  .object({
    connections: count(1024).min(1).default(3).describe('gRPC connections, each with its own watch stream'),
    watchers: count(100000).default(60).describe('watchers, spread over the keys and connections'),
    keys: count(100000).min(1).default(12).describe('keys under <prefix>/<run-id>/'),
    rate: z.number().finite().min(0).max(1_000_000).default(200).describe('puts per second, open loop'),
    valueSize: z
      .number()
      .int()
      .min(VALUE_HEADER)
      .max(1536 * 1024)
      .default(256)
      .describe(`value size in bytes, at least ${VALUE_HEADER}`),
    duration: durationInput.optional().describe('run length, Go duration (default: until stopped)'),
    putTimeout: durationInput.default('5s').describe('deadline of one put; a put past it is indeterminate'),
    settle: durationInput
      .default('5s')
      .describe("after this long a suspected skip is checked against etcd's record, and an event is counted late"),
    stallTimeout: durationInput
      .default('5s')
      .describe(
        'a watch stream silent this long while puts on its keys are acknowledged is probed, then reset and resumed',
      ),
    prefix: z
      .string()
      .min(1)
      .max(512)
      .regex(/^[^\s]+$/, 'expected a key prefix without spaces')
      .default('/etcd-soak')
      .describe('key prefix'),
    maxInFlight: count(100000)
      .min(1)
      .default(1024)
      .describe('puts in flight at most; puts due beyond it are counted as slips'),
    watchMode: z.enum(['key', 'prefix']).default('key').describe('key (one key per watcher) or prefix (every key)'),
    txnKeys: count(64)
      .min(1)
      .default(1)
      .describe('keys written per put: above 1, each put is a Txn writing that many keys at one revision'),
    progressNotify: z
      .boolean()
      .default(false)
      .describe("watches ask for etcd's progress notifications (checked: bookmarkable)"),
    prevKv: z.boolean().default(false).describe("watches ask for each event's previous key-value (checked: created)"),
    interval: durationInput.default('5s').describe('status/report interval'),
    workloads: z
      .array(z.string().regex(/^[a-z][a-z0-9-]*$/, 'expected a workload name'))
      .min(1)
      .max(32)
      .refine((w) => new Set(w).size === w.length, 'expected each workload once')
      // feature workloads (registry, lock, election, config) alone run beside the default put/watch load
      .transform((w) => (w.some((x) => BASE_WORKLOADS.includes(x)) ? w : [...DEFAULT_WORKLOADS, ...w]))
      .default(() => [...DEFAULT_WORKLOADS])
      .describe(
        'the workloads that run side by side: put, watch, kv, registry, lock, election, config (default: put and watch; a list of only registry, lock, election and config runs them beside put and watch)',
      ),
    kvKeys: count(10000)
      .min(1)
      .default(8)
      .describe('kv workload: keys under <prefix>/<run-id>-kv/, few so that operations collide'),
    kvRate: z
      .number()
      .finite()
      .min(0)
      .max(100_000)
      .default(100)
      .describe(
        'kv workload: operations per second, open loop (reads 50%, puts 20%, compare-and-set 20%, deletes 10%)',
      ),
    serializableReads: z
      .boolean()
      .default(false)
      .describe(
        'kv workload: serializable reads (any member answers from its own store, no quorum) instead of linearizable',
      ),
    registryServices: count(1000)
      .min(1)
      .default(8)
      .describe('registry workload: services, each registered under its own lease and kept alive every TTL/3'),
    registryTtl: durationInput
      .default('5s')
      .describe("registry workload: the services' lease TTL, whole seconds, at least 2s"),
    registryDiscoverers: count(100)
      .default(2)
      .describe('registry workload: discoverers, each keeping a view of the services from a prefix watch'),
    registryChurn: z
      .number()
      .finite()
      .min(0)
      .max(100)
      .default(0.2)
      .describe(
        'registry workload: services per second that stop their keepalives (as if killed) and register again once gone',
      ),
    expiryTolerance: durationInput
      .default('3s')
      .describe("registry workload: a stopped service's key must be gone within TTL + this, else a violation"),
    lockContenders: count(100)
      .min(1)
      .default(4)
      .describe(
        "lock workload: contenders for one mutex, half with etcd's client recipe, half with the Lock RPC; each holder makes a fenced write",
      ),
    lockHold: durationInput.default('20ms').describe('lock workload: how long a holder keeps the lock'),
    sessionTtl: durationInput
      .default('5s')
      .describe("lock and election workloads: the TTL of each contender's session lease, whole seconds, at least 2s"),
    electionCandidates: count(50)
      .min(1)
      .default(3)
      .describe('election workload: candidates campaigning for one election'),
    electionObservers: count(100)
      .default(3)
      .describe("election workload: observers following the leader (etcd's Observe stream)"),
    electionTerm: durationInput
      .default('1s')
      .describe('election workload: how long an elected candidate leads, proclaiming values, before it resigns'),
    configWatchers: count(10000).min(1).default(10).describe('config workload: watchers applying the config key'),
    configRate: z
      .number()
      .finite()
      .min(0)
      .max(1000)
      .default(5)
      .describe('config workload: config versions written per second'),
    thresholds: z
      .array(
        z.string().superRefine((t, ctx) => {
          try {
            parseThreshold(t);
          } catch (err) {
            ctx.addIssue({ code: 'custom', message: (err as Error).message });
          }
        }),
      )
      .max(64)
      .optional()
      .describe(THRESHOLD_HELP),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.putTimeout <= 0) ctx.addIssue({ code: 'custom', path: ['putTimeout'], message: 'expected a duration > 0' });
    if (p.stallTimeout < 100)
      ctx.addIssue({ code: 'custom', path: ['stallTimeout'], message: 'expected at least 100ms' });
    for (const f of ['registryTtl', 'sessionTtl'] as const)
      if (p[f] < 2000 || p[f] % 1000 !== 0)
        ctx.addIssue({ code: 'custom', path: [f], message: 'expected whole seconds, at least 2s (a lease TTL)' });
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
