// The OpenAPI document's request schemas are generated from the zod schemas the routes validate with:
// for sample bodies, valid and invalid, the generated JSON Schema and the zod schema must agree. JSON
// Schema cannot say what zod's refinements say (a Go duration's syntax and bounds, host:port): those
// samples are listed as accepted by the document and refused by zod, so the looseness is known.
// The JSON Schema check is a small one written here for the keywords the generator emits (an unknown
// keyword fails the test), no validator package.
import t from 'tap';
import type { z } from 'zod';
import { openapiDocument } from '../src/api/openapi.js';
import { loadStartBody, rateSchema } from '../src/api/schemas.js';
import { faultSpecSchema } from '../src/proxy/faults/registry.js';
import { linkCreateSchema } from '../src/schema/link.js';
import { loadProfileSchema } from '../src/schema/load.js';

type Schema = Record<string, unknown>;
const doc = openapiDocument() as { components: { schemas: Record<string, Schema> }; paths: Record<string, unknown> };
const components = doc.components.schemas;

const IGNORED = new Set(['description', 'default', 'discriminator', '$schema']);

/** Whether `v` is valid against `s` (the subset of JSON Schema 2020-12 the generator uses). */
function valid(s: Schema, v: unknown): boolean {
  for (const [k, arg] of Object.entries(s)) {
    if (IGNORED.has(k)) continue;
    if (!keyword(k, arg, s, v)) return false;
  }
  return true;
}

function typeOf(v: unknown): string[] {
  if (v === null) return ['null'];
  if (Array.isArray(v)) return ['array'];
  if (typeof v === 'number') return Number.isInteger(v) ? ['number', 'integer'] : ['number'];
  return [typeof v];
}

function keyword(k: string, arg: unknown, s: Schema, v: unknown): boolean {
  const num = typeof v === 'number';
  const str = typeof v === 'string';
  const obj = typeof v === 'object' && v !== null && !Array.isArray(v);
  switch (k) {
    case '$ref': {
      const name = String(arg).replace('#/components/schemas/', '');
      if (!components[name]) throw new Error(`dangling $ref ${String(arg)}`);
      return valid(components[name], v);
    }
    case 'type':
      return (Array.isArray(arg) ? arg : [arg]).some((ty) => typeOf(v).includes(ty as string));
    case 'enum':
      return (arg as unknown[]).includes(v);
    case 'const':
      return v === arg;
    case 'oneOf':
      return (arg as Schema[]).filter((x) => valid(x, v)).length === 1;
    case 'anyOf':
      return (arg as Schema[]).some((x) => valid(x, v));
    case 'minimum':
      return !num || v >= (arg as number);
    case 'maximum':
      return !num || v <= (arg as number);
    case 'exclusiveMinimum':
      return !num || v > (arg as number);
    case 'exclusiveMaximum':
      return !num || v < (arg as number);
    case 'minLength':
      return !str || [...v].length >= (arg as number);
    case 'maxLength':
      return !str || [...v].length <= (arg as number);
    case 'pattern':
      return !str || new RegExp(arg as string, 'u').test(v);
    case 'minItems':
      return !Array.isArray(v) || v.length >= (arg as number);
    case 'items':
      return !Array.isArray(v) || v.every((x) => valid(arg as Schema, x));
    case 'required':
      return !obj || (arg as string[]).every((p) => Object.hasOwn(v, p));
    case 'properties':
      return (
        !obj ||
        Object.entries(arg as Record<string, Schema>).every(
          ([p, ps]) => !Object.hasOwn(v, p) || valid(ps, v[p as never]),
        )
      );
    case 'additionalProperties': {
      if (!obj) return true;
      const known = Object.keys((s.properties as object | undefined) ?? {});
      const extra = Object.keys(v).filter((p) => !known.includes(p));
      return arg === false ? extra.length === 0 : extra.every((p) => valid(arg as Schema, v[p as never]));
    }
    default:
      throw new Error(`the check does not know the keyword ${k}`);
  }
}

const zodOk = (schema: z.ZodTypeAny, v: unknown) => schema.safeParse(v).success;

// [component, the schema the route validates with, samples: [body, zod accepts, the document accepts]]
const cases: [string, z.ZodTypeAny, [unknown, boolean, boolean][]][] = [
  [
    'LinkCreate',
    linkCreateSchema,
    [
      [{ name: 'a', listen: '127.0.0.1:0', upstream: '127.0.0.1:2379' }, true, true],
      [{ name: 'm1-client', listen: ':0', upstream: 'localhost:1', kind: 'client', member: 'm1' }, true, true],
      [{ name: 'a', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', compatAdmin: '127.0.0.1:0' }, true, true],
      [{ name: 'a', listen: '127.0.0.1:0' }, false, false],
      [{ name: 'bad name!', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }, false, false],
      [{ name: 'a', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', extra: 1 }, false, false],
      [{ name: 'a', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', kind: 'server' }, false, false],
      [{ name: 'a', listen: 7, upstream: '127.0.0.1:1' }, false, false],
      [{ name: 'a', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', member: 'm'.repeat(65) }, false, false],
      [[], false, false],
      // host:port is a refinement
      [{ name: 'a', listen: 'nowhere', upstream: '127.0.0.1:1' }, false, true],
      [{ name: 'a', listen: '127.0.0.1:99999', upstream: '127.0.0.1:1' }, false, true],
    ],
  ],
  [
    'FaultSpec',
    faultSpecSchema,
    [
      [{ type: 'delay', direction: 'tx', latency: '120ms' }, true, true],
      [
        { type: 'delay', direction: 'rx', latency: 5, jitter: '1ms', distribution: 'pareto', duration: '1h' },
        true,
        true,
      ],
      [{ type: 'pause', direction: 'rx' }, true, true],
      [{ type: 'blackhole', direction: 'tx', duration: 1000 }, true, true],
      [{ type: 'drop', direction: 'tx', probability: 0.5 }, true, true],
      [{ type: 'corrupt', direction: 'rx', probability: 1 }, true, true],
      [{ type: 'bandwidth', direction: 'tx', rate: 1024 }, true, true],
      [{ type: 'reset' }, true, true],
      [{ type: 'refuse', mode: 'close' }, true, true],
      [{ type: 'accept-delay', latency: '1s' }, true, true],
      [{ type: 'accept-pause' }, true, true],
      [{ type: 'reset-listener' }, true, true],
      [{ type: 'teleport' }, false, false],
      [{ type: 'pause' }, false, false],
      [{ type: 'pause', direction: 'up' }, false, false],
      [{ type: 'pause', direction: 'tx', bogus: 1 }, false, false],
      [{ type: 'drop', direction: 'tx', probability: 0 }, false, false],
      [{ type: 'drop', direction: 'tx', probability: 1.5 }, false, false],
      [{ type: 'drop', direction: 'tx', probability: '0.5' }, false, false],
      [{ type: 'bandwidth', direction: 'tx', rate: 0 }, false, false],
      [{ type: 'bandwidth', direction: 'tx', rate: 1.5 }, false, false],
      [{ type: 'bandwidth', direction: 'tx', rate: 2e10 }, false, false],
      [{ type: 'refuse', mode: 'fin' }, false, false],
      [{ type: 'delay', direction: 'tx' }, false, false],
      [{ type: 'delay', direction: 'tx', latency: true }, false, false],
      [{ type: 'reset', direction: 'tx' }, false, false],
      [null, false, false],
      ['pause', false, false],
      // a duration's syntax and bounds are refinements
      [{ type: 'delay', direction: 'tx', latency: '5' }, false, true],
      [{ type: 'delay', direction: 'tx', latency: 1e300 }, false, true],
      [{ type: 'pause', direction: 'tx', duration: 0 }, false, true],
    ],
  ],
  [
    'LoadProfile',
    loadProfileSchema,
    [
      [{}, true, true],
      [
        { rate: 10, watchers: 0, keys: 1, connections: 2, valueSize: 49, watchMode: 'prefix', prefix: '/x' },
        true,
        true,
      ],
      [
        { duration: '3s', putTimeout: 200, settle: '1s', stallTimeout: '100ms', interval: '1s', maxInFlight: 5 },
        true,
        true,
      ],
      [{ rate: -5 }, false, false],
      [{ rate: 2e6 }, false, false],
      [{ watchers: 1.5 }, false, false],
      [{ connections: 0 }, false, false],
      [{ valueSize: 48 }, false, false],
      [{ watchMode: 'range' }, false, false],
      [{ prefix: 'has space' }, false, false],
      [{ prefix: '' }, false, false],
      [{ bogus: 1 }, false, false],
      [{ settle: true }, false, false],
      [{ settle: '10' }, false, true],
      [{ interval: '50ms' }, false, true],
      [{ putTimeout: 0 }, false, true],
    ],
  ],
  [
    'LoadStart',
    // the route's own validator, over no default profile
    loadStartBody(() => undefined),
    [
      [{}, true, true],
      [{ profile: { rate: 10 }, endpoints: ['127.0.0.1:2379'], replace: true }, true, true],
      [{ replace: 'yes' }, false, false],
      [{ endpoints: [] }, false, false],
      [{ endpoints: '127.0.0.1:1' }, false, false],
      [{ profile: { rate: -5 } }, false, false],
      [{ profile: { bogus: 1 } }, false, false],
      [{ profile: [] }, false, false],
      [{ extra: 1 }, false, false],
      [{ endpoints: ['x'] }, false, true],
    ],
  ],
  [
    'Rate',
    rateSchema,
    [
      [{ rate: 0 }, true, true],
      [{ rate: 12.5 }, true, true],
      [{ rate: -1 }, false, false],
      [{ rate: 'x' }, false, false],
      [{ rate: 1e7 }, false, false],
      [{}, false, false],
      [{ rate: 1, more: 2 }, false, false],
    ],
  ],
];

t.test('sample bodies: the generated JSON Schema and the zod schema agree', async (t) => {
  for (const [name, schema, samples] of cases) {
    t.ok(components[name], `${name} is a component`);
    for (const [body, zod, json] of samples) {
      t.equal(zodOk(schema, body), zod, `${name} ${JSON.stringify(body)}: zod ${zod ? 'accepts' : 'refuses'}`);
      t.equal(
        valid(components[name], body),
        json,
        `${name} ${JSON.stringify(body)}: the document ${json ? 'accepts' : 'refuses'}`,
      );
    }
  }
});

t.test('every fault type is one variant of FaultSpec, and every request body names a component', async (t) => {
  const fs = components.FaultSpec as { oneOf: { $ref: string }[]; discriminator: { mapping: Record<string, string> } };
  const types = faultSpecSchema.unwrap().options.map((o) => o.shape.type.value);
  t.same(Object.keys(fs.discriminator.mapping).sort(), [...types].sort());
  t.equal(fs.oneOf.length, types.length);
  for (const [type, target] of Object.entries(fs.discriminator.mapping)) {
    const variant = components[target.replace('#/components/schemas/', '')];
    t.ok(variant, `${type} has its component`);
    t.same(
      (variant.properties as Record<string, unknown>).type,
      { type: 'string', const: type },
      `${type}: its variant`,
    );
  }
  const bodies = JSON.stringify(doc.paths).match(/#\/components\/schemas\/\w+/g) ?? [];
  for (const r of new Set(bodies)) t.ok(components[r.replace('#/components/schemas/', '')], `${r} resolves`);
});
