// What every `etcd-soak ctl` command shares: its options (--api, --token, --json, --help), the API call,
// an API error as one line (the daemon's message and field, never a stack), the exit codes, and the
// human table.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { request } from 'undici';
import { EXIT } from '../../util/exit.js';

export const DEFAULT_API = 'http://127.0.0.1:8379';

export const CTL_EXIT_HELP = `Exit status:
  0  done (wait: the condition holds)
  1  wait: timed out; load stop: a threshold failed or a watch guarantee was violated
  2  bad usage, or a request the daemon refused (4xx): its message and field are printed
  3  the daemon cannot be reached
  4  the daemon failed (5xx), or an internal error`;

export const COMMON_HELP = `  --api URL          the daemon's API (default ${DEFAULT_API}, or ETCD_SOAK_API)
  --token TOKEN      bearer token (or ETCD_SOAK_TOKEN)
  --json             print the API's JSON answer
  -h, --help         this text`;

const COMMON_OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Values = Record<string, string | boolean | string[] | undefined>;

/** A usage mistake: printed with the command's name (and its help: a misspelt flag or action), exit 2. */
export class CtlUsage extends Error {
  constructor(
    message: string,
    readonly withHelp = false,
  ) {
    super(message);
  }
}

/** The daemon could not be reached (exit 3). */
export class Unreachable extends Error {}

export interface Answer {
  status: number;
  json: unknown;
  text: string;
}

export class Api {
  readonly base: string;
  private readonly token: string | undefined;
  constructor(values: Values) {
    this.base = String(values.api ?? process.env.ETCD_SOAK_API ?? DEFAULT_API).replace(/\/$/, '');
    this.token = (values.token as string | undefined) ?? process.env.ETCD_SOAK_TOKEN;
  }

  async call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<Answer> {
    let res;
    try {
      res = await request(this.base + path, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        headersTimeout: 120_000,
      });
    } catch (err) {
      throw new Unreachable(`cannot reach the daemon at ${this.base}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined; // a text answer (an error page of something else on that port): shown as text
    }
    return { status: res.statusCode, json, text };
  }

  /** The call's JSON when the daemon answered 2xx; an ApiRefused otherwise. */
  async ok<T = unknown>(method: Parameters<Api['call']>[0], path: string, body?: unknown): Promise<T> {
    const a = await this.call(method, path, body);
    if (a.status < 200 || a.status > 299) throw new ApiRefused(a);
    return a.json as T;
  }
}

/** The daemon answered with an error: its message and the fields it names. */
export class ApiRefused extends Error {
  constructor(readonly answer: Answer) {
    const e = answer.json as { error?: string; details?: { path: string; message: string }[] } | undefined;
    const details = e?.details?.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
    super(`${answer.status} ${e?.error ?? answer.text.trim()}${details ? ` (${details})` : ''}`);
  }
}

/** Parses a command's arguments with the common options; a mistake is a CtlUsage. */
export function parse(
  argv: string[],
  options: ParseArgsConfig['options'] = {},
): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new CtlUsage((err as Error).message, true);
  }
}

/** Runs a command body, turning its errors into a printed line and an exit code. */
export async function runCtl(name: string, help: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CtlUsage) {
      process.stderr.write(`etcd-soak ctl ${name}: ${err.message}\n${err.withHelp ? `\n${help}\n` : ''}`);
      return EXIT.usage;
    }
    if (err instanceof ApiRefused) {
      process.stderr.write(`etcd-soak ctl ${name}: ${err.message}\n`);
      return err.answer.status >= 500 ? EXIT.internal : EXIT.usage;
    }
    if (err instanceof Unreachable) {
      process.stderr.write(`etcd-soak ctl ${name}: ${err.message}\n`);
      return EXIT.environment;
    }
    throw err;
  }
}

export function printJson(x: unknown): void {
  process.stdout.write(JSON.stringify(x, null, 2) + '\n');
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]))).join('  '))
    .map((l) => l.trimEnd() + '\n')
    .join('');
}

/** "1.2 MiB" */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** "--help" or no verb: the help (exit 0 when asked, 2 when nothing was given). */
export function helpExit(values: Values, help: string, verbGiven: boolean): number | undefined {
  if (values.help || !verbGiven) {
    process.stdout.write(help + '\n');
    return values.help ? EXIT.ok : EXIT.usage;
  }
  return undefined;
}
