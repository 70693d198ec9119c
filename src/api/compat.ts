// etcd-proxy's admin API with its exact texts (shared/etcd-proxy-compat.md): every answer is 200
// text/plain ending in "\n", errors included. One function answers for a link, so the standalone
// `etcd-proxy` command and the daemon's /links/<name>/... routes stay identical.
import { Hono, type Context } from 'hono';
import type { Metrics } from '../metrics.js';
import type { Link } from '../proxy/link.js';
import type { FaultScope, FaultType } from '../proxy/types.js';
import { formatGoDuration, parseGoDuration } from '../util/duration.js';
import { goQuote } from '../util/goquote.js';
import { parseGoForm, type GoForm } from './goform.js';

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

/** Reads what ParseForm would see from a hono request. */
export async function readGoForm(c: Context): Promise<GoForm> {
  const method = c.req.method;
  const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? await c.req.text() : '';
  const url = c.req.url;
  const q = url.indexOf('?');
  return parseGoForm(method, c.req.header('content-type'), body, q < 0 ? '' : url.slice(q + 1));
}

function currentMs(link: Link, type: FaultType, scope: FaultScope): number {
  const f = link.findFault(type, scope);
  return f && 'latency' in f.spec ? f.spec.latency : 0;
}

const fmtMs = (ms: number) => formatGoDuration(BigInt(Math.round(ms * 1e6)));

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
    if (lat < 10n) return `wrong random-variable form ${goQuote(`random-variable ${formatGoDuration(rv)} is larger than a latency below 10ns (${formatGoDuration(lat)})`)}`;
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
        return `current ${word} latency ${fmtMs(currentMs(link, type, scope))}`;
      case 'PUT':
      case 'POST': {
        const parsed = parseLatencyForm(await readGoForm(c));
        if (typeof parsed === 'string') return parsed;
        const { lat, rv } = parsed;
        if (lat > 0n) {
          const jitter = effectiveJitter(lat, rv);
          if (typeof jitter === 'string') return jitter;
          if (scope === 'accept') link.addFault({ type: 'accept-delay', latency: nsToMs(lat), jitter: nsToMs(jitter) });
          else link.addFault({ type: 'delay', direction: scope, latency: nsToMs(lat), jitter: nsToMs(jitter) });
        }
        return `added ${word} latency ${formatGoDuration(lat)}±${formatGoDuration(rv)} (current latency ${fmtMs(currentMs(link, type, scope))})`;
      }
      case 'DELETE': {
        const prev = currentMs(link, type, scope);
        const f = link.findFault(type, scope);
        if (f) link.removeFault(f.id);
        return `removed ${scope === 'accept' ? 'accept ' : ''}latency ${fmtMs(prev)}`;
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
function toggleRoute(type: 'pause' | 'blackhole' | 'accept-pause' | 'refuse', scope: FaultScope, on: string, off: string) {
  return async (c: Context, t: CompatTarget): Promise<string> => {
    const { link } = t;
    switch (c.req.method) {
      case 'PUT':
      case 'POST':
        if (type === 'pause' || type === 'blackhole') link.addFault({ type, direction: scope as 'tx' | 'rx' });
        else if (type === 'refuse') link.addFault({ type, mode: 'rst' });
        else link.addFault({ type });
        return `${on} ${arrow(t, scope)}`;
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
function valueRoute(type: 'drop' | 'corrupt' | 'bandwidth', scope: 'tx' | 'rx', param: 'probability' | 'rate', texts: { on: (v: number) => string; off: string; current: (v: number | undefined) => string }) {
  return async (c: Context, t: CompatTarget): Promise<string> => {
    const { link } = t;
    const current = () => {
      const f = link.findFault(type, scope);
      return f ? (f.spec as Record<string, unknown>)[param] as number : undefined;
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
        const ok = raw.trim() !== '' && Number.isFinite(v) && (param === 'rate' ? Number.isInteger(v) && v > 0 : v > 0 && v <= 1);
        if (!ok) {
          const expected = param === 'rate' ? 'a whole number of bytes per second > 0' : 'a number in (0, 1]';
          return `wrong ${param} form ${goQuote(`expected ${expected}, got ${JSON.stringify(raw)}`)}`;
        }
        if (type === 'bandwidth') link.addFault({ type, direction: scope, rate: v });
        else link.addFault({ type, direction: scope, probability: v });
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
  '/accept-pause': toggleRoute('accept-pause', 'accept', 'paused accepting connections', 'unpaused accepting connections'),
  '/refuse': toggleRoute('refuse', 'link', 'refusing connections', 'accepting connections'),
  '/reset': oneShotRoute((link) => `reset ${link.resetConnections()} connections`),
  '/reset-listener': oneShotRoute((link) => {
    link.addFault({ type: 'reset-listener' });
    return 'reset listener';
  }),
};

/** Answers one compat route for a link, or undefined when `path` is not one. */
export async function answerCompat(c: Context, path: string, target: CompatTarget): Promise<Response | undefined> {
  const route = Object.hasOwn(compatRoutes, path) ? compatRoutes[path] : undefined;
  if (!route) return undefined;
  return textResponse(c, await route(c, target));
}

/** The standalone etcd-proxy admin app: exact paths, anything else answers "proxying [...]". */
export function compatApp(link: Link, opts: { from: string; to: string; metrics?: Metrics }): Hono {
  const target: CompatTarget = { link, from: `tcp://${opts.from}`, to: `tcp://${opts.to}` };
  const app = new Hono();
  app.all('*', async (c) => {
    const path = c.req.path;
    if (path === '/metrics' && c.req.method === 'GET' && opts.metrics) {
      return c.body(await opts.metrics.registry.metrics(), 200, { 'Content-Type': opts.metrics.registry.contentType });
    }
    return (await answerCompat(c, path, target)) ?? textResponse(c, `proxying [${target.from} -> ${target.to}]`);
  });
  return app;
}
