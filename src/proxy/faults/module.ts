// What a fault module declares: its type, scope, parameters (zod), a description, how it installs into
// a link's live fault state (or, for a one-shot fault, what it does once) and, where etcd-proxy has one,
// its compat routes. The registry (registry.ts) builds the fault schema, the docs and the API from these.
import { z } from 'zod';
import { faultDurationInput } from '../../schema/duration.js';
import type { LiveFaults } from './live.js';

export type Direction = 'tx' | 'rx';
/** Where a fault applies: a data direction, the accept path, or the whole link. */
export type FaultScope = Direction | 'accept' | 'link';
/** What a module applies to: one direction (the spec names it), the accept path, or the link. */
export type ModuleScope = 'direction' | 'accept' | 'link';

const direction = z.enum(['tx', 'rx']);
/** Go duration; the fault removes itself after this long. */
const duration = faultDurationInput.optional();

type BaseShape<T extends string, S extends ModuleScope> = S extends 'direction'
  ? { type: z.ZodLiteral<T>; direction: typeof direction; duration: typeof duration }
  : { type: z.ZodLiteral<T>; duration: typeof duration };

/** A module's whole spec schema: type, direction (direction faults), duration, then its parameters. */
export type FaultObject<T extends string, S extends ModuleScope, P extends z.ZodRawShape> = z.ZodObject<
  BaseShape<T, S> & P,
  'strict'
>;
export type SpecOf<T extends string, S extends ModuleScope, P extends z.ZodRawShape> = z.output<FaultObject<T, S, P>>;

// Compat routes: the etcd-proxy admin paths a module answers (src/api/compat.ts reads the forms and
// answers; the module maps the form to a spec and gives the Go tool's texts). The texts of `toggle`,
// `value` and `once` routes get the " [from -> to]" arrow appended, `<-` for an rx route.
interface RouteBase {
  path: string;
  /** the scope of the fault the route sets, removes and shows */
  scope: FaultScope;
}
/** latency + random-variable (Go durations, Go's computeLatency); GET shows the latency in force. */
export interface LatencyRoute extends RouteBase {
  kind: 'latency';
  spec(f: { latency: number; jitter: number }): Record<string, unknown>;
  current(latency: string): string;
  added(latency: string, randomVariable: string, current: string): string;
  removed(previous: string): string;
}
/** PUT/POST sets, DELETE removes; no parameters. */
export interface ToggleRoute extends RouteBase {
  kind: 'toggle';
  spec(): Record<string, unknown>;
  on: string;
  off: string;
}
/** One numeric form parameter (named as the spec field). */
export interface ValueRoute extends RouteBase {
  kind: 'value';
  param: string;
  spec(value: number): Record<string, unknown>;
  on(value: number): string;
  off: string;
  /** GET: the value in force, undefined when the fault is not active */
  current(value: number | undefined): string;
}
/** PUT/POST runs a one-shot fault. */
export interface OnceRoute extends RouteBase {
  kind: 'once';
  spec(): Record<string, unknown>;
  /** the answer, given how many connections the fault acted on */
  done(affected: number): string;
}
export type CompatRoute = LatencyRoute | ToggleRoute | ValueRoute | OnceRoute;

interface Definition<T extends string, S extends ModuleScope, P extends z.ZodRawShape> {
  type: T;
  scope: S;
  /** one line, for the docs and the OpenAPI document */
  description: string;
  params: P;
  /** a lasting fault: sets the live state and returns what clears it */
  install?: (live: LiveFaults, spec: SpecOf<T, S, P>) => () => void;
  /** a one-shot fault: acts once, nothing stays; returns how many connections it acted on */
  once?: (live: LiveFaults, spec: SpecOf<T, S, P>) => number;
  compat?: readonly CompatRoute[];
}

export interface FaultModule<T extends string, S extends ModuleScope, P extends z.ZodRawShape> extends Omit<
  Definition<T, S, P>,
  'params'
> {
  /** the parameters alone (without type, direction and duration) */
  params: z.ZodObject<P, 'strict'>;
  /** the whole spec: type, direction (direction faults), duration, parameters */
  schema: FaultObject<T, S, P>;
}

/** Declares a fault module; exactly one of `install` and `once`. */
export function defineFault<T extends string, S extends ModuleScope, P extends z.ZodRawShape>(
  def: Definition<T, S, P>,
): FaultModule<T, S, P> {
  if (!def.install === !def.once) throw new Error(`fault ${def.type}: give exactly one of install and once`);
  // key order = the order zod reports issues in (the compat texts show the first)
  const shape = {
    type: z.literal(def.type),
    ...(def.scope === 'direction' ? { direction } : {}),
    duration,
    ...def.params,
  };
  return {
    ...def,
    params: z.object(def.params).strict(),
    schema: z.object(shape).strict() as unknown as FaultObject<T, S, P>,
  };
}

/** A route per direction: `/<type>-tx` and `/<type>-rx`. */
export function perDirection<R extends CompatRoute>(make: (d: Direction) => R): R[] {
  return [make('tx'), make('rx')];
}

// parameters shared by several faults: one definition, one set of bounds and messages
const PROBABILITY = 'expected a number in (0, 1]';
export const probability = z.number().gt(0, PROBABILITY).max(1, PROBABILITY);
