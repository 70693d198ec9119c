// pino everywhere. Two ways to write:
// - the default (libraries, etcd-proxy): JSON lines through an asynchronous destination, pretty only when
//   asked (`pretty: true` or ETCD_SOAK_LOG_PRETTY=1), so the hot path stays cheap;
// - `lines: true` (the etcd-soak daemon and its commands): every record is written whole and at once by
//   the main thread through process.stderr, the same writer as the status lines, so a log record can
//   never land inside a status line or a status line inside a record (an asynchronous destination writes
//   from another thread: a large write into a full pipe takes turns with our own writes). Pretty
//   (pino-pretty, formatted in the main thread) in a terminal, JSON when piped; `format` overrides.
import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type { Logger };

export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** pretty-print (default: ETCD_SOAK_LOG_PRETTY=1); with `lines`, use `format` instead */
  pretty?: boolean;
  destination?: number;
  /** write whole records synchronously through `write` (default process.stderr), see above */
  lines?: boolean;
  /** with `lines`: auto = pretty when the destination is a terminal (ETCD_SOAK_LOG_PRETTY=1/0 decides first) */
  format?: LogFormat;
  /** with `lines`: where whole records go (default: process.stderr.write) */
  write?: (text: string) => void;
  /** with `lines` and format auto: whether the destination is a terminal (default: process.stderr.isTTY) */
  isTTY?: boolean;
}

/** Pretty or JSON for a `lines` logger: an explicit format wins, then ETCD_SOAK_LOG_PRETTY, then the terminal. */
export function resolveLogFormat(
  format: LogFormat | undefined,
  isTTY: boolean,
  env: NodeJS.ProcessEnv = process.env,
): 'pretty' | 'json' {
  if (format === 'pretty' || format === 'json') return format;
  if (env.ETCD_SOAK_LOG_PRETTY === '1') return 'pretty';
  if (env.ETCD_SOAK_LOG_PRETTY === '0') return 'json';
  return isTTY ? 'pretty' : 'json';
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.ETCD_SOAK_LOG_LEVEL ?? 'info';
  if (opts.lines) {
    const write = opts.write ?? ((s: string) => void process.stderr.write(s));
    const tty = opts.isTTY ?? !!process.stderr.isTTY;
    const pretty = resolveLogFormat(opts.format, tty) === 'pretty';
    const dest: DestinationStream = pretty
      ? lineStream(prettyFactory({ colorize: tty, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }), write)
      : { write };
    return pino({ level, name: opts.name }, dest);
  }
  const pretty = opts.pretty ?? process.env.ETCD_SOAK_LOG_PRETTY === '1';
  if (pretty) {
    return pino({
      level,
      name: opts.name,
      transport: { target: 'pino-pretty', options: { destination: opts.destination ?? 2 } },
    });
  }
  return pino({ level, name: opts.name }, pino.destination({ dest: opts.destination ?? 2, sync: false }));
}

function lineStream(prettify: (line: string) => string, write: (s: string) => void): DestinationStream {
  return {
    write(line: string) {
      let text: string;
      try {
        text = prettify(line);
      } catch {
        text = line;
      }
      write(text.endsWith('\n') ? text : text + '\n');
    },
  };
}

/** A logger that drops everything (tests, libraries used without a daemon). */
export const silentLogger: Logger = pino({ level: 'silent' });
