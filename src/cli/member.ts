// `etcd-soak member`: member process faults on a running daemon's launched members, through its HTTP
// API. The action and the duration are checked here first, so a mistake is named before anything is sent.
import { parseArgs } from 'node:util';
import { Api, ApiRefused, Unreachable, type Answer } from './ctl/client.js';
import { memberActionSchema } from '../api/schemas.js';
import { MEMBER_ACTIONS, type MemberActionResult } from '../daemon/members.js';
import { describeError } from '../util/errors.js';
import { EXIT } from '../util/exit.js';

export const MEMBER_HELP = `Usage: etcd-soak member <action> <member|leader|follower|random-follower> [options]
       etcd-soak member list

Kills, stops, freezes or restarts a member of a running daemon's cluster (members it launched: lab,
run --config with a launched cluster). A role is resolved when the action is applied.

  etcd-soak member kill follower                  SIGKILL; the member stays down until started
  etcd-soak member stop s2 --duration 30s         SIGTERM, started again after 30s
  etcd-soak member freeze random-follower --duration 5s    SIGSTOP, then SIGCONT after 5s
  etcd-soak member continue s2                    SIGCONT
  etcd-soak member restart leader                 stop and start with the same data dir; waits until it serves
  etcd-soak member start s2                       start an exited member; waits until it serves
  etcd-soak member list                           members, their state, the open member fault windows

Actions: ${MEMBER_ACTIONS.join(', ')}
Targets: a member name, leader, follower (the first by name), random-follower (seeded; a running
follower under no member fault)

Options:
  --api URL          the daemon's API (default http://127.0.0.1:8379, or ETCD_SOAK_API)
  --token TOKEN      bearer token (or ETCD_SOAK_TOKEN)
  --duration D       kill, stop, freeze: undo it after D (Go duration)
  --json             print the API's JSON answer
  -h, --help         this text

Exit status: 0 done, 2 bad usage or a request the daemon refused (4xx), 3 the daemon cannot be reached.`;

const OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  duration: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

interface MemberRow {
  name: string;
  pid?: number;
  state?: string;
  client?: string;
}
interface WindowRow {
  id: string;
  kind: string;
  member: string;
  since: string;
}

const resultLine = (r: MemberActionResult) =>
  `${r.action} ${r.member}: ${r.state}${r.pid !== undefined ? ` (pid ${r.pid})` : ''} at ${r.at}${r.window ? `, window ${r.window}` : ''}`;

function listLines(members: MemberRow[], windows: WindowRow[]): string {
  const rows = members.map((m) => {
    const w = windows.find((x) => x.member === m.name);
    const state = m.state ?? 'not launched here';
    return `${m.name.padEnd(12)} ${state.padEnd(17)} ${m.pid !== undefined ? `pid ${m.pid}` : ''}${w ? `  ${w.id} ${w.kind} since ${w.since}` : ''}`;
  });
  return rows.map((r) => r.trimEnd() + '\n').join('');
}

export async function memberCommand(argv: string[]): Promise<number> {
  let values: Partial<Record<keyof typeof OPTIONS, string | boolean>>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true }));
  } catch (err) {
    process.stderr.write(`etcd-soak member: ${(err as Error).message}\n\n${MEMBER_HELP}\n`);
    return EXIT.usage;
  }
  const [verb, target, extra] = positionals;
  if (values.help || verb === undefined) {
    process.stdout.write(MEMBER_HELP + '\n');
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (verb !== 'list' && !(MEMBER_ACTIONS as readonly string[]).includes(verb)) {
    process.stderr.write(`etcd-soak member: unknown action ${JSON.stringify(verb)}\n\n${MEMBER_HELP}\n`);
    return EXIT.usage;
  }
  if (verb === 'list' ? target !== undefined : target === undefined || extra !== undefined) {
    process.stderr.write(
      `etcd-soak member ${verb}: ${verb === 'list' ? 'expected no argument' : 'expected one member or role'}\n\n${MEMBER_HELP}\n`,
    );
    return EXIT.usage;
  }
  const body = typeof values.duration === 'string' ? { duration: values.duration } : {};
  try {
    if (verb === 'list' && values.duration !== undefined) throw new Error('--duration: only with an action');
    memberActionSchema.parse(body);
  } catch (err) {
    process.stderr.write(`etcd-soak member: ${describeError(err).replace(/^duration:/, '--duration:')}\n`);
    return EXIT.usage;
  }
  const api = new Api(values);
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => api.call(method, path, body);
  const fail = (a: Answer) => {
    process.stderr.write(`etcd-soak member: ${new ApiRefused(a).message}\n`);
    return a.status >= 500 ? EXIT.internal : EXIT.usage;
  };
  try {
    if (verb === 'list') {
      const a = await call('GET', '/members');
      if (a.status !== 200) return fail(a);
      const { members, windows } = a.json as { members: MemberRow[]; windows: WindowRow[] };
      process.stdout.write(values.json ? JSON.stringify(a.json, null, 2) + '\n' : listLines(members, windows));
      return EXIT.ok;
    }
    const a = await call('POST', `/members/${encodeURIComponent(target!)}/${verb}`, body);
    if (a.status !== 200) return fail(a);
    process.stdout.write(
      (values.json ? JSON.stringify(a.json, null, 2) : resultLine(a.json as MemberActionResult)) + '\n',
    );
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
    process.stderr.write(`etcd-soak member: ${err.message}\n`);
    return EXIT.environment;
  }
}
