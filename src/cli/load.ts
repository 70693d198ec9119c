// `etcd-soak load`: run the watch/put load against endpoints, print a status line per interval and the
// summary at the end; exit 0 when every guarantee held, 1 on violations, 2 on bad flags, 3 when the
// environment is in the way (e.g. a report dir that cannot be written), 4 on an internal error.
import { parseArgs } from 'node:util';
import { ZodError } from 'zod';
import { Metrics } from '../metrics.js';
import { LoadRunner } from '../loadgen/runner.js';
import { formatStatusLine, formatSummaryTable } from '../loadgen/report.js';
import { loadProfileSchema, type LoadProfileInput } from '../schema/load.js';
import { splitHostPort } from '../util/net.js';
import { createLogger } from '../util/log.js';
import { EXIT, EXIT_HELP } from '../util/exit.js';
import { installCrashGuard } from '../util/guard.js';
import { packageVersion } from '../util/pkg.js';

// flag → profile field
const PROFILE_FLAGS = {
  connections: 'connections',
  watchers: 'watchers',
  keys: 'keys',
  rate: 'rate',
  'value-size': 'valueSize',
  duration: 'duration',
  'put-timeout': 'putTimeout',
  settle: 'settle',
  'stall-timeout': 'stallTimeout',
  prefix: 'prefix',
  'max-in-flight': 'maxInFlight',
  'watch-mode': 'watchMode',
  interval: 'interval',
} as const;
const NUMERIC = new Set(['connections', 'watchers', 'keys', 'rate', 'valueSize', 'maxInFlight']);

export const LOAD_HELP = `Usage: etcd-soak load --endpoints HOST:PORT[,HOST:PORT...] [options]

Open-loop watch/put load that checks etcd's watch guarantees (ordered, unique, reliable) live.

Options:
  --endpoints LIST      etcd client endpoints, comma separated (required)
  --rate N              puts per second, open loop (default 200)
  --watchers N          watchers (default 60), spread over the keys and connections
  --keys N              keys under <prefix>/<run-id>/ (default 12)
  --connections N       gRPC connections, each with its own watch stream (default 3)
  --value-size BYTES    value size, at least 49 (default 256)
  --duration D          run length, Go duration (default: until Ctrl-C)
  --put-timeout D       deadline of one put (default 5s); a put past it is indeterminate
  --settle D            after this long a suspected skip is checked against etcd's record, and an event
                        is counted late (default 5s)
  --stall-timeout D     a watch stream silent this long while puts on its keys are acknowledged is
                        probed, then reset and resumed (default 5s)
  --max-in-flight N     puts in flight at most; puts due beyond it are counted as slips (default 1024)
  --watch-mode MODE     key (one key per watcher) or prefix (every key) (default key)
  --prefix P            key prefix (default /etcd-soak)
  --interval D          status/report interval (default 5s)
  --report-dir DIR      where reports/<run-id>/ goes (default ./reports)
  --no-report           write no report files
  --run-id ID           8 characters [0-9a-z] (default random)
  --json                print the summary as JSON instead of the table
  --version             print the version and exit
  -h, --help            this text

${EXIT_HELP}`;

export class UsageError extends Error {}

export function profileFromFlags(values: Record<string, string | boolean | undefined>): LoadProfileInput {
  const profile: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(PROFILE_FLAGS)) {
    const raw = values[flag];
    if (raw === undefined) continue;
    if (NUMERIC.has(field)) {
      const n = Number(raw);
      if (String(raw).trim() === '' || !Number.isFinite(n))
        throw new UsageError(`--${flag}: expected a number, got ${JSON.stringify(raw)}`);
      profile[field] = n;
    } else profile[field] = raw;
  }
  return profile as LoadProfileInput;
}

function flagOf(field: string | number | undefined): string {
  const hit = Object.entries(PROFILE_FLAGS).find(([, f]) => f === field);
  return hit ? `--${hit[0]}` : String(field);
}

export async function loadCommand(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        endpoints: { type: 'string' },
        ...Object.fromEntries(Object.keys(PROFILE_FLAGS).map((k) => [k, { type: 'string' as const }])),
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
      profile: loadProfileSchema.parse(profileFromFlags(values)),
      endpoints,
      metrics: new Metrics({ defaultMetrics: false }),
      logger,
      reportDir: values['no-report'] ? null : ((values['report-dir'] as string | undefined) ?? 'reports'),
      runId: values['run-id'] as string | undefined,
    });
  } catch (err) {
    const msg =
      err instanceof ZodError
        ? err.issues.map((i) => `${flagOf(i.path[0])}: ${i.message}`).join('; ')
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
  return runner.violationCount > 0 ? EXIT.violations : EXIT.ok;
}
