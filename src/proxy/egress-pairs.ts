// The egress's per-(from, to) member pair state: "from's traffic to to", whoever dialled. Each pair owns
// one DirectionFaults that every pipe carrying from→to bytes consults per chunk (the request direction
// of tunnels from dialled to to, the response direction of tunnels to dialled to from). A pair's effect
// is installed into it as the registry's own faults (blackhole, drop, delay), so the egress runs the
// same stages as a link.
import type { Counter } from 'prom-client';
import type { Logger } from '../util/log.js';
import { AcceptFaults, DirectionFaults, type LiveFaults } from './faults/live.js';
import { faultHandler, faultTypes, parseFaultSpec, type FaultSpec } from './faults/registry.js';
import type { PipeContext } from './pipe.js';
import type { Rng } from '../util/rng.js';
import type { DirectionStats } from './types.js';

/** What a pair suffers: a total cut, loss, or latency (ms). */
export type PairEffect =
  | { kind: 'cut'; established: 'blackhole' | 'reset' }
  | { kind: 'drop'; probability: number }
  | { kind: 'delay'; latency: number; jitter: number };

/** The member name of targets the resolver does not know (forwarded as-is, counted under this name). */
export const UNKNOWN_MEMBER = '?';

/**
 * The faults a pair's effect installs, as validated specs (an invalid probability or latency throws the
 * ZodError here, before anything changes). A cut blackholes in both of its modes: in 'reset' mode the
 * tunnels open when it is applied are reset too, and a tunnel the other member dials meanwhile still
 * carries no byte in the cut direction.
 */
export function effectSpecs(effect: PairEffect): FaultSpec[] {
  switch (effect.kind) {
    case 'cut':
      return [parseFaultSpec({ type: 'blackhole', direction: 'tx' })];
    case 'drop':
      return [parseFaultSpec({ type: 'drop', direction: 'tx', probability: effect.probability })];
    case 'delay':
      return [parseFaultSpec({ type: 'delay', direction: 'tx', latency: effect.latency, jitter: effect.jitter })];
  }
}

export interface PairStats {
  from: string;
  to: string;
  /** bytes delivered from → to (tunnel payload; plain peers: bodies) */
  bytes: number;
  blackholed: number;
  dropped: number;
  /** live tunnels (and plain exchanges) `from` dialled to `to` */
  tunnels: number;
  /** dials and requests from → to refused while cut */
  refused: number;
}

export class PeerPair {
  /** this pair's row in a listing, with the tunnels (or classified connections) open now */
  row(tunnels: number): PairStats {
    const { from, to, stats, refused } = this;
    return { from, to, bytes: stats.forwarded, blackholed: stats.blackholed, dropped: stats.dropped, tunnels, refused };
  }

  readonly faults = new DirectionFaults(faultTypes);
  readonly stats: DirectionStats = { read: 0, forwarded: 0, dropped: 0, corrupted: 0, blackholed: 0 };
  effect: PairEffect | undefined;
  /** dials (CONNECT) and requests (plain) from → to refused while cut */
  refused = 0;
  /** live tunnels and plain exchanges that `from` dialled to `to` */
  tunnels = 0;
  private readonly live: LiveFaults;
  private uninstall: (() => void)[] = [];

  constructor(
    readonly from: string,
    readonly to: string,
    private readonly counter: Counter.Internal | undefined,
    logger: Logger,
  ) {
    const unsupported = (): never => {
      throw new Error('an egress pair carries direction faults only');
    };
    // effectSpecs makes direction faults only: the accept and link parts are never touched
    this.live = {
      tx: this.faults,
      rx: new DirectionFaults(faultTypes),
      accept: new AcceptFaults(),
      link: {
        name: `${from}->${to}`,
        logger,
        resetConnections: unsupported,
        resetListener: unsupported,
        setListening: unsupported,
      },
    };
  }

  get cut(): boolean {
    return this.effect?.kind === 'cut';
  }

  /** Replaces the pair's effect (validated first); open pipes see it at their next pump. */
  set(effect: PairEffect | undefined): void {
    const specs = effect ? effectSpecs(effect) : [];
    for (const u of this.uninstall) u();
    this.uninstall = specs.map((spec) => faultHandler(spec.type).install!(this.live, spec));
    this.effect = effect;
  }

  pipeContext(rng: Rng, logger: Logger): PipeContext {
    return {
      rng,
      stats: this.stats,
      // only deliveries are counted per pair; blackholed and dropped bytes show in `stats`
      metrics: {
        forwarded: this.counter,
        dropped: undefined,
        corrupted: undefined,
        blackholed: undefined,
        delay: undefined,
      },
      logger,
      verb: 'transmitted',
      from: this.from,
      to: this.to,
    };
  }
}
