// etcd-proxy's admin API with its exact texts (shared/etcd-proxy-compat.md): every answer is 200
// text/plain ending in "\n", errors included. One function answers for a link, so the standalone
// `etcd-proxy` command, the daemon's per-link admin servers and its /links/<name>/... routes stay
// identical. Parameters become a fault spec validated by the same schema as the JSON API; a schema
// error becomes the route's `wrong <param> form "..."` text.
import { Hono, type Context } from 'hono';
import type { Metrics } from '../metrics.js';
import type { Link } from '../proxy/link.js';
import { faultSpecSchema, type FaultScope, type FaultSpec, type FaultType } from '../schema/fault.js';
import { formatGoDuration, MAX_GO_DURATION_NS, parseGoDuration } from '../util/duration.js';
import { goQuote } from '../util/goquote.js';
import type { Logger } from '../util/log.js';
import { readGoForm as readRequestForm, type GoForm } from './goform.js';

export interface CompatTarget {
  link: Link;
  /** as printed in texts: "tcp://<from as given>" */
  from: string;
  to: string;
}

export function textResponse(c: Context, body: string): Response {
  // a fresh headers object each time: hono takes ownership of the one it is given
  return c.body(body + '\n', 200, { 'Content-Type': 'text/plain; charset=utf-8' });
}

/** Reads what ParseForm would see from a hono request (bounded by Go's 10 MiB form limit). */
export function readGoForm(c: Context): Promise<GoForm> {
  return readRequestForm(c.req.raw);
}

/**
 * The latency as set through a compat route, in exact nanoseconds: a spec keeps milliseconds (a float),
 * which cannot echo "1000h0m0.000000001s" back byte for byte.
 */
const exactLatency = new WeakMap<FaultSpec, bigint>();

/** The latency in force, in ns (0 when none). */
function currentLatency(link: Link, type: FaultType, scope: FaultScope): bigint {
  const f = link.findFault(type, scope);
  if (!f || !('latency' in f.spec)) return 0n;
  const exact = exactLatency.get(f.spec);
  if (exact !== undefined) return exact;
  const ns = BigInt(Math.round(f.spec.latency * 1e6));
  return ns > MAX_GO_DURATION_NS ? MAX_GO_DURATION_NS : ns;
}

/** Spec fields as the compat routes name them in their error texts. */
const FORM_NAMES: Record<string, string> = {
  latency: 'latency',
  jitter: 'random-variable',
  probability: 'probability',
  rate: 'rate',
};

/**
 * Validates a spec built from a form with the fault schema. Returns the spec, or the answer text for the
 * first issue: `wrong <param> form "<message>, got \"<raw value>\""`.
 */
function validated(input: Record<string, unknown>, raw: Record<string, string> = {}): FaultSpec | string {
  const r = faultSpecSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = String(issue.path[0] ?? '');
  const got = Object.hasOwn(raw, field) ? `, got ${JSON.stringify(raw[field])}` : '';
  return `wrong ${FORM_NAMES[field] ?? 'form'} form ${goQuote(issue.message + got)}`;
}

/** Parses latency and random-variable like the Go handlers (same error texts, same order). */
function parseLatencyForm(form: GoForm): { lat: bigint; rv: bigint } | string {
  if (form.error !== undefined) return `wrong form ${goQuote(form.error)}`;
  let lat: bigint;
  let rv: bigint;
  try {
    lat = parseGoDuration(form.get('latency'));
  } catch (e) {
    return `wrong latency form ${goQuote((e as Error).message)}`;
  }
  try {
    rv = parseGoDuration(form.get('random-variable'));
  } catch (e) {
    return `wrong random-variable form ${goQuote((e as Error).message)}`;
  }
  return { lat, rv };
}

/** Go's computeLatency bounds: |rv|, and rv > latency becomes latency/10. */
function effectiveJitter(lat: bigint, rv: bigint): bigint | string {
  let j = rv < 0n ? -rv : rv;
  if (j > lat) {
    // Go panics here for latency < 10ns (rand.Int63n(0)); we answer instead
    if (lat < 10n)
      return `wrong random-variable form ${goQuote(`random-variable ${formatGoDuration(rv)} is larger than a latency below 10ns (${formatGoDuration(lat)})`)}`;
    j = lat / 10n;
  }
  return j;
}

const nsToMs = (ns: bigint) => Number(ns) / 1e6;

function delayRoute(scope: 'tx' | 'rx' | 'accept', word: string) {
  const type: FaultType = scope === 'accept' ? 'accept-delay' : 'delay';
  return async (c: Context, t: CompatTarget): Promise<string> => {
    const { link } = t;
    switch (c.req.method) {
      case 'GET':
        return `current ${word} latency ${formatGoDuration(currentLatency(link, type, scope))}`;
      case 'PUT':
      case 'POST': {
        const form = await readGoForm(c);
        const parsed = parseLatencyForm(form);
        if (typeof parsed === 'string') return parsed;
        const { lat, rv } = parsed;
        if (lat > 0n) {
          const jitter = effectiveJitter(lat, rv);
          if (typeof jitter === 'string') return jitter;
          const fields = { latency: nsToMs(lat), jitter: nsToMs(jitter) };
          const spec = validated(
            scope === 'accept' ? { type: 'accept-delay', ...fields } : { type: 'delay', direction: scope, ...fields },
            { latency: form.get('latency'), jitter: form.get('random-variable') },
          );
          if (typeof spec === 'string') return spec;
          exactLatency.set(spec, lat);
          link.addFault(spec);
        }
        return `added ${word} latency ${formatGoDuration(lat)}±${formatGoDuration(rv)} (current latency ${formatGoDuration(currentLatency(link, type, scope))})`;
      }
      case 'DELETE': {
        const prev = currentLatency(link, type, scope);
        const f = link.findFault(type, scope);
        if (f) link.removeFault(f.id);
        return `removed ${scope === 'accept' ? 'accept ' : ''}latency ${formatGoDuration(prev)}`;
      }
      default:
        return unsupported(c);
    }
  };
}

function unsupported(c: Context): string {
  return `unsupported method ${goQuote(c.req.method)}`;
}

const arrow = (t: CompatTarget, scope: FaultScope) =>
  scope === 'rx' ? `[${t.from} <- ${t.to}]` : `[${t.from} -> ${t.to}]`;

/** PUT/POST sets, DELETE removes: pause, blackhole, accept-pause, refuse. */
function toggleRoute(
  type: 'pause' | 'blackhole' | 'accept-pause' | 'refuse',
  scope: FaultScope,
  on: string,
  off: string,
) {
  return async (c: Context, t: CompatTarget): Promise<string> => {
    const { link } = t;
    switch (c.req.method) {
      case 'PUT':
      case 'POST': {
        const spec = validated(
          type === 'pause' || type === 'blackhole'
            ? { type, direction: scope }
            : type === 'refuse'
              ? { type, mode: 'rst' }
              : { type },
        );
        if (typeof spec === 'string') return spec;
        link.addFault(spec);
        return `${on} ${arrow(t, scope)}`;
      }
      case 'DELETE': {
        const f = link.findFault(type, scope);
        if (f) link.removeFault(f.id);
        return `${off} ${arrow(t, scope)}`;
      }
      default:
        return unsupported(c);
    }
  };
}

/** Additive: a numeric parameter (probability or rate). */
function valueRoute(
  type: 'drop' | 'corrupt' | 'bandwidth',
  scope: 'tx' | 'rx',
  param: 'probability' | 'rate',
  texts: { on: (v: number) => string; off: string; current: (v: number | undefined) => string },
) {
  return async (c: Context, t: CompatTarget): Promise<string> => {
    const { link } = t;
    const current = () => {
      const f = link.findFault(type, scope);
      return f ? ((f.spec as Record<string, unknown>)[param] as number) : undefined;
    };
    switch (c.req.method) {
      case 'GET':
        return `${texts.current(current())} ${arrow(t, scope)}`;
      case 'PUT':
      case 'POST': {
        const form = await readGoForm(c);
        if (form.error !== undefined) return `wrong form ${goQuote(form.error)}`;
        const raw = form.get(param);
        const v = Number(raw);
        // the form gives text: only "is it a number" is decided here, the range by the fault schema
        if (raw.trim() === '' || Number.isNaN(v))
          return `wrong ${param} form ${goQuote(`expected a number, got ${JSON.stringify(raw)}`)}`;
        const spec = validated({ type, direction: scope, [param]: v }, { [param]: raw });
        if (typeof spec === 'string') return spec;
        link.addFault(spec);
        return `${texts.on(v)} ${arrow(t, scope)}`;
      }
      case 'DELETE': {
        const f = link.findFault(type, scope);
        if (f) link.removeFault(f.id);
        return `${texts.off} ${arrow(t, scope)}`;
      }
      default:
        return unsupported(c);
    }
  };
}

function oneShotRoute(run: (link: Link) => string) {
  return async (c: Context, t: CompatTarget): Promise<string> => {
    if (c.req.method !== 'PUT' && c.req.method !== 'POST') return unsupported(c);
    return `${run(t.link)} ${arrow(t, 'tx')}`;
  };
}

function dropTexts(verb: string) {
  const noun = verb === 'dropping' ? 'drop' : 'corrupt';
  return {
    on: (p: number) => `${verb} packets with probability ${p}`,
    off: `stopped ${verb} packets`,
    current: (p: number | undefined) => `current ${noun} probability ${p ?? 0}`,
  };
}
const bandwidthTexts = {
  on: (r: number) => `limited bandwidth to ${r} bytes/s`,
  off: 'unlimited bandwidth',
  current: (r: number | undefined) => `current bandwidth limit ${r === undefined ? 'none' : `${r} bytes/s`}`,
};

type Route = (c: Context, t: CompatTarget) => Promise<string>;

/** The Go tool's six routes, then our additive ones (names the Go tool never answered). */
export const compatRoutes: Record<string, Route> = {
  '/delay-tx': delayRoute('tx', 'send'),
  '/delay-rx': delayRoute('rx', 'receive'),
  '/pause-tx': toggleRoute('pause', 'tx', 'paused forwarding', 'unpaused forwarding'),
  '/pause-rx': toggleRoute('pause', 'rx', 'paused forwarding', 'unpaused forwarding'),
  '/blackhole-tx': toggleRoute('blackhole', 'tx', 'blackholed; dropping packets', 'unblackholed; restart forwarding'),
  '/blackhole-rx': toggleRoute('blackhole', 'rx', 'blackholed; dropping packets', 'unblackholed; restart forwarding'),
  // additive
  '/drop-tx': valueRoute('drop', 'tx', 'probability', dropTexts('dropping')),
  '/drop-rx': valueRoute('drop', 'rx', 'probability', dropTexts('dropping')),
  '/corrupt-tx': valueRoute('corrupt', 'tx', 'probability', dropTexts('corrupting')),
  '/corrupt-rx': valueRoute('corrupt', 'rx', 'probability', dropTexts('corrupting')),
  '/bandwidth-tx': valueRoute('bandwidth', 'tx', 'rate', bandwidthTexts),
  '/bandwidth-rx': valueRoute('bandwidth', 'rx', 'rate', bandwidthTexts),
  '/accept-delay': delayRoute('accept', 'accept'),
  '/accept-pause': toggleRoute(
    'accept-pause',
    'accept',
    'paused accepting connections',
    'unpaused accepting connections',
  ),
  '/refuse': toggleRoute('refuse', 'link', 'refusing connections', 'accepting connections'),
  '/reset': oneShotRoute((link) => `reset ${link.resetConnections()} connections`),
  '/reset-listener': oneShotRoute((link) => {
    const spec = validated({ type: 'reset-listener' });
    if (typeof spec === 'string') return spec;
    link.addFault(spec);
    return 'reset listener';
  }),
};

/**
 * The last resort of every compat answer: whatever failed is logged and answered as 200 text, as the
 * Go tool answers everything (a client never sees a 5xx from an etcd-proxy admin API).
 */
function lastResort(c: Context, err: unknown, logger: Logger): Response {
  const message = err instanceof Error ? err.message : String(err);
  logger.error({ err, method: c.req.method, path: c.req.path }, 'etcd-proxy admin handler failed');
  return textResponse(c, `internal error ${goQuote(message)}`);
}

/** Answers one compat route for a link (always 200 text), or undefined when `path` is not one. */
export async function answerCompat(c: Context, path: string, target: CompatTarget): Promise<Response | undefined> {
  const route = Object.hasOwn(compatRoutes, path) ? compatRoutes[path] : undefined;
  if (!route) return undefined;
  try {
    return textResponse(c, await route(c, target));
  } catch (err) {
    return lastResort(c, err, target.link.logger);
  }
}

/**
 * An etcd-proxy admin app (the standalone command and each link's admin server): exact paths, anything
 * else answers "proxying [...]"; errors are logged (to `logger`, else the link's) and answered 200 text.
 */
export function compatApp(link: Link, opts: { from: string; to: string; metrics?: Metrics; logger?: Logger }): Hono {
  const target: CompatTarget = { link, from: `tcp://${opts.from}`, to: `tcp://${opts.to}` };
  const logger = opts.logger ?? link.logger;
  const app = new Hono();
  app.onError((err, c) => lastResort(c, err, logger));
  app.all('*', async (c) => {
    const path = c.req.path;
    if (path === '/metrics' && c.req.method === 'GET' && opts.metrics) {
      return c.body(await opts.metrics.registry.metrics(), 200, { 'Content-Type': opts.metrics.registry.contentType });
    }
    return (await answerCompat(c, path, target)) ?? textResponse(c, `proxying [${target.from} -> ${target.to}]`);
  });
  return app;
}
