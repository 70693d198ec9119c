// pino everywhere: JSON lines by default; pretty only when asked (ETCD_SOAK_LOG_PRETTY=1 or a TTY with
// --pretty), so the hot path stays cheap.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string; pretty?: boolean; destination?: number } = {}): Logger {
  const level = opts.level ?? process.env.ETCD_SOAK_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? process.env.ETCD_SOAK_LOG_PRETTY === '1';
  if (pretty) {
    return pino({ level, name: opts.name, transport: { target: 'pino-pretty', options: { destination: opts.destination ?? 2 } } });
  }
  return pino({ level, name: opts.name }, pino.destination({ dest: opts.destination ?? 2, sync: false }));
}

/** A logger that drops everything (tests, libraries used without a daemon). */
export const silentLogger: Logger = pino({ level: 'silent' });
