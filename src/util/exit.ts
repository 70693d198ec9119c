// The exit codes of the etcd-soak commands, one meaning each, and the error classes that carry them.
import { ZodError } from 'zod';

export const EXIT = {
  /** clean run, every guarantee held */
  ok: 0,
  /** a watch guarantee was violated, or a threshold of the run failed (ctl: a wait timed out) */
  violations: 1,
  /** bad usage or input: flags, config file */
  usage: 2,
  /** the environment: a port in use, etcd missing or failing to start, an unwritable directory */
  environment: 3,
  /** an internal error of etcd-soak */
  internal: 4,
} as const;

/** The lines each command's --help ends with. */
export const EXIT_HELP = `Exit status:
  0  clean: stopped as asked, every watch guarantee held
  1  a watch guarantee was violated, or a threshold of the run failed (--threshold, load.thresholds)
  2  bad usage or input (a flag, a config file)
  3  environment: a port in use, etcd missing or failing to start, a directory that cannot be written
  4  internal error of etcd-soak`;

/** Something outside etcd-soak is in the way (exit 3). */
export class EnvironmentError extends Error {
  readonly exitCode = EXIT.environment;
}

/** Bad usage or input, naming the flag or field (exit 2). */
export class InputError extends Error {
  readonly exitCode = EXIT.usage;
}

/** The exit code an error that ended a command stands for. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof EnvironmentError || err instanceof InputError) return err.exitCode;
  if (err instanceof ZodError) return EXIT.usage;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (
    code === 'EADDRINUSE' ||
    code === 'EACCES' ||
    code === 'EADDRNOTAVAIL' ||
    code === 'ENOSPC' ||
    code === 'EROFS' ||
    code === 'EMFILE'
  )
    return EXIT.environment;
  return EXIT.internal;
}

/**
 * Exits with `code` once what stdout and stderr hold is written (at most `timeoutMs`). Writes to a pipe
 * or socket that is not being read are queued, not blocking (Node 20 on Linux), and process.exit drops
 * the queue: a slowly read `2>&1 | …` would lose the last log lines and the summary.
 */
export async function exitAfterFlush(code: number, timeoutMs = 5000): Promise<never> {
  const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0 && !s.destroyed);
  if (pending.length) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(pending.map((s) => new Promise<void>((r) => s.write('', () => r())))),
      new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
  process.exit(code);
}
