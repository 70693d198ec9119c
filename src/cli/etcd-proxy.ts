// `etcd-proxy`: a drop-in for etcd v3.4's functional/cmd/etcd-proxy (same flags, texts, routes), on
// this project's Link. Deliberate differences are listed in the README.
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { compatApp } from '../api/compat.js';
import { Metrics } from '../metrics.js';
import { Link } from '../proxy/link.js';
import { createLogger } from '../util/log.js';
import { exitAfterFlush } from '../util/exit.js';
import { packageVersion } from '../util/pkg.js';
import { splitHostPort } from '../util/net.js';
import { FlagError, formatDefaults, parseGoFlags, type FlagDef } from './goflags.js';

const FLAGS: FlagDef[] = [
  { name: 'from', type: 'string', default: 'localhost:23790', usage: 'Address URL to proxy from.' },
  { name: 'to', type: 'string', default: 'localhost:2379', usage: 'Address URL to forward.' },
  { name: 'http-port', type: 'int', default: 2378, usage: 'Port to serve etcd-proxy API.' },
  { name: 'verbose', type: 'bool', default: false, usage: "'true' to run proxy in verbose mode." },
  // additive (the Go tool has no such flag). Listed in the usage: flag.PrintDefaults prints each flag on
  // its own lines, sorted, so the four Go flags above keep their exact lines and -version comes last.
  { name: 'version', type: 'bool', default: false, usage: 'print the etcd-soak version and exit (not in the Go tool)' },
];

/** The package's version (package.json at the package root: above dist/src/cli or src/cli). */
function usage(): string {
  return (
    `Usage of "etcd-proxy":\n\n` +
    `etcd-proxy forwards TCP from --from to --to and injects network faults for etcd testing,\n` +
    `controlled over HTTP on --http-port (a drop-in for etcd's own etcd-proxy; see the etcd-soak README).\n\n` +
    `Example:\n` +
    `  etcd-proxy --from localhost:23790 --to localhost:2379 --http-port 2378 --verbose\n` +
    `  curl -L http://localhost:2378/delay-tx -X PUT -d "latency=5s&random-variable=100ms"\n\n` +
    formatDefaults(FLAGS)
  );
}

function fail(message: string, code: number): never {
  process.stderr.write(message.endsWith('\n') ? message : message + '\n');
  process.exit(code);
}

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    values = parseGoFlags(argv, FLAGS).values;
  } catch (err) {
    if (err instanceof FlagError) {
      if (err.help) {
        process.stderr.write(usage());
        process.exit(0);
      }
      fail(`${err.message}\n${usage()}`, 2);
    }
    throw err;
  }
  if (values.version) {
    process.stdout.write(`etcd-proxy (etcd-soak) ${packageVersion()}\n`);
    process.exit(0);
  }
  const from = values.from as string;
  const to = values.to as string;
  const httpPort = values['http-port'] as number;
  let fromPort: number;
  try {
    fromPort = splitHostPort(from).port;
    splitHostPort(to);
  } catch (err) {
    fail(`etcd-proxy: bad address: ${(err as Error).message} (--from and --to take host:port)`, 1);
  }
  if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
    fail(`etcd-proxy: --http-port ${httpPort} is not a TCP port (expected 0-65535)`, 1);
  }

  const logger = createLogger({ level: values.verbose ? 'debug' : 'info', name: 'etcd-proxy' });
  const metrics = new Metrics();
  // like the Go tool: listen on every interface at the port of --from, dial --to as given
  const link = new Link({ name: 'etcd-proxy', listen: `:${fromPort}`, upstream: to, kind: 'custom', metrics, logger });
  logger.info({ from: `tcp://${from}`, to: `tcp://${to}` }, 'started proxying');
  try {
    await link.start();
  } catch (err) {
    fail(`etcd-proxy: cannot listen on :${fromPort} (--from ${from}): ${(err as Error).message}`, 1);
  }
  logger.info({ from: `tcp://${from}` }, 'proxy is listening on');

  const app = compatApp(link, { from, to, metrics });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  await new Promise<void>((resolve) => {
    server.once('error', (err) =>
      fail(`etcd-proxy: cannot serve HTTP on :${httpPort} (--http-port): ${err.message}`, 1),
    );
    server.listen(httpPort, () => resolve());
  });
  process.stdout.write(`\nserving HTTP server http://localhost:${httpPort}\n\n`);

  let stopping = false;
  const stop = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const name = sig === 'SIGINT' ? 'interrupt' : 'terminated';
    process.stdout.write(`\n\nreceived signal "${name}", shutting down HTTP server\n\n`);
    server.close();
    server.closeAllConnections();
    void link.close().then(() => {
      process.stdout.write('gracefully stopped HTTP server with <nil>\n\n');
      logger.flush?.();
      void exitAfterFlush(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
