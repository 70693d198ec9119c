// A small parser with Go's `flag` package behaviour (-x / --x, -x=v / -x v, bools only as -b or
// -b=value, parsing stops at the first non-flag argument) and its error and usage texts, so the
// etcd-proxy command accepts exactly what the Go tool accepted.

export type FlagType = 'string' | 'int' | 'bool';

export interface FlagDef {
  name: string;
  type: FlagType;
  default: string | number | boolean;
  usage: string;
}

export type FlagValues = Record<string, string | number | boolean>;

export class FlagError extends Error {
  /** true for -h/-help: print usage and exit 0 */
  constructor(
    message: string,
    readonly help = false,
  ) {
    super(message);
  }
}

function parseBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** strconv.ParseInt(s, 0, 64) for the values a port flag can take */
function parseInt64(s: string): number | 'syntax' | 'range' {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$/.exec(s);
  if (!m || /__|_$|^[+-]?_/.test(s)) return 'syntax';
  const body = m[2].replace(/_/g, '');
  let v: bigint;
  if (/^0[xXoObB]/.test(body)) v = BigInt(body.toLowerCase());
  else if (body.length > 1 && body[0] === '0') v = BigInt('0o' + body.slice(1));
  else v = BigInt(body);
  if (m[1] === '-') v = -v;
  if (v > 9223372036854775807n || v < -9223372036854775808n) return 'range';
  return Number(v);
}

export function parseGoFlags(argv: string[], defs: FlagDef[]): { values: FlagValues; args: string[] } {
  const byName = new Map(defs.map((d) => [d.name, d]));
  const values: FlagValues = Object.fromEntries(defs.map((d) => [d.name, d.default]));
  let i = 0;
  while (i < argv.length) {
    const a = argv[i];
    if (a.length < 2 || a[0] !== '-') break;
    let dashes = 1;
    if (a[1] === '-') {
      dashes = 2;
      if (a.length === 2) {
        i++;
        break; // "--" terminates the flags
      }
    }
    let name = a.slice(dashes);
    if (name.length === 0 || name[0] === '-' || name[0] === '=') throw new FlagError(`bad flag syntax: ${a}`);
    i++;
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const def = byName.get(name);
    if (!def) {
      if (name === 'help' || name === 'h') throw new FlagError('flag: help requested', true);
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
    if (def.type === 'bool') {
      if (value === undefined) values[name] = true;
      else {
        const b = parseBool(value);
        if (b === undefined)
          throw new FlagError(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`);
        values[name] = b;
      }
      continue;
    }
    if (value === undefined) {
      if (i >= argv.length) throw new FlagError(`flag needs an argument: -${name}`);
      value = argv[i++];
    }
    if (def.type === 'int') {
      const n = parseInt64(value);
      if (typeof n !== 'number') {
        throw new FlagError(
          `invalid value ${JSON.stringify(value)} for flag -${name}: ${n === 'range' ? 'value out of range' : 'parse error'}`,
        );
      }
      values[name] = n;
    } else {
      values[name] = value;
    }
  }
  return { values, args: argv.slice(i) };
}

/** flag.PrintDefaults: sorted by name, usage on an indented line, non-zero defaults shown. */
export function formatDefaults(defs: FlagDef[]): string {
  let out = '';
  for (const d of [...defs].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    out += `  -${d.name}`;
    if (d.type !== 'bool') out += ` ${d.type}`;
    out += `\n    \t${d.usage.replace(/\n/g, '\n    \t')}`;
    const zero = d.type === 'bool' ? d.default === false : d.type === 'int' ? d.default === 0 : d.default === '';
    if (!zero) out += d.type === 'string' ? ` (default ${JSON.stringify(d.default)})` : ` (default ${d.default})`;
    out += '\n';
  }
  return out;
}
