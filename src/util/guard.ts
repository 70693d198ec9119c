// One process-wide policy for the unexpected: an exception or rejection that escaped every handler is
// logged with its context, counted, and the daemon keeps serving. A soak tool that dies of a socket
// event in hour three is worth nothing; the daemon exits only for its own invariants (exit code 4,
// see `fatal`).
import type { Logger } from './log.js';

export interface GuardCounts {
  uncaughtException: number;
  unhandledRejection: number;
}

const counts: GuardCounts = { uncaughtException: 0, unhandledRejection: 0 };
let installed: { logger: Logger; onError?: (source: keyof GuardCounts, err: unknown) => void } | undefined;

/** What escaped so far, by source (read by the metrics collector and the summary). */
export function guardCounts(): Readonly<GuardCounts> {
  return counts;
}

/** Reports one escaped error as the installed policy does (also usable by code that caught it itself). */
export function reportEscaped(source: keyof GuardCounts, err: unknown, context: Record<string, unknown> = {}): void {
  counts[source]++;
  const logger = installed?.logger;
  const n = counts[source];
  // at most the first 100, then one in 1000: a hot loop of the same error must not flood the log
  if (logger && (n <= 100 || n % 1000 === 0)) {
    logger.error(
      { err, source, count: n, ...context },
      'unexpected error escaped its handler; the daemon keeps serving',
    );
  }
  installed?.onError?.(source, err);
}

/**
 * Installs the policy once per process. Later calls replace the logger and callback (tests, the lab
 * after its logger exists).
 */
export function installCrashGuard(logger: Logger, onError?: (source: keyof GuardCounts, err: unknown) => void): void {
  const first = !installed;
  installed = { logger, onError };
  if (!first) return;
  process.on('uncaughtException', (err, origin) => reportEscaped('uncaughtException', err, { origin }));
  process.on('unhandledRejection', (reason) => reportEscaped('unhandledRejection', reason));
}

/** The daemon's own invariant broke: say so and exit 4. */
export function fatal(logger: Logger, err: unknown, what: string): never {
  logger.fatal({ err }, what);
  process.stderr.write(`etcd-soak: internal error: ${what}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(4);
}
