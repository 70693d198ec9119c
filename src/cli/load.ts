// `etcd-soak load`: run the watch/put load against endpoints, print a status line per interval and the
// summary at the end; exit 0 when every guarantee held, 1 on violations or a failed threshold, 2 on bad
// flags, 3 when the environment is in the way (e.g. a report dir that cannot be written), 4 on an internal error.
import { parseArgs } from 'node:util';
import { z, ZodError } from 'zod';
import { Metrics } from '../metrics.js';
import { LoadRunner } from '../loadgen/runner.js';
import { formatStatusLine, formatSummaryTable } from '../loadgen/report.js';
import { finishRunReport } from '../report/run-files.js';
import { loadProfileSchema, type LoadProfileInput } from '../schema/load.js';
import { splitHostPort } from '../util/net.js';
import { createLogger } from '../util/log.js';
import { EXIT, EXIT_HELP } from '../util/exit.js';
import { installCrashGuard } from '../util/guard.js';
import { packageVersion } from '../util/pkg.js';

/**
 * Today's wording of each profile flag, used where the schema's field has no .describe() text; a
 * field's default is appended from the schema.
 */
const FALLBACK_HELP: Record<string, string> = {
  connections: 'gRPC connections, each with its own watch stream',
  watchers: 'watchers, spread over the keys and connections',
  keys: 'keys under <prefix>/<run-id>/',
  rate: 'puts per second, open loop',
  valueSize: 'value size, at least 49',
  duration: 'run length, Go duration (default: until Ctrl-C)',
  putTimeout: 'deadline of one put; a put past it is indeterminate',
  settle: "after this long a suspected skip is checked against etcd's record, and an event is counted late",
  stallTimeout:
    'a watch stream silent this long while puts on its keys are acknowledged is probed, then reset and resumed',
  prefix: 'key prefix',
  maxInFlight: 'puts in flight at most; puts due beyond it are counted as slips',
  watchMode: 'key (one key per watcher) or prefix (every key)',
  interval: 'status/report interval',
};
/** placeholders that say more than the kind's (N, D, MODE, S) */
const METAVAR: Record<string, string> = { valueSize: 'BYTES', prefix: 'P', thresholds: 'EXPR' };
/** list fields set by a repeated flag (one item each) instead of a comma-separated list */
const REPEATED: Record<string, string> = { thresholds: 'threshold' };

export interface ProfileFlag {
  /** without the dashes: "value-size" */
  flag: string;
  /** the profile field: "valueSize" */
  field: string;
  numeric: boolean;
  /** a list field: the flag takes comma-separated values */
  list: boolean;
  /** a boolean field: the flag takes no value (--serializable-reads) */
  boolean: boolean;
  /** a list field whose flag is given once per item (--threshold A --threshold B) */
  repeated?: boolean;
  /** the --help line(s) */
  help: string;
}

/** A profile field's schema under its optional/default wrappers, its default and its description. */
function unwrapField(s: z.ZodTypeAny): { inner: z.ZodTypeAny; fallback?: unknown; description?: string } {
  let description = s.description;
  let fallback: unknown;
  for (;;) {
    if (s instanceof z.ZodDefault) fallback = (s._def as { defaultValue: () => unknown }).defaultValue();
    else if (!(s instanceof z.ZodOptional)) break;
    s = (s._def as { innerType: z.ZodTypeAny }).innerType;
    description ??= s.description;
  }
  return { inner: s, fallback, description };
}

/** The load profile's fields, from its schema (the object under its cross-field checks). */
function profileShape(schema: z.ZodTypeAny): Record<string, z.ZodTypeAny> {
  let s = schema;
  while (s instanceof z.ZodEffects) s = s.innerType();
  if (!(s instanceof z.ZodObject)) throw new Error('the load profile schema is not an object');
  return s.shape as Record<string, z.ZodTypeAny>;
}

const HELP_WIDTH = 100;
const HELP_COLUMN = 24;

/** "  --flag META" padded to the help column, then `text` wrapped at HELP_WIDTH. */
function helpLine(left: string, text: string): string {
  const lines: string[] = [];
  let line = `  ${left}`.padEnd(HELP_COLUMN - 1) + ' ';
  let empty = true;
  for (const word of text.split(/\s+/)) {
    if (!empty && line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(line);
      line = ' '.repeat(HELP_COLUMN);
      empty = true;
    }
    line += (empty ? '' : ' ') + word;
    empty = false;
  }
  return [...lines, line].join('\n');
}

/** One --flag per profile field: the field in kebab case, its help from the schema's description. */
export function profileFlags(profileSchema: z.ZodTypeAny = loadProfileSchema): ProfileFlag[] {
  return Object.entries(profileShape(profileSchema)).map(([field, schema]) => {
    const { inner, fallback, description } = unwrapField(schema);
    const numeric = inner instanceof z.ZodNumber;
    let core: z.ZodTypeAny = inner;
    while (core instanceof z.ZodEffects) core = core.innerType();
    const list = core instanceof z.ZodArray;
    const boolean = core instanceof z.ZodBoolean;
    const meta =
      METAVAR[field] ??
      (numeric ? 'N' : list ? 'LIST' : inner instanceof z.ZodEffects ? 'D' : inner instanceof z.ZodEnum ? 'MODE' : 'S');
    const repeated = list && REPEATED[field] !== undefined;
    const flag = repeated ? REPEATED[field] : field.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
    let text = description ?? FALLBACK_HELP[field] ?? field;
    if (fallback !== undefined && !text.includes('(default')) text += ` (default ${String(fallback)})`;
    if (list) text += repeated ? '; repeat the flag for more' : ', comma separated';
    const left = boolean ? `--${flag}` : `--${flag} ${meta}`;
    if (boolean) text = text.replace(/ \(default false\)$/, '');
    return { flag, field, numeric, list, boolean, ...(repeated ? { repeated } : {}), help: helpLine(left, text) };
  });
}

export const PROFILE_FLAGS: readonly ProfileFlag[] = profileFlags();

export const LOAD_HELP = `Usage: etcd-soak load --endpoints HOST:PORT[,HOST:PORT...] [options]

Open-loop watch/put load that checks etcd's watch guarantees (ordered, unique, reliable) live;
--workloads adds kv (linearizability), registry (leases), lock (fencing), election and config.

Options:
${helpLine('--endpoints LIST', 'etcd client endpoints, comma separated (required)')}
${PROFILE_FLAGS.map((f) => f.help).join('\n')}
  --report-dir DIR      where reports/<run-id>/ goes (default ./reports)
  --no-report           write no report files
  --run-id ID           8 characters [0-9a-z] (default random)
  --json                print the summary as JSON instead of the table
  --version             print the version and exit
  -h, --help            this text

${EXIT_HELP}`;

export class UsageError extends Error {}

export function profileFromFlags(values: Record<string, string | boolean | string[] | undefined>): LoadProfileInput {
  const profile: Record<string, unknown> = {};
  for (const { flag, field, numeric, list, boolean, repeated } of PROFILE_FLAGS) {
    const raw = values[flag];
    if (raw === undefined) continue;
    if (boolean) profile[field] = raw === true;
    else if (repeated) profile[field] = Array.isArray(raw) ? raw : [String(raw)];
    else if (numeric) {
      const n = Number(raw);
      if (String(raw).trim() === '' || !Number.isFinite(n))
        throw new UsageError(`--${flag}: expected a number, got ${JSON.stringify(raw)}`);
      profile[field] = n;
    } else if (list)
      profile[field] = String(raw)
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean);
    else profile[field] = raw;
  }
  return profile as LoadProfileInput;
}

function flagOf(path: (string | number)[]): string {
  const hit = PROFILE_FLAGS.find((f) => f.field === path[0]);
  if (!hit) return String(path[0]);
  // "--threshold "put.p99 < x"": the repeated flag's own value, not an index the user never wrote
  return hit.repeated && typeof path[1] === 'number' ? `--${hit.flag} #${path[1] + 1}` : `--${hit.flag}`;
}

export async function loadCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        endpoints: { type: 'string' },
        ...Object.fromEntries(
          PROFILE_FLAGS.map((f) => [
            f.flag,
            f.boolean ? { type: 'boolean' as const } : { type: 'string' as const, multiple: f.repeated ?? false },
          ]),
        ),
        'report-dir': { type: 'string' },
        'no-report': { type: 'boolean' },
        'run-id': { type: 'string' },
        json: { type: 'boolean' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`etcd-soak load: ${(err as Error).message}\n\n${LOAD_HELP}\n`);
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(LOAD_HELP + '\n');
    return EXIT.ok;
  }
  if (values.version) {
    process.stdout.write(`etcd-soak ${packageVersion()}\n`);
    return EXIT.ok;
  }
  // whole log records through stderr's own writer: pretty in a terminal, JSON when piped, never inside a status line
  const logger = createLogger({ name: 'etcd-soak', lines: true, format: 'auto' });
  installCrashGuard(logger);
  let runner: LoadRunner;
  try {
    if (!values.endpoints) throw new UsageError('--endpoints: required (HOST:PORT[,HOST:PORT...])');
    const endpoints = String(values.endpoints)
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean);
    for (const e of endpoints) {
      try {
        splitHostPort(e);
      } catch (err) {
        throw new UsageError(`--endpoints: ${(err as Error).message}`);
      }
    }
    runner = new LoadRunner({
      // parsed here, at the edge: the runner takes a whole profile
      profile: loadProfileSchema.parse(profileFromFlags(values)),
      endpoints,
      metrics: new Metrics({ defaultMetrics: false }),
      logger,
      reportDir: values['no-report'] ? null : ((values['report-dir'] as string | undefined) ?? 'reports'),
      runId: values['run-id'] as string | undefined,
      onReport: finishRunReport,
    });
  } catch (err) {
    const msg =
      err instanceof ZodError
        ? err.issues.map((i) => `${flagOf(i.path)}: ${i.message}`).join('; ')
        : (err as Error).message;
    process.stderr.write(`etcd-soak load: ${msg}\n`);
    // a report dir that cannot be created is the environment's; anything else here is a bad flag
    return (err as NodeJS.ErrnoException).code && !(err instanceof ZodError) && !(err instanceof UsageError)
      ? EXIT.environment
      : EXIT.usage;
  }
  runner.on('interval', (line) => process.stderr.write(formatStatusLine(line) + '\n'));
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    process.stderr.write('stopping: waiting for outstanding events (Ctrl-C again to quit at once)\n');
    void runner.stop('interrupted');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const done = new Promise<import('../loadgen/report.js').LoadSummary>((r) => runner.once('done', r));
  try {
    await runner.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (!e.code || !e.syscall) throw err; // ours: main reports it as an internal error
    // e.g. the report dir cannot be created: the environment's
    process.stderr.write(`etcd-soak load: ${e.message}\n`);
    await runner.stop('failed to start').catch(() => undefined);
    return EXIT.environment;
  }
  const summary = await done;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.stdout.write((values.json ? JSON.stringify(summary, null, 2) : formatSummaryTable(summary)) + '\n');
  return runner.violationCount > 0 || !summary.passed ? EXIT.violations : EXIT.ok;
}
