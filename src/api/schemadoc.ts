// JSON Schemas of the request bodies, generated from the zod schemas the routes validate with
// (zod-to-json-schema): the OpenAPI document's request components cannot drift from what is accepted.
import { z } from 'zod';
import { ignoreOverride, zodToJsonSchema } from 'zod-to-json-schema';
import { faultDurationInput, durationInput, latencyInput } from '../schema/duration.js';
// the one import of the fault union (it moves to the fault registry: change this line only)
import { faultSpecSchema } from '../proxy/faults/registry.js';
import { linkCreateSchema } from '../schema/link.js';
import { loadProfileSchema } from '../schema/load.js';
import { hostPortSchema } from '../schema/net.js';
import { faultTargetSchema } from '../schema/target.js';
import { partitionSpecSchema } from '../schema/partition.js';
import { scenarioSchema } from '../scenario/index.js';
import { loadStartSchema, memberActionSchema, rateSchema, targetedFaultSchema } from './schemas.js';

export type JsonSchema = Record<string, unknown>;

/** The fault union's variants (a branded discriminated union on `type`), each one object schema. */
function faultVariants(): z.AnyZodObject[] {
  let s: z.ZodTypeAny = faultSpecSchema;
  while (!(s instanceof z.ZodDiscriminatedUnion)) {
    if (s instanceof z.ZodBranded) s = s.unwrap();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else throw new Error('the fault schema is not a discriminated union');
  }
  return [...(s.options as z.AnyZodObject[])];
}

/** "accept-delay" → "FaultSpecAcceptDelay" */
export const faultComponent = (type: string): string =>
  'FaultSpec' + type.replace(/(^|-)([a-z])/g, (_, _d: string, ch: string) => ch.toUpperCase());

const faultType = (variant: z.AnyZodObject): string => (variant.shape.type as z.ZodLiteral<string>).value;

/**
 * Everything a request body is made of, by component name: shared parts (durations, host:port) become
 * $refs wherever a schema uses them. Their refinements (parsed bounds) cannot be JSON Schema: the
 * descriptions below say them.
 */
function requestComponents(): Record<string, { schema: z.ZodTypeAny; description?: string }> {
  const variants = Object.fromEntries(faultVariants().map((v) => [faultComponent(faultType(v)), { schema: v }]));
  return {
    Duration: {
      schema: durationInput,
      description: 'a Go duration ("250ms", "1h30m") or a number of milliseconds; 0 to 168h',
    },
    Latency: {
      schema: latencyInput,
      description:
        "a Go duration or milliseconds; 0 up to Go's largest duration (2562047h47m16.854775807s), as etcd-proxy accepts",
    },
    FaultDuration: {
      schema: faultDurationInput,
      description: 'how long the fault stays (it then removes itself): 1ms to 168h; omit it for no expiry',
    },
    HostPort: { schema: hostPortSchema, description: 'host:port (a listen port 0 takes any free port)' },
    LinkCreate: { schema: linkCreateSchema },
    ...variants,
    LoadProfile: {
      schema: loadProfileSchema,
      description: "fields a start omits come from the daemon's config (its load section), then these defaults",
    },
    // as documented: the profile is a LoadProfile (the route checks it once merged over the daemon's default)
    LoadStart: { schema: loadStartSchema.extend({ profile: loadProfileSchema.optional() }) },
    Rate: { schema: rateSchema },
    FaultTarget: { schema: faultTargetSchema },
    TargetedFaultCreate: { schema: targetedFaultSchema },
    PartitionCreate: { schema: partitionSpecSchema },
    MemberAction: { schema: memberActionSchema },
    Scenario: {
      schema: scenarioSchema,
      description: "a scenario file's document (see the README's Scenarios section)",
    },
  };
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The request components as JSON Schema (OpenAPI 3.1 dialect), plus FaultSpec: oneOf its variants by `type`. */
export function requestSchemas(): Record<string, JsonSchema> {
  const table = requestComponents();
  const byDef = new Map<unknown, string>(Object.entries(table).map(([name, c]) => [c.schema._def, name]));
  byDef.set(faultSpecSchema._def, 'FaultSpec'); // built below, as oneOf its variants
  const out: Record<string, JsonSchema> = {};
  for (const [name, c] of Object.entries(table)) {
    const schema = zodToJsonSchema(c.schema, {
      target: 'jsonSchema7',
      $refStrategy: 'none',
      effectStrategy: 'input',
      // a shared part used inside another schema is a $ref to its own component
      override: (def, refs) => {
        const shared = byDef.get(def);
        return shared && refs.currentPath.length > 1 ? ref(shared) : ignoreOverride;
      },
    }) as JsonSchema;
    delete schema.$schema;
    out[name] = c.description ? { description: c.description, ...schema } : schema;
  }
  const types = faultVariants().map(faultType);
  out.FaultSpec = {
    description: 'a fault to apply, by type; any may carry duration (it then removes itself)',
    oneOf: types.map((t) => ref(faultComponent(t))),
    discriminator: {
      propertyName: 'type',
      mapping: Object.fromEntries(types.map((t) => [t, ref(faultComponent(t)).$ref])),
    },
  };
  return out;
}
