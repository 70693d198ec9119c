// The fault registry: every fault module, in pipe order (stages of one phase run in this order). The
// one fault schema is built from it: API bodies, the etcd-proxy compat routes and config files parse
// into a FaultSpec here; the proxy engine takes nothing else. Adding a fault: one module file, one line
// in `faultModules`.
import { z } from 'zod';
import { acceptDelay } from './accept-delay.js';
import { acceptPause } from './accept-pause.js';
import { bandwidth } from './bandwidth.js';
import { blackhole } from './blackhole.js';
import { corrupt } from './corrupt.js';
import { delay } from './delay.js';
import { drop } from './drop.js';
import type { LiveFaults } from './live.js';
import type { CompatRoute, FaultScope, ModuleScope } from './module.js';
import { pause } from './pause.js';
import { refuse } from './refuse.js';
import { reset } from './reset.js';
import { resetListener } from './reset-listener.js';
import { slice } from './slice.js';

export type { CompatRoute, Direction, FaultScope, ModuleScope } from './module.js';
export { MAX_RATE } from './bandwidth.js';

/** Every fault type; the order is the pipe's (within a phase) and the schema's. */
export const faultModules = [
  delay,
  pause,
  blackhole,
  drop,
  corrupt,
  bandwidth,
  reset,
  refuse,
  acceptDelay,
  acceptPause,
  resetListener,
  slice,
] as const;

type SchemasOf<M> = M extends readonly [{ schema: infer S }, ...infer Rest] ? [S, ...SchemasOf<Rest>] : [];
type Schemas = SchemasOf<typeof faultModules>;

/**
 * The one fault schema. Its output is branded: Link.addFault takes nothing else, so raw input cannot
 * reach the engine without passing through here.
 */
export const faultSpecSchema = z
  .discriminatedUnion('type', faultModules.map((m) => m.schema) as unknown as Schemas)
  .brand<'FaultSpec'>();

export type FaultSpecInput = z.input<typeof faultSpecSchema>;
/** A validated fault spec (durations in milliseconds); only faultSpecSchema makes one. */
export type FaultSpec = z.output<typeof faultSpecSchema>;
export type FaultType = FaultSpec['type'];

/** Validates a fault spec; throws the ZodError (field paths) when it is invalid. */
export function parseFaultSpec(input: unknown): FaultSpec {
  return faultSpecSchema.parse(input);
}

/** A module as the engine drives it, for a spec of its own type. */
export interface FaultHandler {
  readonly type: FaultType;
  readonly scope: ModuleScope;
  install?(live: LiveFaults, spec: FaultSpec): () => void;
  once?(live: LiveFaults, spec: FaultSpec): number;
}

const handlers = new Map<string, FaultHandler>(
  // each module is only ever handed specs of its own type (looked up by spec.type)
  faultModules.map((m) => [m.type, m as unknown as FaultHandler]),
);

export function faultHandler(type: FaultType): FaultHandler {
  const h = handlers.get(type);
  if (!h) throw new Error(`no fault module for ${JSON.stringify(type)}`);
  return h;
}

/** Fault types in pipe order. */
export const faultTypes: readonly FaultType[] = faultModules.map((m) => m.type);

/** Where a spec applies: its direction, the accept path, or the link. */
export function faultScope(spec: FaultSpec): FaultScope {
  if ('direction' in spec) return spec.direction;
  return faultHandler(spec.type).scope as 'accept' | 'link';
}

/** Every etcd-proxy compat route the modules declare, by path, with the fault type it acts on. */
export const compatRouteTable: ReadonlyMap<string, { type: FaultType; route: CompatRoute }> = new Map(
  faultModules.flatMap((m) => (m.compat ?? []).map((route) => [route.path, { type: m.type, route }] as const)),
);
