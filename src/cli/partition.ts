// `etcd-soak partition`: member-aware partitions on a running daemon, through its HTTP API. The request is
// checked here with the API's own schema first, so a mistake is named before anything is sent.
import { parseArgs } from 'node:util';
import { Api, ApiRefused, Unreachable, type Answer } from './ctl/client.js';
import { partitionSpecSchema, type PartitionSpecInput } from '../schema/partition.js';
import { describeError } from '../util/errors.js';
import { EXIT } from '../util/exit.js';

export const PARTITION_HELP = `Usage: etcd-soak partition <create|list|heal> [options]

Cuts members of a running daemon's cluster off from each other (launched members: lab, run --config).

  etcd-soak partition create --isolate leader --duration 20s
  etcd-soak partition create --groups s1/s2,s3           members in different groups cannot reach each other
  etcd-soak partition create --from s1 --to s2            one-way: s1's traffic to s2 is cut
  etcd-soak partition create --preset halves --leader minority
  etcd-soak partition create '{"isolate":"s2","cut":{"drop":0.3}}'   any body POST /partitions takes
  etcd-soak partition list
  etcd-soak partition heal <id>      (or --all)

Options:
  --api URL          the daemon's API (default http://127.0.0.1:8379, or ETCD_SOAK_API)
  --token TOKEN      bearer token (or ETCD_SOAK_TOKEN)
  --isolate M        a member, or "leader" (resolved when applied)
  --groups G/G/...   groups separated by "/", members by ","
  --from LIST --to LIST   one-way cut (members separated by ",")
  --preset P         halves, ring or bridge;  --leader minority|majority, --seed N (presets)
  --cut C            total (default), drop=P, or delay=D[±J] (e.g. delay=200ms±50ms)
  --established E    blackhole (default) or reset: open connections under a total cut
  --duration D       heals itself after D (Go duration)
  --all              heal: every partition
  --json             print the API's JSON answer
  -h, --help         this text

Exit status: 0 done, 2 bad usage or a request the daemon refused (4xx), 3 the daemon cannot be reached.`;

const OPTIONS = {
  api: { type: 'string' },
  token: { type: 'string' },
  isolate: { type: 'string' },
  groups: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  preset: { type: 'string' },
  leader: { type: 'string' },
  seed: { type: 'string' },
  cut: { type: 'string' },
  established: { type: 'string' },
  duration: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Partial<Record<keyof typeof OPTIONS, string | boolean>>;
const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The request body the flags describe (a JSON argument wins). */
export function specFromFlags(v: Values, json?: string): PartitionSpecInput {
  if (json !== undefined) return JSON.parse(json) as PartitionSpecInput;
  const spec: Record<string, unknown> = {};
  if (typeof v.isolate === 'string') spec.isolate = v.isolate;
  if (typeof v.groups === 'string') spec.groups = v.groups.split('/').map(list);
  if (typeof v.from === 'string') spec.from = list(v.from);
  if (typeof v.to === 'string') spec.to = list(v.to);
  if (typeof v.preset === 'string') spec.preset = v.preset;
  if (typeof v.leader === 'string') spec.leader = v.leader;
  if (typeof v.seed === 'string') spec.seed = Number(v.seed);
  if (typeof v.established === 'string') spec.established = v.established;
  if (typeof v.duration === 'string') spec.duration = v.duration;
  if (typeof v.cut === 'string') {
    const m = /^(?:(total)|drop=(.+)|delay=([^±]+)(?:±(.+))?)$/.exec(v.cut);
    if (!m) throw new Error(`--cut: expected total, drop=P or delay=D[±J], got ${JSON.stringify(v.cut)}`);
    spec.cut = m[1] ? 'total' : m[2] !== undefined ? { drop: Number(m[2]) } : { delay: m[3], jitter: m[4] ?? 0 };
  }
  return spec as PartitionSpecInput;
}

interface Row {
  id: string;
  summary: string;
  cut: unknown[];
  expiresAt?: string;
}
const line = (p: Row) => `${p.id}  ${p.summary}  (${p.cut.length} pairs${p.expiresAt ? `, until ${p.expiresAt}` : ''})`;

export async function partitionCommand(argv: string[]): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true }));
  } catch (err) {
    process.stderr.write(`etcd-soak partition: ${(err as Error).message}\n\n${PARTITION_HELP}\n`);
    return EXIT.usage;
  }
  const [verb, arg] = positionals;
  if (values.help || verb === undefined) {
    process.stdout.write(PARTITION_HELP + '\n');
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const api = new Api(values);
  const call = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => api.call(method, path, body);
  const fail = (a: Answer) => {
    process.stderr.write(`etcd-soak partition: ${new ApiRefused(a).message}\n`);
    return a.status >= 500 ? EXIT.internal : EXIT.usage;
  };
  try {
    if (verb === 'create') {
      let spec: PartitionSpecInput;
      try {
        spec = specFromFlags(values, arg);
        partitionSpecSchema.parse(spec);
      } catch (err) {
        process.stderr.write(`etcd-soak partition: ${describeError(err)}\n`);
        return EXIT.usage;
      }
      const a = await call('POST', '/partitions', spec);
      if (a.status !== 201) return fail(a);
      process.stdout.write((values.json ? JSON.stringify(a.json, null, 2) : line(a.json as Row)) + '\n');
      return EXIT.ok;
    }
    if (verb === 'list') {
      const a = await call('GET', '/partitions');
      if (a.status !== 200) return fail(a);
      const rows = a.json as Row[];
      process.stdout.write(
        values.json ? JSON.stringify(rows, null, 2) + '\n' : rows.map((r) => line(r) + '\n').join(''),
      );
      return EXIT.ok;
    }
    if (verb === 'heal') {
      if (!values.all && !arg) {
        process.stderr.write('etcd-soak partition heal: expected an id or --all\n');
        return EXIT.usage;
      }
      const a = await call('DELETE', values.all ? '/partitions' : `/partitions/${encodeURIComponent(arg!)}`);
      if (a.status !== 200 && a.status !== 204) return fail(a);
      process.stdout.write(values.all ? `healed ${(a.json as { healed: number }).healed}\n` : `healed ${arg}\n`);
      return EXIT.ok;
    }
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
    process.stderr.write(`etcd-soak partition: ${err.message}\n`);
    return EXIT.environment;
  }
  process.stderr.write(`etcd-soak partition: unknown action ${JSON.stringify(verb)}\n\n${PARTITION_HELP}\n`);
  return EXIT.usage;
}
