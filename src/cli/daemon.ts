// `etcd-soak lab` and `etcd-soak run --config FILE`: the long-running daemon.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile, parseConfig, type Config } from '../config/schema.js';
import { startLab, type Lab } from '../lab/lab.js';
import type { ScenarioStatus } from '../daemon/scenarios.js';
import { expandScenario, formatPlan, parseScenario, type ScenarioPlan } from '../scenario/index.js';
import { durationToMs } from '../util/duration.js';
import { LongTimer } from '../util/timer.js';
import { violationTotal } from '../loadgen/verdict.js';
import { EXIT, EXIT_HELP, exitCodeOf } from '../util/exit.js';
import { installCrashGuard } from '../util/guard.js';
import { createLogger } from '../util/log.js';
import { packageRoot, packageVersion } from '../util/pkg.js';

const LAB_CONFIG = path.join(packageRoot(), 'config/lab.yaml');

export const LAB_HELP = `Usage: etcd-soak lab [options]

Starts a local 3-member etcd cluster with a fault link in front of every member's client and peer port
(Procfile-proxy layout: member N client N379 <- N3790, peer N380 <- N3800), the etcd-proxy admin API on
N378/N381, the default load, and the HTTP API; prints a status line every few seconds. Ctrl-C stops the
load, writes the report, stops the members and removes their data (a second Ctrl-C quits at once).
Members never outlive the daemon, even when it is killed; a lab cleans up what a crashed one left.

Options:
  --config FILE         base config (default config/lab.yaml)
  --api HOST:PORT       API listen address (default 127.0.0.1:8379; port 0 = any free port)
  --token TOKEN         require "Authorization: Bearer TOKEN" on the API (or ETCD_SOAK_TOKEN); at least 8 characters
  --ephemeral           free ports for everything instead of the Procfile layout
  --port-offset N       add N to every Procfile port (two labs side by side; --port-base is the same)
  --plain-peers         peers over plain HTTP instead of TLS
  --no-compat-admin     do not serve the etcd-proxy admin API on N378/N381 (it has no authentication)
  --etcd-bin PATH       etcd binary (default: ETCD_BIN, then PATH; installed with apt-get if missing)
  --data-dir DIR        parent of the members' data dirs (default: a temp dir)
  --keep                keep the members' data on exit
  --duration D          stop by itself after D (Go duration)
  --scenario FILE       run a scenario (YAML/JSON) once the load runs; without --duration the lab
                        stops when the scenario is done
  --scenario-seed N     replace the scenario's random seed
  --dry-run             with --scenario: print the expanded plan and its hash, start nothing
  --rate N              put rate of the load
  --watchers N          watchers of the load
  --threshold EXPR      pass/fail threshold of the load, e.g. "put.p99 < 50ms", "availability > 99.5%"
                        (repeatable; adds to load.thresholds); a failed one: exit 1
  --no-load             start no load
  --report-dir DIR      where reports/<run-id>/ goes (default ./reports)
  --seed N              seed of the links' random draws (jitter, drop, corrupt)
  --pretty              human-readable logs (the default when stderr is a terminal)
  --json-logs           JSON log lines (the default when stderr is not a terminal)
  --version             print the version and exit
  -h, --help            this text

${EXIT_HELP}`;

export const RUN_HELP = `Usage: etcd-soak run --config FILE [options]

Runs the daemon from a YAML/JSON config: links, an existing cluster or one it launches, the load.
See config/lab.yaml and config/existing-cluster.example.yaml. Every option of "etcd-soak lab" applies
(cluster options only to a config that launches a cluster).

Options:
  --config FILE         the config (required)
  --api HOST:PORT       API listen address (overrides api.listen)
  --token TOKEN         require "Authorization: Bearer TOKEN" on the API (or ETCD_SOAK_TOKEN)
  --duration D          stop by itself after D (Go duration)
  --scenario FILE       run a scenario (see "etcd-soak lab --help"); --scenario-seed N, --dry-run
  --threshold EXPR      pass/fail threshold of the load (repeatable; see "etcd-soak lab --help")
  --pretty / --json-logs, --version, -h/--help as for "etcd-soak lab"

${EXIT_HELP}`;

/** The scenario file, parsed and expanded for the config's cluster size (errors name the file and field). */
function loadPlan(file: string, seedFlag: string | boolean | undefined, config: Config): ScenarioPlan {
  let seed: number | undefined;
  if (seedFlag !== undefined) {
    seed = Number(seedFlag);
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new ConfigError('--scenario-seed', [
        { path: '', message: `expected a non-negative integer, got ${JSON.stringify(seedFlag)}` },
      ]);
  }
  const members = config.cluster?.launch?.members ?? config.cluster?.existing?.members.length;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [
      {
        path: '',
        message: `cannot read the scenario: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      },
    ]);
  }
  return expandScenario(parseScenario(text, file), { members, seed });
}

function formatScenarioEnd(st: ScenarioStatus): string {
  const skew = st.skew.count ? `, applied ${st.skew.p50} ms (p50) / ${st.skew.p99} ms (p99) after planned` : '';
  const errs = st.errors.length ? `\n  ${st.errors.join('\n  ')}` : '';
  return `scenario ${st.id} ${st.state} after ${st.elapsed}s: ${st.steps.applied}/${st.steps.planned} steps applied, ${st.steps.failed} failed${skew}${errs}`;
}

function fail(msg: string, code: number = EXIT.usage): number {
  process.stderr.write(`etcd-soak: ${msg}\n`);
  return code;
}

/** config path → the flag (or variable) that set it, so an error names what the user typed */
type FlagPaths = Map<string, string>;

function describeConfigError(err: ConfigError, flags: FlagPaths): string {
  const byFlag: string[] = [];
  const byFile: typeof err.details = [];
  for (const d of err.details) {
    const flag = flags.get(d.path);
    if (flag) byFlag.push(`${flag}: ${d.message}`);
    else byFile.push(d);
  }
  const parts = [...byFlag];
  if (byFile.length)
    parts.push(
      `invalid config: ${err.file}: ${byFile.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ')}`,
    );
  return parts.join('\n');
}

export async function daemonCommand(kind: 'lab' | 'run', argv: string[]): Promise<number> {
  const help = kind === 'lab' ? LAB_HELP : RUN_HELP;
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        api: { type: 'string' },
        token: { type: 'string' },
        ephemeral: { type: 'boolean' },
        'port-offset': { type: 'string' },
        'port-base': { type: 'string' },
        'plain-peers': { type: 'boolean' },
        'no-compat-admin': { type: 'boolean' },
        'etcd-bin': { type: 'string' },
        'data-dir': { type: 'string' },
        keep: { type: 'boolean' },
        duration: { type: 'string' },
        scenario: { type: 'string' },
        'scenario-seed': { type: 'string' },
        'dry-run': { type: 'boolean' },
        rate: { type: 'string' },
        watchers: { type: 'string' },
        threshold: { type: 'string', multiple: true },
        'no-load': { type: 'boolean' },
        'report-dir': { type: 'string' },
        seed: { type: 'string' },
        pretty: { type: 'boolean' },
        'json-logs': { type: 'boolean' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${help}`);
  }
  if (values.help) {
    process.stdout.write(help + '\n');
    return EXIT.ok;
  }
  if (values.version) {
    process.stdout.write(`etcd-soak ${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (values.pretty && values['json-logs']) return fail('--pretty and --json-logs: choose one');
  if (kind === 'run' && !values.config) return fail('run: --config FILE is required');
  if (values['dry-run'] && !values.scenario) return fail('--dry-run needs --scenario FILE');
  if (values['scenario-seed'] !== undefined && !values.scenario) return fail('--scenario-seed needs --scenario FILE');
  let config: Config;
  let durationMs: number | undefined;
  let plan: ScenarioPlan | undefined;
  const flags: FlagPaths = new Map();
  const file = (values.config as string | undefined) ?? LAB_CONFIG;
  try {
    const raw = loadConfigFile(file);
    // flags override the file; re-validated as a whole, and an error in a value a flag set names the flag
    const c = structuredClone(raw) as Record<string, any>;
    const num = (flag: string) => {
      const n = Number(values[flag]);
      if (String(values[flag]).trim() === '' || !Number.isFinite(n))
        throw new ConfigError(`--${flag}`, [
          { path: '', message: `expected a number, got ${JSON.stringify(values[flag])}` },
        ]);
      return n;
    };
    const set = (obj: Record<string, any>, key: string, value: unknown, cfgPath: string, flag: string) => {
      obj[key] = value;
      flags.set(cfgPath, flag);
    };
    c.api ??= {};
    if (values.api) set(c.api, 'listen', values.api, 'api.listen', '--api');
    if (values.token !== undefined) set(c.api, 'token', values.token, 'api.token', '--token');
    else if (process.env.ETCD_SOAK_TOKEN)
      set(c.api, 'token', process.env.ETCD_SOAK_TOKEN, 'api.token', 'ETCD_SOAK_TOKEN');
    const offsetFlag = values['port-offset'] !== undefined ? 'port-offset' : 'port-base';
    const launch = c.cluster?.launch;
    if (
      values.ephemeral ||
      values[offsetFlag] !== undefined ||
      values['plain-peers'] ||
      values['no-compat-admin'] ||
      values['etcd-bin'] ||
      values['data-dir'] ||
      values.keep
    ) {
      if (!launch)
        throw new ConfigError(file, [
          {
            path: 'cluster.launch',
            message:
              'cluster flags (--ephemeral, --port-offset, --plain-peers, --no-compat-admin, --etcd-bin, --data-dir, --keep) need a config that launches a cluster',
          },
        ]);
      if (values.ephemeral) launch.ports = 'ephemeral';
      if (values[offsetFlag] !== undefined)
        set(launch, 'portOffset', num(offsetFlag), 'cluster.launch.portOffset', `--${offsetFlag}`);
      if (values['plain-peers']) launch.peerTls = false;
      if (values['no-compat-admin']) launch.compatAdmin = false;
      if (values['etcd-bin'] !== undefined)
        set(launch, 'etcdBin', values['etcd-bin'], 'cluster.launch.etcdBin', '--etcd-bin');
      if (values['data-dir'] !== undefined)
        set(launch, 'dataDir', values['data-dir'], 'cluster.launch.dataDir', '--data-dir');
      if (values.keep) launch.keep = true;
    }
    if (values['no-load']) delete c.load;
    else if (values.rate !== undefined || values.watchers !== undefined || values.threshold !== undefined) {
      c.load ??= {};
      if (values.rate !== undefined) set(c.load, 'rate', num('rate'), 'load.rate', '--rate');
      if (values.watchers !== undefined) set(c.load, 'watchers', num('watchers'), 'load.watchers', '--watchers');
      for (const expr of (values.threshold as string[] | undefined) ?? []) {
        c.load.thresholds = [...((c.load.thresholds as string[] | undefined) ?? []), expr];
        flags.set(`load.thresholds[${c.load.thresholds.length - 1}]`, `--threshold ${JSON.stringify(expr)}`);
      }
    }
    if (values['report-dir'] !== undefined) set(c, 'reportDir', values['report-dir'], 'reportDir', '--report-dir');
    if (values.seed !== undefined) set(c, 'seed', num('seed'), 'seed', '--seed');
    config = parseConfig(c, file);
    if (values.duration !== undefined) {
      try {
        durationMs = durationToMs(String(values.duration));
      } catch (err) {
        throw new ConfigError('--duration', [{ path: '', message: (err as Error).message }]);
      }
    }
    if (values.scenario !== undefined)
      plan = loadPlan(String(values.scenario), values['scenario-seed'] as string | undefined, config);
  } catch (err) {
    if (err instanceof ConfigError) {
      // an error in a flag's own value: "--rate: expected a number, got "x""
      if (err.file.startsWith('--')) return fail(`${err.file}: ${err.details.map((d) => d.message).join('; ')}`);
      return fail(describeConfigError(err, flags));
    }
    return fail((err as Error).message);
  }

  if (plan && values['dry-run']) {
    process.stdout.write(formatPlan(plan) + '\n');
    return EXIT.ok;
  }

  const logger = createLogger({
    name: 'etcd-soak',
    level: process.env.ETCD_SOAK_LOG_LEVEL ?? 'warn',
    lines: true,
    format: values.pretty ? 'pretty' : values['json-logs'] ? 'json' : 'auto',
  });
  installCrashGuard(logger);

  // signals from the start on: Ctrl-C while the members start aborts the start and cleans up
  const abort = new AbortController();
  let lab: Lab | undefined;
  let stopRequested: ((reason: string) => void) | undefined;
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      process.stderr.write('second signal: killing the members and quitting now\n');
      for (const m of lab?.cluster?.members ?? []) {
        try {
          if (m.pid) process.kill(m.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      process.exit(130);
    }
    if (!lab) {
      process.stderr.write(`\n${sig}: aborting the start, stopping what was started (again to quit at once)\n`);
      abort.abort();
      return;
    }
    process.stderr.write(
      `\n${sig}: stopping the load, writing the report, stopping the members (again to quit at once)\n`,
    );
    stopRequested?.(`interrupted (${sig})`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const done = new Promise<string>((resolve) => (stopRequested = resolve));
  try {
    lab = await startLab(config, { logger, signal: abort.signal });
  } catch (err) {
    if ((err as Error).name === 'AbortError' || abort.signal.aborted) return EXIT.ok;
    const code = exitCodeOf(err);
    if (code === EXIT.internal) logger.error({ err }, 'the lab failed to start');
    return fail(
      code === EXIT.internal ? `internal error: ${(err as Error).stack ?? err}` : (err as Error).message,
      code,
    );
  }
  // a LongTimer: `--duration 1000h` is longer than Node's timer limit and must not fire at once
  const timer =
    durationMs !== undefined
      ? new LongTimer(durationMs, () => stopRequested?.('duration reached'), { unref: true })
      : undefined;
  if (plan) {
    try {
      const run = lab.daemon.scenarios.start(plan);
      process.stderr.write(`scenario ${run.id}: ${plan.name} (plan ${plan.hash}, seed ${plan.seed})\n`);
      run.once('done', (st: ScenarioStatus) => {
        process.stderr.write(formatScenarioEnd(st) + '\n');
        // without --duration the run ends with its scenario (the load settles for one interval first)
        if (durationMs === undefined && st.state === 'done')
          setTimeout(() => stopRequested?.('scenario done'), 2000).unref();
      });
    } catch (err) {
      await lab.stop('the scenario could not start');
      return fail((err as Error).message, exitCodeOf(err));
    }
  }
  const reason = await done;
  timer?.cancel();
  const summary = await lab.stop(reason);
  const v = summary?.violations;
  const violated = v && violationTotal(v) > 0;
  return violated || summary?.passed === false ? EXIT.violations : EXIT.ok;
}
