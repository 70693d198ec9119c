// `etcd-soak lab` and `etcd-soak run --config FILE`: the long-running daemon.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfigFile, parseConfig, type Config } from '../config/schema.js';
import { startLab } from '../lab/lab.js';
import { durationToMs } from '../util/duration.js';
import { createLogger } from '../util/log.js';

/** the package root (dist/src/cli when built, src/cli under tsx) */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}
const LAB_CONFIG = path.join(packageRoot(), 'config/lab.yaml');

export const LAB_HELP = `Usage: etcd-soak lab [options]

Starts a local 3-member etcd cluster with a fault link in front of every member's client and peer port
(Procfile-proxy layout: member N client N379 <- N3790, peer N380 <- N3800), the etcd-proxy admin API on
N378/N381, the default load, and the HTTP API; prints a status line every few seconds. Ctrl-C stops the
load, writes the report, stops the members and removes their data (a second Ctrl-C quits at once).

Options:
  --config FILE         base config (default config/lab.yaml)
  --api HOST:PORT       API listen address (default 127.0.0.1:8379; port 0 = any free port)
  --token TOKEN         require "Authorization: Bearer TOKEN" (or ETCD_SOAK_TOKEN)
  --ephemeral           free ports for everything instead of the Procfile layout
  --port-offset N       add N to every Procfile port (two labs side by side; --port-base is the same)
  --plain-peers         peers over plain HTTP instead of TLS
  --no-compat-admin     do not serve the etcd-proxy admin API on N378/N381
  --etcd-bin PATH       etcd binary (default: ETCD_BIN, then PATH; installed with apt-get if missing)
  --data-dir DIR        parent of the members' data dirs (default: a temp dir)
  --keep                keep the members' data on exit
  --duration D          stop by itself after D (Go duration)
  --rate N              put rate of the load
  --watchers N          watchers of the load
  --no-load             start no load
  --report-dir DIR      where reports/<run-id>/ goes (default ./reports)
  --seed N              seed of the links' random draws (jitter, drop, corrupt)
  --pretty              human-readable logs
  -h, --help            this text

Exit status: 0 clean, 1 watch violations found, 2 bad flags or config.`;

export const RUN_HELP = `Usage: etcd-soak run --config FILE [--duration D] [--api HOST:PORT] [--token T] [--pretty]

Runs the daemon from a YAML/JSON config: links, an existing cluster or one it launches, the load.
See config/lab.yaml and config/existing-cluster.example.yaml.`;

function fail(msg: string): number {
  process.stderr.write(`etcd-soak: ${msg}\n`);
  return 2;
}

export async function daemonCommand(kind: 'lab' | 'run', argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
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
        rate: { type: 'string' },
        watchers: { type: 'string' },
        'no-load': { type: 'boolean' },
        'report-dir': { type: 'string' },
        seed: { type: 'string' },
        pretty: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${kind === 'lab' ? LAB_HELP : RUN_HELP}`);
  }
  if (values.help) {
    process.stdout.write((kind === 'lab' ? LAB_HELP : RUN_HELP) + '\n');
    return 0;
  }
  if (kind === 'run' && !values.config) return fail('run: --config FILE is required');
  let config: Config;
  let durationMs: number | undefined;
  try {
    const file = (values.config as string | undefined) ?? LAB_CONFIG;
    const raw = loadConfigFile(file);
    // flags override the file; re-validated as a whole so errors still name the field
    const c = structuredClone(raw) as Record<string, any>;
    const num = (flag: string) => {
      const n = Number(values[flag]);
      if (String(values[flag]).trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${flag}`, [{ path: '', message: `expected a number, got ${JSON.stringify(values[flag])}` }]);
      return n;
    };
    if (values.api) c.api.listen = values.api;
    const token = (values.token as string | undefined) ?? process.env.ETCD_SOAK_TOKEN;
    if (token) c.api.token = token;
    values['port-offset'] ??= values['port-base'];
    const launch = c.cluster?.launch;
    if (values.ephemeral || values['port-offset'] || values['plain-peers'] || values['no-compat-admin'] || values['etcd-bin'] || values['data-dir'] || values.keep) {
      if (!launch) throw new ConfigError(values.config as string, [{ path: 'cluster.launch', message: 'cluster flags need a config that launches a cluster' }]);
      if (values.ephemeral) launch.ports = 'ephemeral';
      if (values['port-offset']) launch.portOffset = num('port-offset');
      if (values['plain-peers']) launch.peerTls = false;
      if (values['no-compat-admin']) launch.compatAdmin = false;
      if (values['etcd-bin']) launch.etcdBin = values['etcd-bin'];
      if (values['data-dir']) launch.dataDir = values['data-dir'];
      if (values.keep) launch.keep = true;
    }
    if (values['no-load']) delete c.load;
    else if (values.rate || values.watchers) {
      c.load ??= {};
      if (values.rate) c.load.rate = num('rate');
      if (values.watchers) c.load.watchers = num('watchers');
    }
    if (values['report-dir']) c.reportDir = values['report-dir'];
    if (values.seed) c.seed = num('seed');
    config = parseConfig(c, file);
    if (values.duration) {
      try {
        durationMs = durationToMs(String(values.duration));
      } catch (err) {
        throw new ConfigError('--duration', [{ path: '', message: (err as Error).message }]);
      }
    }
  } catch (err) {
    return fail(err instanceof ConfigError ? `invalid config: ${err.message}` : (err as Error).message);
  }

  const logger = createLogger({ name: 'etcd-soak', pretty: !!values.pretty, level: process.env.ETCD_SOAK_LOG_LEVEL ?? 'warn' });
  let lab;
  try {
    lab = await startLab(config, { logger });
  } catch (err) {
    process.stderr.write(`etcd-soak: ${(err as Error).message}\n`);
    return 1;
  }
  const done = new Promise<string>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        process.stderr.write('second signal: killing the members and quitting now\n');
        for (const m of lab.cluster?.members ?? []) if (m.pid) process.kill(m.pid, 'SIGKILL');
        process.exit(130);
      }
      process.stderr.write(`\n${sig}: stopping the load, writing the report, stopping the members (again to quit at once)\n`);
      resolve(`interrupted (${sig})`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (durationMs !== undefined) setTimeout(() => resolve('duration reached'), durationMs);
  });
  const reason = await done;
  const summary = await lab.stop(reason);
  const v = summary?.violations;
  return v && v.ordered + v.unique + v.reliable + v.unexpected > 0 ? 1 : 0;
}
