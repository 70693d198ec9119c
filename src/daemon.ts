// The daemon's state: links by name, one metrics registry, an optional load run, an optional cluster.
// The HTTP API, the lab and `etcd-soak run` all drive this one object.
import { createAdaptorServer } from '@hono/node-server';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { compatApp } from './api/compat.js';
import { Metrics } from './metrics.js';
import { Link, type LinkOptions } from './proxy/link.js';
import type { LinkStats } from './proxy/types.js';
import { LoadRunner, type LoadStatus, type LoadSummary } from './loadgen/runner.js';
import type { LoadProfileInput } from './loadgen/profile.js';
import { silentLogger, type Logger } from './util/log.js';
import { splitHostPort } from './util/net.js';
import type { Cluster } from './lab/cluster.js';

export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 422,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export interface LinkSpec {
  name: string;
  listen: string;
  upstream: string;
  kind?: 'client' | 'peer' | 'custom';
  member?: string;
  /** serve this link's etcd-proxy admin API on its own port ("host:port") */
  compatAdmin?: string;
}

interface LinkEntry {
  link: Link;
  spec: LinkSpec;
  admin?: Server;
}

export interface DaemonOptions {
  metrics?: Metrics;
  logger?: Logger;
  seed?: number;
  reportDir?: string | null;
  /** client endpoints the load uses when a profile names none */
  defaultEndpoints?: () => string[];
}

/** Emits 'load-interval'(TimelineLine) for every report interval of the current load. */
export class Daemon extends EventEmitter {
  readonly metrics: Metrics;
  readonly logger: Logger;
  private readonly links = new Map<string, LinkEntry>();
  private load: LoadRunner | undefined;
  private lastSummary: LoadSummary | undefined;
  cluster: Cluster | undefined;
  private linkSeq = 0;

  constructor(private readonly opts: DaemonOptions = {}) {
    super();
    this.metrics = opts.metrics ?? new Metrics();
    this.logger = opts.logger ?? silentLogger;
  }

  // ----- links

  async addLink(spec: LinkSpec): Promise<LinkStats> {
    if (this.links.has(spec.name)) throw new ApiError(409, `link ${JSON.stringify(spec.name)} already exists`, [{ path: 'name', message: 'already exists' }]);
    const opts: LinkOptions = {
      name: spec.name,
      listen: spec.listen,
      upstream: spec.upstream,
      kind: spec.kind,
      member: spec.member,
      // one seed for the run, a distinct stream per link
      seed: this.opts.seed !== undefined ? (this.opts.seed + ++this.linkSeq * 0x9e3779b9) >>> 0 : undefined,
      metrics: this.metrics,
      logger: this.logger,
    };
    const link = new Link(opts);
    try {
      await link.start();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new ApiError(409, `listen address ${spec.listen} is in use`, [{ path: 'listen', message: 'address in use' }]);
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES' || e.code === 'ENOTFOUND') throw new ApiError(400, `cannot listen on ${spec.listen}: ${e.message}`, [{ path: 'listen', message: e.message }]);
      throw err;
    }
    const entry: LinkEntry = { link, spec };
    if (spec.compatAdmin) {
      try {
        entry.admin = await serveCompatAdmin(link, spec.compatAdmin, this.metrics);
      } catch (err) {
        await link.close();
        const e = err as NodeJS.ErrnoException;
        throw new ApiError(e.code === 'EADDRINUSE' ? 409 : 400, `cannot serve the etcd-proxy admin API on ${spec.compatAdmin}: ${e.message}`, [{ path: 'compatAdmin', message: e.message }]);
      }
    }
    this.links.set(spec.name, entry);
    return link.stats();
  }

  getLink(name: string): Link {
    const e = this.links.get(name);
    if (!e) throw new ApiError(404, `no link named ${JSON.stringify(name)}`);
    return e.link;
  }

  hasLink(name: string): boolean {
    return this.links.has(name);
  }

  linkSpec(name: string): LinkSpec {
    this.getLink(name);
    return this.links.get(name)!.spec;
  }

  listLinks(): LinkStats[] {
    return [...this.links.values()].map((e) => ({ ...e.link.stats(), compatAdmin: e.spec.compatAdmin }));
  }

  async removeLink(name: string): Promise<void> {
    const e = this.links.get(name);
    if (!e) throw new ApiError(404, `no link named ${JSON.stringify(name)}`);
    this.links.delete(name);
    await closeServer(e.admin);
    await e.link.close();
  }

  /** Clears every fault on every link; returns how many were removed. */
  resetAll(): number {
    let n = 0;
    for (const { link } of this.links.values()) {
      n += link.listFaults().length;
      link.clearFaults();
    }
    return n;
  }

  activeFaults(): { link: string; id: string; type: string; scope: string }[] {
    const out = [];
    for (const { link } of this.links.values()) for (const f of link.listFaults()) out.push({ link: link.name, id: f.id, type: f.type, scope: f.scope });
    return out;
  }

  // ----- load

  clientEndpoints(): string[] {
    const own = [...this.links.values()].filter((e) => e.spec.kind === 'client').map((e) => {
      const a = e.link.address();
      return `${a.host && a.host !== '0.0.0.0' && a.host !== '::' ? a.host : '127.0.0.1'}:${a.port}`;
    });
    return own.length ? own : (this.opts.defaultEndpoints?.() ?? []);
  }

  /** Starts a load run (stopping the current one first). Returns once its watchers are set up. */
  async startLoad(profile: LoadProfileInput, endpoints?: string[], _opts: { replace?: boolean } = {}): Promise<LoadStatus> {
    const eps = endpoints?.length ? endpoints : this.clientEndpoints();
    if (!eps.length) throw new ApiError(422, 'no client endpoints: create client links or give "endpoints"', [{ path: 'endpoints', message: 'required when no client link exists' }]);
    const runner = new LoadRunner({ profile, endpoints: eps, metrics: this.metrics, logger: this.logger, reportDir: this.opts.reportDir, faultsProvider: () => this.activeFaults() });
    if (this.load) await this.stopLoad('replaced');
    this.load = runner;
    runner.once('done', (s: LoadSummary) => (this.lastSummary = s));
    runner.on('interval', (line) => this.emit('load-interval', line));
    void runner.start().catch((err) => this.logger.error({ err }, 'load failed to start'));
    return runner.status();
  }

  get loadRunner(): LoadRunner | undefined {
    return this.load;
  }

  loadStatus(): LoadStatus | { state: 'idle'; last?: LoadSummary } {
    return this.load ? this.load.status() : { state: 'idle', last: this.lastSummary };
  }

  setRate(rate: number): LoadStatus {
    if (!this.load || this.load.status().state === 'stopped') throw new ApiError(404, 'no load is running');
    this.load.setRate(rate);
    return this.load.status();
  }

  async stopLoad(reason = 'stopped by API'): Promise<LoadSummary> {
    const r = this.load;
    if (!r) throw new ApiError(404, 'no load is running');
    this.load = undefined;
    const s = await r.stop(reason);
    this.lastSummary = s;
    return s;
  }

  /** Stops the load and every link (the cluster is the caller's). */
  async close(): Promise<void> {
    if (this.load) await this.stopLoad('daemon stopping').catch(() => undefined);
    for (const name of [...this.links.keys()]) await this.removeLink(name);
  }
}

async function serveCompatAdmin(link: Link, listen: string, metrics: Metrics): Promise<Server> {
  const { host, port } = splitHostPort(listen);
  const a = link.address();
  const from = `${a.host || 'localhost'}:${a.port}`;
  const server = createAdaptorServer({ fetch: compatApp(link, { from, to: link.upstream, metrics }).fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => resolve());
  });
  return server;
}

export async function closeServer(s: Server | undefined): Promise<void> {
  if (!s) return;
  s.closeAllConnections();
  await new Promise<void>((r) => s.close(() => r()));
}
