// The live fault state of a link: what fault modules install into and the pipes and the accept path
// read. A direction is an ordered pipe of phases, read → gate → timing → shape → write; a fault module
// plugs stages into them. Connections read this state per chunk, so a change applies at once to open
// connections. The stage lists are replaced (never mutated) on change: a pipe notices a change of its
// timing or shaping by identity.
import type { Logger } from '../../util/log.js';
import type { Rng } from '../../util/rng.js';

/** What a read stage did to a chunk, counted under this name in the direction's stats and metrics. */
export type ReadOutcome = 'dropped' | 'corrupted' | 'blackholed';
export interface ReadVerdict {
  readonly outcome: ReadOutcome;
  /** true: the chunk is gone; false: it was altered in place and goes on */
  readonly discard: boolean;
}

/** Acts on each chunk as it is read, before the gate: passes it (undefined), discards or alters it. */
export interface ReadStage {
  readonly phase: 'read';
  read(chunk: Buffer, rng: Rng): ReadVerdict | undefined;
  /** discards every chunk: the pipe keeps reading (and discarding) ahead of a closed gate */
  readonly discardsAll?: boolean;
}

/** Holds every chunk at the gate, losslessly, while installed; reading stops behind it. */
export interface GateStage {
  readonly phase: 'gate';
}

/** Times a chunk passing the gate at `now`: its delivery instant, never before `prev` (order kept). */
export interface TimingStage {
  readonly phase: 'timing';
  deliverAt(rng: Rng, now: number, prev: number): number;
}

/** Shapes the writes of a due chunk; each pipe opens its own shaper (per-connection state). */
export interface ShapeStage {
  readonly phase: 'shape';
  open(now: number, rng: Rng): Shaper;
}

export interface Shaper {
  /** ms to wait before the next write (0: now) */
  wait(now: number): number;
  /** the most bytes the next write may carry */
  limit(): number;
  /** `bytes` were just written at `now` */
  took(bytes: number, now: number): void;
}

export type Stage = ReadStage | GateStage | TimingStage | ShapeStage;

export class DirectionFaults {
  read: readonly ReadStage[] = [];
  timing: readonly TimingStage[] = [];
  shape: readonly ShapeStage[] = [];
  /** a gate stage is installed: chunks wait at the gate */
  gated = false;
  /** a read stage discards everything: reading goes on while gated */
  discardsAll = false;
  /** some stage may hold chunks back: they cannot go straight from read to write */
  holds = false;
  private readonly stages: { rank: number; stage: Stage }[] = [];

  /** `order`: fault types in pipe order; stages of one phase run in that order. */
  constructor(private readonly order: readonly string[]) {}

  /** Plugs a fault's stage into its phase; returns what unplugs it. */
  install(type: string, stage: Stage): () => void {
    const rank = this.order.indexOf(type);
    const entry = { rank: rank < 0 ? this.order.length : rank, stage };
    this.stages.push(entry);
    this.stages.sort((a, b) => a.rank - b.rank); // stable: equal ranks keep installation order
    this.update(stage.phase);
    return () => {
      const i = this.stages.indexOf(entry);
      if (i < 0) return;
      this.stages.splice(i, 1);
      this.update(stage.phase);
    };
  }

  private of<S extends Stage>(phase: S['phase']): S[] {
    return this.stages.filter((e) => e.stage.phase === phase).map((e) => e.stage as S);
  }

  private update(phase: Stage['phase']): void {
    if (phase === 'read') {
      this.read = this.of<ReadStage>('read');
      this.discardsAll = this.read.some((s) => s.discardsAll === true);
    } else if (phase === 'gate') this.gated = this.of<GateStage>('gate').length > 0;
    else if (phase === 'timing') this.timing = this.of<TimingStage>('timing');
    else this.shape = this.of<ShapeStage>('shape');
    this.holds = this.gated || this.timing.length > 0 || this.shape.length > 0;
  }
}

export class AcceptFaults {
  /** new connections wait this out before the upstream is dialled */
  delay: TimingStage | undefined;
  /** new connections are held until the pause is removed */
  pause = false;
  /** 'close' = listener closed while active; 'rst' = accept and reset at once */
  refuse: 'close' | 'rst' | undefined;
}

/** What link-scope faults act on. */
export interface LinkControl {
  readonly name: string;
  readonly logger: Logger;
  /** RST every live connection; returns how many */
  resetConnections(): number;
  /** closes and re-opens the listener; open connections are untouched */
  resetListener(): Promise<void>;
  /** closes or re-opens the listener (errors are logged and emitted by the link) */
  setListening(on: boolean): Promise<void>;
}

/** A link's live fault state, handed to fault modules to install into. */
export interface LiveFaults {
  readonly tx: DirectionFaults;
  readonly rx: DirectionFaults;
  readonly accept: AcceptFaults;
  readonly link: LinkControl;
}
