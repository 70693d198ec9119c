// Member-aware partitions for members this daemon did not launch but that run on this machine as this
// user, and whose advertised peer URLs point at their peer links: every peer connection into member B
// arrives at B's peer link, dialled by some member A's etcd process. While at least one pair effect is
// set, each connection on a member's peer link is classified by its dialler (socket owner lookup among
// the member pids, sockowner.ts) — the open ones when the first effect is set, new ones on accept — and
// then carries A→B bytes under pair (A, B)'s faults and B→A bytes under pair (B, A)'s (egress-pairs.ts,
// the egress's semantics). A cut also resets A's new dials into B at accept. With no effect set, the
// links' classifier is unset: the accept path does no lookup at all (etcd redials ~20 times a second).
import { performance } from 'node:perf_hooks';
import type { Counter } from 'prom-client';
import type { Metrics } from '../metrics.js';
import { silentLogger, type Logger } from '../util/log.js';
import { Rng, randomSeed } from '../util/rng.js';
import { plainAddress, SocketOwners } from '../util/sockowner.js';
import type { Connection } from './connection.js';
import type { PipeContext } from './pipe.js';
import type { DirectionStats } from './types.js';
import { PeerPair, type PairEffect } from './egress-pairs.js';
import type { PairStats } from './egress.js';
import type { Link } from './link.js';

/** A member as the owner mode sees it: its peer links (their upstream is its own peer port). */
export interface OwnedMember {
  name: string;
  peerLinks: Link[];
}

export interface OwnerPartitionsOptions {
  members(): OwnedMember[];
  owners?: SocketOwners;
  metrics?: Metrics;
  logger?: Logger;
  seed?: number;
  /** at least this long between two pid searches caused by unknown diallers (default 250 ms) */
  refindIntervalMs?: number;
}

interface Classified {
  conn: Connection;
  from: string;
  to: string;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '']);

export class OwnerPartitions {
  readonly seed: number;
  readonly owners: SocketOwners;
  private readonly rng: Rng;
  private readonly logger: Logger;
  private readonly pairs = new Map<string, PeerPair>();
  /** member name → pid of the process listening on its peer port */
  private pids = new Map<string, number>();
  private lastFind = -Infinity;
  private refinding: Promise<void> | undefined;
  /** classified connections; closed ones are pruned as they are met */
  private classified = new Map<Connection, Classified>();
  /** the links whose classifier this enforcer set */
  private armed: Link[] = [];
  private effects = 0;
  /** accepts classified while armed, by outcome, and the time member dials (passed or refused) waited for it */
  private readonly accepts = { member: 0, unknown: 0, refused: 0, memberWaitMs: 0 };

  constructor(private readonly opts: OwnerPartitionsOptions) {
    this.seed = opts.seed ?? randomSeed();
    this.rng = new Rng(this.seed);
    this.logger = opts.logger ?? silentLogger;
    this.owners = opts.owners ?? new SocketOwners();
  }

  /**
   * Why partitions cannot be enforced this way now (members without a peer link, peer links in front of
   * non-loopback hosts, peer ports no process of this user listens on), or undefined when they can.
   * Finds the member pids afresh.
   */
  unavailable(): string | undefined {
    const members = this.opts.members();
    if (!members.length) return 'no members are known';
    const noLink = members.filter((m) => !m.peerLinks.length).map((m) => m.name);
    if (noLink.length)
      return `member(s) ${noLink.join(', ')} have no peer link: give each member a link of kind "peer" in front of its peer port and advertise that link as its peer URL`;
    const remote = members.filter((m) => !m.peerLinks.some((l) => LOOPBACK.has(l.upstreamHost))).map((m) => m.name);
    if (remote.length)
      return `member(s) ${remote.join(', ')} are not on this machine (their peer links forward to non-loopback hosts): their dials cannot be told apart`;
    this.findPids();
    const unfound = members.filter((m) => !this.pids.has(m.name)).map((m) => m.name);
    if (unfound.length)
      return `no process of this user listens on the peer port of member(s) ${unfound.join(', ')}: only members running on this machine as this user can be partitioned without egress listeners`;
    return undefined;
  }

  /** Sets (or removes) what from's traffic to `to` suffers, on open and new connections; throws on invalid values. */
  setEffect(from: string, to: string, effect: PairEffect | undefined): void {
    const pair = this.pair(from, to);
    const had = pair.effect !== undefined;
    pair.set(effect);
    this.effects += (effect ? 1 : 0) - (had ? 1 : 0);
    if (this.effects > 0 && !this.armed.length) this.arm();
    const reset = effect?.kind === 'cut' && effect.established === 'reset';
    let affected = 0;
    for (const c of this.live()) {
      if (!((c.from === from && c.to === to) || (c.from === to && c.to === from))) continue;
      affected++;
      if (reset) c.conn.reset();
      else c.conn.refresh();
    }
    if (this.effects === 0) this.disarm();
    this.logger.info(
      { from, to, effect: effect ?? null, connections: affected, mode: 'socket-owner' },
      effect ? 'peer pair effect set' : 'peer pair effect removed',
    );
  }

  pairStats(): PairStats[] {
    const tunnels = new Map<string, number>();
    for (const c of this.live()) tunnels.set(key(c.from, c.to), (tunnels.get(key(c.from, c.to)) ?? 0) + 1);
    return [...this.pairs.values()].map((p) => p.row(tunnels.get(key(p.from, p.to)) ?? 0));
  }

  /** Accepts on the members' peer links while a partition was active: by dialler, and the time classifying took. */
  acceptStats(): { member: number; unknown: number; refused: number; memberWaitMs: number } {
    return { ...this.accepts };
  }

  /** The member pids found last (tests, logs). */
  memberPids(): Map<string, number> {
    return new Map(this.pids);
  }

  close(): void {
    for (const p of this.pairs.values()) if (p.effect) p.set(undefined);
    this.effects = 0;
    this.disarm();
  }

  /** The first effect: classify the open connections now (one blocking table read), new ones on accept. */
  private arm(): void {
    const members = this.opts.members();
    if (!this.pids.size) this.findPids();
    const open: { conn: Connection; to: string }[] = [];
    for (const m of members)
      for (const link of m.peerLinks) {
        link.classifier = (conn) => this.onAccept(conn, m.name);
        this.armed.push(link);
        for (const conn of link.connections()) open.push({ conn, to: m.name });
      }
    if (!open.length) return;
    const owners = this.owners.ownersOf(
      open.map((o) => ends(o.conn)),
      [...this.pids.values()],
    );
    let unknown = 0;
    open.forEach((o, i) => {
      const from = this.memberOf(owners[i]);
      if (from) this.attach(o.conn, from, o.to);
      else unknown++;
    });
    this.logger.info(
      { connections: open.length, classified: open.length - unknown, pids: Object.fromEntries(this.pids) },
      'peer connections classified by their dialler',
    );
  }

  /** The last effect is gone: the links' accept path is as before, connections follow the links' faults again. */
  private disarm(): void {
    for (const link of this.armed) link.classifier = undefined;
    this.armed = [];
    for (const c of this.live()) c.conn.setOverride(undefined);
    this.classified.clear();
  }

  private async onAccept(conn: Connection, to: string): Promise<boolean> {
    const t0 = performance.now();
    const at = ends(conn);
    let from = this.memberOf(await this.owners.lookup(at, [...this.pids.values()]));
    if (!from && !conn.isClosed) {
      // a member restarted (a new pid), or the dialler is no member (then it stays unclassified): the
      // connection waits for the next pid search, so a restarted member's dials never pass a cut
      await this.refind();
      from = this.memberOf(await this.owners.lookup(at, [...this.pids.values()]));
    }
    if (from) this.accepts.memberWaitMs += performance.now() - t0;
    if (!from || !this.armed.length) {
      this.accepts.unknown++;
      return true;
    }
    const pair = this.pair(from, to);
    if (pair.cut) {
      this.accepts.refused++;
      pair.refused++;
      this.logger.debug({ from, to, refused: pair.refused }, 'peer dial refused: partitioned');
      return false;
    }
    this.accepts.member++;
    this.attach(conn, from, to);
    return true;
  }

  private attach(conn: Connection, from: string, to: string): void {
    const tx = this.pair(from, to);
    const rx = this.pair(to, from);
    conn.setOverride({
      faults: { tx: tx.faults, rx: rx.faults },
      // the link keeps counting its bytes; the pair counts them too
      pipeContext: (d, own) => teeContext(own, (d === 'tx' ? tx : rx).pipeContext(this.rng, this.logger)),
    });
    this.classified.set(conn, { conn, from, to });
  }

  private *live(): Generator<Classified> {
    for (const [conn, c] of this.classified) {
      if (conn.isClosed) this.classified.delete(conn);
      else yield c;
    }
  }

  private memberOf(pid: number | undefined): string | undefined {
    if (pid === undefined) return undefined;
    for (const [name, p] of this.pids) if (p === pid) return name;
    return undefined;
  }

  /** The next pid search, shared by every connection waiting for it; at most one per refindIntervalMs. */
  private refind(): Promise<void> {
    this.refinding ??= new Promise<void>((resolve) => {
      const wait = this.lastFind + (this.opts.refindIntervalMs ?? 250) - performance.now();
      setTimeout(resolve, Math.max(0, wait));
    }).then(() => {
      this.refinding = undefined;
      if (this.armed.length) this.findPids();
    });
    return this.refinding;
  }

  private findPids(): void {
    this.lastFind = performance.now();
    const byPort = new Map<number, string>();
    for (const m of this.opts.members())
      for (const l of m.peerLinks) if (LOOPBACK.has(l.upstreamHost)) byPort.set(l.upstreamPort, m.name);
    const found = this.owners.listenerPids([...byPort.keys()]);
    const pids = new Map<string, number>();
    for (const [port, pid] of found) pids.set(byPort.get(port)!, pid);
    this.pids = pids;
  }

  private pair(from: string, to: string): PeerPair {
    let p = this.pairs.get(key(from, to));
    if (!p) {
      p = new PeerPair(from, to, this.opts.metrics?.peerBytes.labels({ from, to }), this.logger);
      this.pairs.set(key(from, to), p);
    }
    return p;
  }
}

const key = (from: string, to: string) => `${from}\n${to}`;

function ends(conn: Connection): {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
} {
  const s = conn.client;
  return {
    localAddress: plainAddress(s.localAddress ?? ''),
    localPort: s.localPort ?? 0,
    remoteAddress: plainAddress(s.remoteAddress ?? ''),
    remotePort: s.remotePort ?? 0,
  };
}

/** A link connection's context that also counts into a pair's stats and byte counter. */
function teeContext(link: PipeContext, pair: PipeContext): PipeContext {
  const a = link.stats;
  const b = pair.stats;
  const stats = {} as DirectionStats;
  for (const k of ['read', 'forwarded', 'dropped', 'corrupted', 'blackholed'] as const)
    Object.defineProperty(stats, k, {
      get: () => a[k],
      set: (v: number) => {
        b[k] += v - a[k];
        a[k] = v;
      },
    });
  const mine = link.metrics;
  const theirs = pair.metrics?.forwarded;
  // a pipe only ever calls inc() on its counters
  const both =
    mine?.forwarded && theirs && ({ inc: (n?: number) => (mine.forwarded!.inc(n), theirs.inc(n)) } as Counter.Internal);
  return {
    ...link,
    stats,
    metrics: {
      forwarded: both || mine?.forwarded || theirs,
      dropped: mine?.dropped,
      corrupted: mine?.corrupted,
      blackholed: mine?.blackholed,
      delay: mine?.delay,
    },
  };
}
