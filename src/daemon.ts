// The daemon's state: links by name, one metrics registry, an optional load run, the topology of members.
// The HTTP API, the lab and `etcd-soak run` all drive this one object.
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Metrics } from './metrics.js';
import { Link, type LinkOptions } from './proxy/link.js';
import type { LinkStats } from './proxy/types.js';
import type { LoadRunner, LoadStatus, LoadSummary } from './loadgen/runner.js';
import type { LoadProfile, LoadProfileInput } from './schema/load.js';
import { silentLogger, type Logger } from './util/log.js';
import { Conflict, Invalid, NotFound } from './util/errors.js';
import type { MemberStatus } from './etcd/control.js';
import { Topology } from './cluster/topology.js';
import { FaultBook, ONE_SHOT } from './daemon/faults.js';
import { PeerNet } from './daemon/peer-net.js';
import { LoadSlot } from './daemon/load-slot.js';
import { describeTarget, wireChaos } from './daemon/chaos.js';
import type { WindowLog } from './daemon/windows.js';
import type { ScenarioBook } from './daemon/scenarios.js';
import type { MemberBook } from './daemon/members.js';
import { finishRunReport } from './report/run-files.js';
import { systemClock, type Clock } from './util/clock.js';
import type { MemberState } from './cluster/process.js';

export interface LinkSpec {
  name: string;
  listen: string;
  upstream: string;
  kind?: 'client' | 'peer' | 'custom';
  member?: string;
  /** serve this link's etcd-proxy admin API on its own port ("host:port") */
  compatAdmin?: string;
}

/** A member as the daemon knows it (launched members have a pid and a state). */
export interface MemberInfo {
  name: string;
  /** etcd's member id (hex), once learned from the member */
  id?: string;
  /** the member's own client URL host:port (not the link) */
  client?: string;
  /** the member's own peer URL host:port (not the link) */
  peer?: string;
  clientLink?: string;
  peerLink?: string;
  /** launched members: the member's own ports */
  clientPort?: number;
  peerPort?: number;
  pid?: number;
  running?: boolean;
  state?: MemberState;
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
  /** the members (a launched or an existing cluster); links that name a member attach to it */
  topology?: Topology;
  /** time for fault expiry and stamps (a manual clock in tests) */
  clock?: Clock;
}

/** drop and corrupt garble bytes on the way: watch anomalies near them are re-read before judged */
const LOSSY_FAULTS = new Set(['drop', 'corrupt']);

/** Emits 'load-interval'(TimelineLine) for every report interval of the current load, 'egress-dial'(EgressDial) for every peer dial a member makes through its egress listener. */
export class Daemon extends EventEmitter {
  readonly metrics: Metrics;
  readonly logger: Logger;
  private readonly links = new Map<string, LinkEntry>();
  /** the one load run (start, replace, stop serialized) */
  private readonly slot: LoadSlot;
  /** the members: their links, ids and (launched members) process handles */
  readonly topology: Topology;
  /** every active fault, and faults addressed to targets (links, members, roles) under one id */
  readonly faults: FaultBook;
  /** the members' peer dials (egress listeners) and the partitions cut there */
  readonly peers: PeerNet;
  /** kill, stop, freeze, continue, restart and start of launched members, and their fault windows */
  readonly memberBook: MemberBook;
  readonly clock: Clock;
  /** every fault window as applied, and the leader changes, for the run's timeline */
  readonly windows: WindowLog;
  /** scenario runs (one at a time) */
  readonly scenarios: ScenarioBook;
  private linkSeq = 0;
  /** drop/corrupt faults active now, and when the last one ended (monotonic ms) */
  private lossyActive = 0;
  private lossyEndedAt = -Infinity;

  constructor(private readonly opts: DaemonOptions = {}) {
    super();
    this.metrics = opts.metrics ?? new Metrics();
    this.logger = opts.logger ?? silentLogger;
    this.topology = opts.topology ?? new Topology();
    this.clock = opts.clock ?? systemClock;
    this.slot = new LoadSlot({
      metrics: this.metrics,
      logger: this.logger,
      reportDir: opts.reportDir,
      faultsProvider: () => this.activeFaults(),
      integrityFaultsWithin: (ms) => this.integrityFaultsWithin(ms),
      onReport: finishRunReport,
      onInterval: (line) => this.emit('load-interval', line),
    });
    const chaos = wireChaos({
      clock: this.clock,
      metrics: this.metrics,
      logger: this.logger,
      topology: this.topology,
      seed: opts.seed,
      mark: (m) => this.slot.runner?.mark(m),
      loadRunning: () => this.slot.runner !== undefined,
      faults: () => this.faults,
      partitions: () => this.peers.partitions,
      setRate: (rate) => void this.setRate(rate),
    });
    this.windows = chaos.windows;
    this.memberBook = chaos.memberBook;
    this.scenarios = chaos.scenarios;
    this.faults = new FaultBook({
      clock: this.clock,
      // a fault on several links: its window is named by its target once it is known
      added: (f) => {
        const target = describeTarget(f.target, f.links);
        if (ONE_SHOT.has(f.type)) this.windows.instant(f.id, f.type, target);
        else this.windows.describe(f.id, { target });
      },
      link: (name) => this.links.get(name)?.link,
      links: () => [...this.links.values()].map((e) => e.link),
      members: () => this.members(),
      leaders: async () => {
        const { leader } = await this.topology.roles();
        return leader ? [leader.name] : [];
      },
    });
    this.peers = new PeerNet({
      topology: this.topology,
      linkPort: (name) => this.links.get(name)?.link.address().port,
      link: (name) => this.links.get(name)?.link,
      clock: this.clock,
      metrics: this.metrics,
      logger: this.logger,
      seed: opts.seed,
      onDial: (d) => this.emit('egress-dial', d),
      onWindow: (w) =>
        w.edge === 'start' ? this.windows.start(w.id, 'partition', w.summary, w.at) : this.windows.end(w.id, w.at),
    });
  }

  /** Opens a member's egress listener before it starts (its peer dials go through it); the port. */
  egressListen(member: string): Promise<number> {
    return this.peers.listen(member);
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
      clock: this.clock,
    };
    const link = new Link(opts);
    link.on('fault-added', (info: { id: string; type: string }) => {
      this.windows.start(info.id, info.type, `link ${link.name}`);
      if (LOSSY_FAULTS.has(info.type)) this.lossyActive++;
    });
    // a one-shot part of a targeted fault is that fault's one window (opened by the fault book's `added`)
    link.on('fault-once', (info: { id: string; type: string }) => {
      if (this.faults.applying !== info.id) this.windows.instant(info.id, info.type, `link ${link.name}`);
    });
    link.on('fault-removed', (info: { id: string; type: string }) => {
      this.windows.end(info.id);
      this.faults.partRemoved(link.name, info.id);
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
    if (spec.member && (spec.kind === 'client' || spec.kind === 'peer'))
      this.topology.attachLink({ name: spec.name, kind: spec.kind, member: spec.member, upstream: spec.upstream });
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
    const r = this.slot.runner;
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
    this.topology.detachLink(name);
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
    // partitions act between members, on no one link: the timeline shows them by their summary
    for (const p of this.peers.partitions.list())
      out.push({ link: 'peers', id: p.id, type: 'partition', scope: p.summary });
    // member process faults act on a member, on no link: the timeline shows them by kind and member
    for (const w of this.memberBook.active()) out.push({ link: 'members', id: w.id, type: w.kind, scope: w.member });
    return out;
  }

  // ----- members

  /** The members the daemon knows (launched, configured, or named by a link), from the topology. */
  members(): MemberInfo[] {
    return this.topology.list().map((m) => {
      const p = m.process;
      return {
        name: m.name,
        id: m.id,
        client: m.client,
        peer: m.peer,
        clientLink: m.clientLink,
        peerLink: m.peerLink,
        ...(p && { clientPort: p.clientPort, peerPort: p.peerPort, pid: p.pid, running: p.running, state: p.state }),
      };
    });
  }

  /** Each member's own view (id, leader, revision, health) through its client URL, beside what the daemon knows. */
  async clusterStatus(deadlineMs = 2000): Promise<(MemberInfo & Partial<MemberStatus>)[]> {
    if (!this.topology.size)
      throw new NotFound('this daemon knows no members: launch a cluster or configure cluster.existing');
    const answers = await this.topology.statuses(deadlineMs);
    // the ids are learned by the status round, so the member rows are read after it
    const info = new Map(this.members().map((m) => [m.name, m]));
    return answers.map(({ member, status }) => ({
      ...info.get(member.name)!,
      ...status,
      partition: this.peers.partitions.memberState(member.name),
    }));
  }

  // ----- load

  /**
   * The endpoints a load uses when its start names none: the members' client links, else the members'
   * own client URLs (the topology's), else the daemon's default. A link that names no member joins a
   * load only when a start names it.
   */
  clientEndpoints(): string[] {
    const own = this.topology.clientEndpoints((name) => {
      const e = this.links.get(name);
      return e && linkEndpoint(e.link);
    });
    return own.length ? own : (this.opts.defaultEndpoints?.() ?? []);
  }

  /** Whether a drop/corrupt fault was active on any link within the last `ms`. */
  integrityFaultsWithin(ms: number): boolean {
    return this.lossyActive > 0 || performance.now() - this.lossyEndedAt <= ms;
  }

  /**
   * Starts a load run. While one runs, answers 409 naming it, unless `replace` (then the running one
   * is stopped and its summary kept first). Returns once the run is created; its watchers attach in
   * the background (GET /load shows the state).
   */
  startLoad(profile: LoadProfile, endpoints?: string[], opts: { replace?: boolean } = {}): Promise<LoadStatus> {
    return this.slot.start(profile, endpoints?.length ? endpoints : this.clientEndpoints(), opts);
  }

  /** The profile a load start builds on (the config's `load` section), read-only. */
  get defaultProfile(): Readonly<LoadProfileInput> | undefined {
    return this.opts.defaultProfile;
  }

  get loadRunner(): LoadRunner | undefined {
    return this.slot.runner;
  }

  loadStatus(): LoadStatus | { state: 'idle'; last?: LoadSummary } {
    return this.slot.status();
  }

  setRate(rate: number): LoadStatus {
    return this.slot.setRate(rate);
  }

  /** Stops the running load → its summary (404 when none runs). */
  stopLoad(reason = 'stopped by API'): Promise<LoadSummary> {
    return this.slot.stop(reason);
  }

  /**
   * Brings back the members under a member fault (while their links still carry the peer traffic),
   * then stops the load, every link and every egress listener (the cluster is the caller's).
   */
  async close(): Promise<void> {
    await this.scenarios.abortAll();
    await this.memberBook.clear().catch((err) => this.logger.warn({ err }, 'could not restore the members'));
    this.windows.close();
    await this.stopLoad('daemon stopping').catch(() => undefined);
    for (const name of [...this.links.keys()]) await this.removeLink(name);
    await this.peers.close();
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
