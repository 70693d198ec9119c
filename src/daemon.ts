// The daemon's state: links by name, one metrics registry, an optional load run, an optional cluster.
// The HTTP API, the lab and `etcd-soak run` all drive this one object.
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Metrics } from './metrics.js';
import { Link, type LinkOptions } from './proxy/link.js';
import type { LinkStats } from './proxy/types.js';
import { LoadRunner, type LoadStatus, type LoadSummary } from './loadgen/runner.js';
import { loadProfileSchema, type LoadProfileInput } from './schema/load.js';
import { silentLogger, type Logger } from './util/log.js';
import { Conflict, Invalid, NotFound, Unprocessable } from './util/errors.js';
import { memberStatuses, type MemberStatus } from './etcd/control.js';

export interface LinkSpec {
  name: string;
  listen: string;
  upstream: string;
  kind?: 'client' | 'peer' | 'custom';
  member?: string;
  /** serve this link's etcd-proxy admin API on its own port ("host:port") */
  compatAdmin?: string;
}

/** A member as the daemon knows it (launched members have a pid). */
export interface MemberInfo {
  name: string;
  /** the member's own client URL host:port (not the link) */
  client?: string;
  clientLink?: string;
  peerLink?: string;
  /** launched members: the member's own ports */
  clientPort?: number;
  peerPort?: number;
  pid?: number;
  running?: boolean;
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
  /** client endpoints the load uses when a start names none (default: the members' client links) */
  defaultEndpoints?: () => string[];
  /** the profile a load start builds on: the config's `load` section (fields a start omits come from it) */
  defaultProfile?: LoadProfileInput;
  /** serves a link's etcd-proxy admin API (the API layer's); without it a link cannot have `compatAdmin` */
  serveAdmin?: (link: Link, listen: string, metrics: Metrics) => Promise<Server>;
}

/** What the daemon needs of a cluster it launched (the lab's Cluster). */
export interface LaunchedCluster {
  readonly members: readonly { name: string; clientPort: number; peerPort: number; pid?: number; running: boolean }[];
}

/** drop and corrupt garble bytes on the way: watch anomalies near them are re-read before judged */
const LOSSY_FAULTS = new Set(['drop', 'corrupt']);

/** Emits 'load-interval'(TimelineLine) for every report interval of the current load. */
export class Daemon extends EventEmitter {
  readonly metrics: Metrics;
  readonly logger: Logger;
  private readonly links = new Map<string, LinkEntry>();
  private load: LoadRunner | undefined;
  private lastSummary: LoadSummary | undefined;
  /** load start / replace / stop run one at a time, in arrival order */
  private loadOps: Promise<unknown> = Promise.resolve();
  cluster: LaunchedCluster | undefined;
  private linkSeq = 0;
  /** drop/corrupt faults active now, and when the last one ended (monotonic ms) */
  private lossyActive = 0;
  private lossyEndedAt = -Infinity;

  constructor(private readonly opts: DaemonOptions = {}) {
    super();
    this.metrics = opts.metrics ?? new Metrics();
    this.logger = opts.logger ?? silentLogger;
  }

  // ----- links

  async addLink(spec: LinkSpec): Promise<LinkStats> {
    if (this.links.has(spec.name))
      throw new Conflict(`link ${JSON.stringify(spec.name)} already exists`, [
        { path: 'name', message: 'already exists' },
      ]);
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
    link.on('fault-added', (info: { type: string }) => {
      if (LOSSY_FAULTS.has(info.type)) this.lossyActive++;
    });
    link.on('fault-removed', (info: { type: string }) => {
      if (!LOSSY_FAULTS.has(info.type)) return;
      this.lossyActive = Math.max(0, this.lossyActive - 1);
      this.lossyEndedAt = performance.now();
    });
    try {
      await link.start();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE')
        throw new Conflict(`listen address ${spec.listen} is in use`, [{ path: 'listen', message: 'address in use' }]);
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES' || e.code === 'ENOTFOUND')
        throw new Invalid(`cannot listen on ${spec.listen}: ${e.message}`, [{ path: 'listen', message: e.message }]);
      throw err;
    }
    const entry: LinkEntry = { link, spec };
    if (spec.compatAdmin) {
      try {
        if (!this.opts.serveAdmin) throw new Error('this daemon serves no etcd-proxy admin ports');
        entry.admin = await this.opts.serveAdmin(link, spec.compatAdmin, this.metrics);
      } catch (err) {
        await link.close();
        const e = err as NodeJS.ErrnoException;
        throw new (e.code === 'EADDRINUSE' ? Conflict : Invalid)(
          `cannot serve the etcd-proxy admin API on ${spec.compatAdmin}: ${e.message}`,
          [{ path: 'compatAdmin', message: e.message }],
        );
      }
    }
    this.links.set(spec.name, entry);
    return link.stats();
  }

  getLink(name: string): Link {
    const e = this.links.get(name);
    if (!e) throw new NotFound(`no link named ${JSON.stringify(name)}`);
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
    if (!e) throw new NotFound(`no link named ${JSON.stringify(name)}`);
    // the load's connections through this link move to its other endpoints first
    const r = this.load;
    const ep = linkEndpoint(e.link);
    if (r && r.status().state !== 'stopped' && r.endpointList.includes(ep)) {
      try {
        r.removeEndpoint(ep);
      } catch {
        throw new Conflict(
          `link ${name} (${ep}) is the only endpoint of the running load (run ${r.runId}): stop the load first`,
          [{ path: 'name', message: 'in use by the load' }],
        );
      }
    }
    // cleared, not just closed: each removal is announced, so the lossy-fault count stays right
    e.link.clearFaults();
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
    for (const { link } of this.links.values())
      for (const f of link.listFaults()) out.push({ link: link.name, id: f.id, type: f.type, scope: f.scope });
    return out;
  }

  // ----- members

  /**
   * The members the daemon knows: from a launched cluster (with process state), else from links that
   * name a member (an existing cluster: its client link's upstream is the member's client URL).
   */
  members(): MemberInfo[] {
    const byName = new Map<string, MemberInfo>();
    const get = (name: string) => {
      let m = byName.get(name);
      if (!m) byName.set(name, (m = { name }));
      return m;
    };
    for (const m of this.cluster?.members ?? []) {
      Object.assign(get(m.name), {
        client: `127.0.0.1:${m.clientPort}`,
        clientPort: m.clientPort,
        peerPort: m.peerPort,
        pid: m.pid,
        running: m.running,
      });
    }
    for (const { spec } of this.links.values()) {
      if (!spec.member) continue;
      const m = get(spec.member);
      if (spec.kind === 'client') {
        m.clientLink = spec.name;
        m.client ??= spec.upstream;
      } else if (spec.kind === 'peer') m.peerLink = spec.name;
    }
    return [...byName.values()];
  }

  /** Each member's own view (id, leader, revision, health) through its client URL, beside what the daemon knows. */
  async clusterStatus(deadlineMs = 2000): Promise<(MemberInfo & Partial<MemberStatus>)[]> {
    const members = this.members();
    if (!members.length)
      throw new NotFound('this daemon knows no members: launch a cluster or configure cluster.existing');
    const withClient = members.filter((m) => m.client);
    const st = await memberStatuses(
      withClient.map((m) => m.client!),
      deadlineMs,
    );
    return members.map((m) => {
      const i = withClient.indexOf(m);
      return { ...m, ...(i >= 0 ? st[i] : { ok: false, error: 'no client endpoint known' }) };
    });
  }

  // ----- load

  /**
   * The endpoints a load uses when its start names none: the members' client links (links of kind
   * client that belong to a member), else the daemon's default. A link a user adds joins a load only
   * when a start names it.
   */
  clientEndpoints(): string[] {
    const own = [...this.links.values()]
      .filter((e) => e.spec.kind === 'client' && e.spec.member)
      .map((e) => linkEndpoint(e.link));
    return own.length ? own : (this.opts.defaultEndpoints?.() ?? []);
  }

  /** Whether a drop/corrupt fault was active on any link within the last `ms`. */
  integrityFaultsWithin(ms: number): boolean {
    return this.lossyActive > 0 || performance.now() - this.lossyEndedAt <= ms;
  }

  /** Runs load operations one at a time, in arrival order. */
  private serialized<T>(op: () => Promise<T>): Promise<T> {
    const next = this.loadOps.then(op, op);
    this.loadOps = next.catch(() => undefined);
    return next;
  }

  /**
   * Starts a load run. While one runs, answers 409 naming it, unless `replace` (then the running one
   * is stopped and its summary kept first). Returns once the run is created; its watchers attach in
   * the background (GET /load shows the state).
   */
  startLoad(profile: LoadProfileInput, endpoints?: string[], opts: { replace?: boolean } = {}): Promise<LoadStatus> {
    return this.serialized(async () => {
      const running = this.load;
      if (running && !opts.replace) {
        throw new Conflict(
          `a load is running (run ${running.runId}, ${running.status().state}): stop it first (DELETE /load) or send "replace": true`,
          [{ path: 'replace', message: 'expected true to replace the running load' }],
        );
      }
      const eps = endpoints?.length ? endpoints : this.clientEndpoints();
      if (!eps.length)
        throw new Unprocessable(
          'no client endpoints: give "endpoints" (or run a cluster whose members have client links)',
          [{ path: 'endpoints', message: 'required when no member client link exists' }],
        );
      const runner = new LoadRunner({
        // the request's fields over the config's: parsed once here, the runner takes the typed profile
        profile: loadProfileSchema.parse({ ...this.opts.defaultProfile, ...profile }),
        endpoints: eps,
        metrics: this.metrics,
        logger: this.logger,
        reportDir: this.opts.reportDir,
        faultsProvider: () => this.activeFaults(),
        integrityFaultsWithin: (ms) => this.integrityFaultsWithin(ms),
      });
      if (running) await this.stopCurrent('replaced');
      this.load = runner;
      runner.once('done', (s: LoadSummary) => (this.lastSummary = s));
      runner.on('interval', (line) => this.emit('load-interval', line));
      runner.start().catch((err) => this.logger.error({ err }, 'load failed to start'));
      return runner.status();
    });
  }

  get loadRunner(): LoadRunner | undefined {
    return this.load;
  }

  loadStatus(): LoadStatus | { state: 'idle'; last?: LoadSummary } {
    return this.load ? this.load.status() : { state: 'idle', last: this.lastSummary };
  }

  setRate(rate: number): LoadStatus {
    if (!this.load || this.load.status().state === 'stopped') throw new NotFound('no load is running');
    this.load.setRate(rate);
    return this.load.status();
  }

  /** Stops the running load → its summary (404 when none runs). */
  stopLoad(reason = 'stopped by API'): Promise<LoadSummary> {
    return this.serialized(async () => {
      if (!this.load) throw new NotFound('no load is running');
      return this.stopCurrent(reason);
    });
  }

  private async stopCurrent(reason: string): Promise<LoadSummary> {
    const r = this.load!;
    this.load = undefined;
    const s = await r.stop(reason);
    this.lastSummary = s;
    return s;
  }

  /** Stops the load and every link (the cluster is the caller's). */
  async close(): Promise<void> {
    await this.stopLoad('daemon stopping').catch(() => undefined);
    for (const name of [...this.links.keys()]) await this.removeLink(name);
  }
}

/** "host:port" a client dials to reach a link (a wildcard listen address is dialled on loopback) */
function linkEndpoint(link: Link): string {
  const a = link.address();
  return `${a.host && a.host !== '0.0.0.0' && a.host !== '::' ? a.host : '127.0.0.1'}:${a.port}`;
}

export async function closeServer(s: Server | undefined): Promise<void> {
  if (!s) return;
  s.closeAllConnections();
  await new Promise<void>((r) => s.close(() => r()));
}
