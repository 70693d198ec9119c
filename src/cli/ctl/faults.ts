// `etcd-soak ctl fault`: add (on a link, or on targets: --target-role leader --target-kind peer), list,
// remove, clear, reset. The add flags come from the fault registry's schemas: one flag per parameter of
// any fault type (--latency, --probability, --size-variation ...), checked against the type's schema here
// so a mistake names the flag before anything is sent.
import { z } from 'zod';
import { faultModules, faultSpecSchema } from '../../proxy/faults/registry.js';
import { faultTargetSchema } from '../../schema/target.js';
import { formatPath } from '../../util/errors.js';
import { humanMs } from '../../util/human.js';
import { EXIT } from '../../util/exit.js';
import { Api, COMMON_HELP, CTL_EXIT_HELP, CtlUsage, parse, printJson, runCtl, table, type Values } from './client.js';

interface ParamFlag {
  flag: string;
  field: string;
  numeric: boolean;
}

/** the field's schema under its optional/default/transform wrappers */
function core(s: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s._def.innerType as z.ZodTypeAny;
    else if (s instanceof z.ZodEffects) s = s.innerType() as z.ZodTypeAny;
    else return s;
  }
}

const kebab = (field: string) => field.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
const shapeOf = (m: (typeof faultModules)[number]) =>
  (m.schema as z.AnyZodObject).shape as Record<string, z.ZodTypeAny>;

/** Every parameter of every fault type, once, as a flag. */
export const FAULT_FLAGS: readonly ParamFlag[] = [
  ...new Map(
    faultModules.flatMap((m) =>
      Object.entries(shapeOf(m))
        .filter(([field]) => field !== 'type')
        .map(([field, s]) => [field, { flag: kebab(field), field, numeric: core(s) instanceof z.ZodNumber }] as const),
    ),
  ).values(),
];

/** "delay  --direction tx|rx --latency D [--jitter D] [--distribution uniform|normal|...] [--duration D]" */
function usageOf(m: (typeof faultModules)[number]): string {
  const params = Object.entries(shapeOf(m))
    .filter(([field]) => field !== 'type')
    .map(([field, s]) => {
      const c = core(s);
      const meta = c instanceof z.ZodEnum ? (c.options as string[]).join('|') : c instanceof z.ZodNumber ? 'N' : 'D';
      const text = `--${kebab(field)} ${meta}`;
      return s.isOptional() ? `[${text}]` : text;
    });
  return `    ${m.type.padEnd(15)}${params.join(' ')}`;
}

export const FAULT_HELP = `Usage: etcd-soak ctl fault <add|list|remove|clear|reset> [options]

  etcd-soak ctl fault add s1-client delay --direction tx --latency 200ms --duration 30s
  etcd-soak ctl fault add --target-role leader --target-kind peer drop --direction rx --probability 0.3
  etcd-soak ctl fault list [LINK]           every fault (or one link's)
  etcd-soak ctl fault remove ID             one fault, by id (a link's or a targeted one)
  etcd-soak ctl fault clear [LINK]          every fault (or one link's)
  etcd-soak ctl fault reset                 every link's faults removed (POST /reset)

add LINK TYPE [params]: on one link (POST /links/LINK/faults).
add --target-… TYPE [params]: on the links a target selects, under one id (POST /faults):
  --target-links L,L    links by name
  --target-members M,M  members by name (their client and peer links)
  --target-role R       leader or follower (resolved when applied)
  --target-kind K       client or peer: which links of the chosen members (alone: every member's)

Fault types and their parameters (durations are Go durations: 250ms, 1m30s):
${faultModules.map(usageOf).join('\n')}

Options:
${COMMON_HELP}

${CTL_EXIT_HELP}`;

const TARGET_FLAGS = {
  'target-links': { type: 'string' },
  'target-members': { type: 'string' },
  'target-role': { type: 'string' },
  'target-kind': { type: 'string' },
} as const;

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** The fault spec the flags describe, checked by the type's schema (errors name the flag). */
export function faultFromFlags(type: string, values: Values): Record<string, unknown> {
  const module = faultModules.find((m) => m.type === type);
  if (!module)
    throw new CtlUsage(
      `unknown fault type ${JSON.stringify(type)} (expected one of ${faultModules.map((m) => m.type).join(', ')})`,
    );
  const fields = shapeOf(module);
  const spec: Record<string, unknown> = { type };
  for (const f of FAULT_FLAGS) {
    const raw = values[f.flag];
    if (raw === undefined) continue;
    if (!(f.field in fields)) throw new CtlUsage(`--${f.flag}: not a parameter of ${type}`);
    if (f.numeric) {
      const n = Number(raw);
      if (String(raw).trim() === '' || !Number.isFinite(n))
        throw new CtlUsage(`--${f.flag}: expected a number, got ${JSON.stringify(raw)}`);
      spec[f.field] = n;
    } else spec[f.field] = raw;
  }
  const r = faultSpecSchema.safeParse(spec);
  if (!r.success)
    throw new CtlUsage(
      r.error.issues
        .map((i) => {
          const field = i.path[0];
          const flag = FAULT_FLAGS.find((f) => f.field === field);
          const message = i.message === 'Required' ? 'required' : i.message;
          return `${flag ? `--${flag.flag}` : formatPath(i.path)}: ${message}`;
        })
        .join('; '),
    );
  return spec;
}

function targetFromFlags(values: Values): Record<string, unknown> | undefined {
  const target: Record<string, unknown> = {};
  if (typeof values['target-links'] === 'string') target.links = list(values['target-links']);
  if (typeof values['target-members'] === 'string') target.members = list(values['target-members']);
  if (typeof values['target-role'] === 'string') target.role = values['target-role'];
  if (typeof values['target-kind'] === 'string') target.kind = values['target-kind'];
  if (!Object.keys(target).length) return undefined;
  const r = faultTargetSchema.safeParse(target);
  if (!r.success)
    throw new CtlUsage(
      r.error.issues.map((i) => `${i.path.length ? `--target-${i.path[0]}` : '--target-…'}: ${i.message}`).join('; '),
    );
  return target;
}

const DURATION_PARAMS = new Set(
  faultModules.flatMap((m) =>
    Object.entries(shapeOf(m))
      .filter(([, s]) => core(s) instanceof z.ZodUnion)
      .map(([field]) => field),
  ),
);

/** "latency=200ms jitter=0 distribution=uniform" (the spec's durations are in ms) */
export function faultParams(spec: Record<string, unknown>): string {
  return Object.entries(spec)
    .filter(([k]) => k !== 'type' && k !== 'direction')
    .map(([k, v]) => `${k}=${typeof v === 'number' && DURATION_PARAMS.has(k) ? (v ? humanMs(v) : '0') : String(v)}`)
    .join(' ');
}

interface FaultRow {
  id: string;
  type: string;
  scope: string;
  spec: Record<string, unknown>;
  links?: string[];
  expiresAt?: string;
}

function faultTable(faults: FaultRow[], link?: string): string {
  return table(
    ['ID', 'TYPE', 'SCOPE', 'LINKS', 'PARAMS', 'UNTIL'],
    faults.map((f) => [
      f.id,
      f.type,
      f.scope,
      (f.links ?? (link ? [link] : [])).join(',') || '-',
      faultParams(f.spec) || '-',
      f.expiresAt ?? '-',
    ]),
  );
}

export function faultCommand(argv: string[]): Promise<number> {
  return runCtl('fault', FAULT_HELP, async () => {
    const { values, positionals } = parse(argv, {
      ...TARGET_FLAGS,
      ...Object.fromEntries(FAULT_FLAGS.map((f) => [f.flag, { type: 'string' as const }])),
    });
    const [verb, ...args] = positionals;
    if (values.help || verb === undefined) {
      process.stdout.write(FAULT_HELP + '\n');
      return values.help ? EXIT.ok : EXIT.usage;
    }
    const api = new Api(values);
    const enc = encodeURIComponent;
    const most = (n: number) => {
      if (args.length > n) throw new CtlUsage(`${verb}: expected at most ${n} argument(s), got ${args.join(' ')}`);
    };
    switch (verb) {
      case 'add': {
        const target = targetFromFlags(values);
        const [first, second, extra] = args;
        if (target ? first === undefined || second !== undefined : second === undefined || extra !== undefined)
          throw new CtlUsage(target ? 'add: expected TYPE after --target-…' : 'add: expected LINK TYPE');
        const spec = faultFromFlags(target ? first : second, values);
        const made = target
          ? await api.ok<FaultRow>('POST', '/faults', { target, fault: spec })
          : await api.ok<FaultRow>('POST', `/links/${enc(first)}/faults`, spec);
        if (values.json) printJson(made);
        else
          process.stdout.write(
            `added ${made.id}: ${made.type} ${made.scope} on ${(made.links ?? [first]).join(',')}${made.expiresAt ? ` until ${made.expiresAt}` : ''}\n`,
          );
        return EXIT.ok;
      }
      case 'list': {
        most(1);
        const faults = await api.ok<FaultRow[]>('GET', args[0] ? `/links/${enc(args[0])}/faults` : '/faults');
        if (values.json) printJson(faults);
        else process.stdout.write(faults.length ? faultTable(faults, args[0]) : 'no faults\n');
        return EXIT.ok;
      }
      case 'remove': {
        if (args.length !== 1) throw new CtlUsage('remove: expected one fault id');
        await api.ok('DELETE', `/faults/${enc(args[0])}`);
        if (values.json) printJson({ removed: args[0] });
        else process.stdout.write(`removed ${args[0]}\n`);
        return EXIT.ok;
      }
      case 'clear': {
        most(1);
        const r = await api.ok<{ removed: number }>('DELETE', args[0] ? `/links/${enc(args[0])}/faults` : '/faults');
        if (values.json) printJson(r);
        else process.stdout.write(`removed ${r.removed} fault(s)\n`);
        return EXIT.ok;
      }
      case 'reset': {
        most(0);
        const r = await api.ok<{ cleared: number }>('POST', '/reset');
        if (values.json) printJson(r);
        else process.stdout.write(`reset: removed ${r.cleared} fault(s)\n`);
        return EXIT.ok;
      }
    }
    throw new CtlUsage(`unknown action ${JSON.stringify(verb)}`, true);
  });
}
