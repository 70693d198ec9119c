// The members' peer network as the daemon shapes it, and who enforces partitions there:
// - egress: each launched member dials its peers through its own egress listener (so every peer
//   connection's source and target member are known), and member pairs are cut there;
// - socket owner: members started by someone else on this machine, as this user, whose advertised peer
//   URLs point at their peer links: a connection into a member's peer link is classified by the
//   process that dialled it (owner-partitions.ts);
// - else partitions are refused with the reason (remote members, members without peer links).
import type { Topology } from '../cluster/topology.js';
import type { Metrics } from '../metrics.js';
import { Egress, type EgressDial } from '../proxy/egress.js';
import type { Link } from '../proxy/link.js';
import { OwnerPartitions } from '../proxy/owner-partitions.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { PartitionBook, type PartitionEnforcer } from './partitions.js';

export const NO_EGRESS =
  "partitions need members that dial their peers through this daemon's egress listeners (launch them " +
  'with the lab or `etcd-soak run --config`: cluster.launch, partitions on), or local members whose ' +
  'advertised peer URLs are their peer links in this daemon';

const LOOPBACK = new Set(['localhost', 'localhost.', '127.0.0.1', '::1', '[::1]']);

export interface PeerNetDeps {
  topology: Topology;
  /** the port a link listens on (peer links stand in front of members' peer URLs) */
  linkPort(name: string): number | undefined;
  /** a link by name (the socket-owner mode classifies the connections on members' peer links) */
  link?(name: string): Link | undefined;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  seed?: number;
  /** every dial a member makes through its egress listener */
  onDial?(d: EgressDial): void;
  /** a partition took effect or was healed */
  onWindow?(w: { edge: 'start' | 'end'; id: string; summary: string; at: number }): void;
}

export class PeerNet {
  readonly partitions: PartitionBook;
  private egress: Egress | undefined;
  private owner: OwnerPartitions | undefined;

  constructor(private readonly deps: PeerNetDeps) {
    this.partitions = new PartitionBook({
      clock: deps.clock,
      members: () => deps.topology.list().map((m) => m.name),
      leader: async () => (await deps.topology.roles()).leader?.name,
      enforcer: () => this.enforcer(),
      changed: (n) => {
        deps.metrics.partitionActive.set(n ? 1 : 0);
        deps.logger.info({ active: n, pairs: this.partitions.pairs().length }, 'partitions changed');
      },
      window: (w) => deps.onWindow?.(w),
    });
  }

  /** Opens `member`'s egress listener (its HTTPS_PROXY/HTTP_PROXY); the port. */
  async listen(member: string): Promise<number> {
    if (!this.egress) {
      this.egress = new Egress({
        resolveTarget: (host, port) => this.memberAt(host, port),
        metrics: this.deps.metrics,
        logger: this.deps.logger,
        seed: this.deps.seed,
      });
      const onDial = this.deps.onDial;
      if (onDial) this.egress.on('dial', onDial);
    }
    return this.egress.port(member) ?? (await this.egress.listen(member));
  }

  /**
   * Whether partitions can be enforced: some member dials through an egress listener, or (socket owner
   * mode) every member is a local process behind a peer link. The latter looks the member pids up.
   */
  get enforcing(): boolean {
    return typeof this.enforcer() !== 'string';
  }

  /** How partitions are enforced now, or why they cannot be. */
  mode(): 'egress' | 'socket-owner' | { unavailable: string } {
    const e = this.enforcer();
    if (typeof e === 'string') return { unavailable: e };
    return e === this.egress ? 'egress' : 'socket-owner';
  }

  /** bytes and tunnels (live classified connections in socket-owner mode) per (from, to) member pair */
  pairStats(): ReturnType<Egress['pairStats']> {
    return this.egress?.pairStats() ?? this.owner?.pairStats() ?? [];
  }

  /** The socket-owner enforcer once made (tests, measurements). */
  get ownerMode(): OwnerPartitions | undefined {
    return this.owner;
  }

  private enforcer(): PartitionEnforcer | string {
    if (this.egress) return this.egress;
    const link = this.deps.link;
    if (!link) return NO_EGRESS;
    this.owner ??= new OwnerPartitions({
      members: () =>
        this.deps.topology.list().map((m) => ({
          name: m.name,
          peerLinks: m.peerLinks.map((l) => link(l)).filter((l): l is Link => l !== undefined),
        })),
      metrics: this.deps.metrics,
      logger: this.deps.logger,
      seed: this.deps.seed,
    });
    // effects in force: the same enforcer heals them, whatever the members look like now
    if (this.partitions.pairs().length) return this.owner;
    const why = this.owner.unavailable();
    return why === undefined ? this.owner : `${NO_EGRESS}; without egress listeners: ${why}`;
  }

  /** The member a peer dial to host:port reaches: its peer link's port, or its own peer port. */
  memberAt(host: string, port: number): string | undefined {
    if (!LOOPBACK.has(host.toLowerCase())) return undefined;
    for (const m of this.deps.topology.list()) {
      if (m.peerLinks.some((l) => this.deps.linkPort(l) === port)) return m.name;
      if (m.peer && Number(m.peer.slice(m.peer.lastIndexOf(':') + 1)) === port) return m.name;
    }
    return undefined;
  }

  async close(): Promise<void> {
    this.partitions.clear();
    this.owner?.close();
    await this.egress?.close();
    this.egress = undefined;
  }
}
