// The members' peer network as the daemon shapes it: each launched member dials its peers through its own
// egress listener (so every peer connection's source and target member are known), and partitions cut
// member pairs there. Without egress listeners (an existing cluster, whose members dial each other
// directly) partitions are refused with the reason.
import type { Topology } from '../cluster/topology.js';
import type { Metrics } from '../metrics.js';
import { Egress, type EgressDial } from '../proxy/egress.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { PartitionBook } from './partitions.js';

export const NO_EGRESS =
  "partitions need members that dial their peers through this daemon's egress listeners: launch them " +
  'with the lab or `etcd-soak run --config` (cluster.launch, partitions on); the members of an existing ' +
  'cluster dial each other directly, so no partition between them can be enforced from here';

const LOOPBACK = new Set(['localhost', 'localhost.', '127.0.0.1', '::1', '[::1]']);

export interface PeerNetDeps {
  topology: Topology;
  /** the port a link listens on (peer links stand in front of members' peer URLs) */
  linkPort(name: string): number | undefined;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  seed?: number;
  /** every dial a member makes through its egress listener */
  onDial?(d: EgressDial): void;
}

export class PeerNet {
  readonly partitions: PartitionBook;
  private egress: Egress | undefined;

  constructor(private readonly deps: PeerNetDeps) {
    this.partitions = new PartitionBook({
      clock: deps.clock,
      members: () => deps.topology.list().map((m) => m.name),
      leader: async () => (await deps.topology.roles()).leader?.name,
      enforcer: () => this.egress ?? NO_EGRESS,
      changed: (n) => {
        deps.metrics.partitionActive.set(n ? 1 : 0);
        deps.logger.info({ active: n, pairs: this.partitions.pairs().length }, 'partitions changed');
      },
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

  /** Whether partitions can be enforced (some member dials through an egress listener). */
  get enforcing(): boolean {
    return this.egress !== undefined;
  }

  /** bytes and tunnels per (from, to) member pair */
  pairStats(): ReturnType<Egress['pairStats']> {
    return this.egress?.pairStats() ?? [];
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
    await this.egress?.close();
    this.egress = undefined;
  }
}
