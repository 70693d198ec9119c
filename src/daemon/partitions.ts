// Member-aware partitions: who cannot reach whom, as cuts (from's traffic to `to`), one id, one expiry,
// healed on removal. Several partitions may cover the same pair: each pair's effect is recomputed from
// every active partition (a total cut dominates a lossy one; the newest lossy one wins), and only the
// pairs whose effect changed are touched.
import { planPartition, type Cut } from '../cluster/partition.js';
import { LEADER, type PartitionSpec } from '../schema/partition.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { NotFound, Unprocessable } from '../util/errors.js';
import { randomSeed } from '../util/rng.js';

/** What a cut does to the bytes from one member to another. */
export type PairEffect =
  | { kind: 'cut'; established: 'blackhole' | 'reset' }
  | { kind: 'drop'; probability: number }
  | { kind: 'delay'; latency: number; jitter: number };

export type { Cut };

/** Applies pair effects (the egress proxies of launched members). */
export interface PartitionEnforcer {
  setEffect(from: string, to: string, effect: PairEffect | undefined): void;
}

export interface PartitionInfo {
  id: string;
  /** the request as parsed (durations in ms) */
  spec: PartitionSpec;
  /** presets: the seed their choice of members came from (give it back to replay the partition) */
  seed?: number;
  /** the directed member pairs it cuts: from's traffic to `to` */
  cut: Cut[];
  groups?: string[][];
  summary: string;
  effect: PairEffect;
  createdAt: string;
  expiresAt?: string;
}

export interface PartitionBookDeps {
  clock: Clock;
  /** the members' names */
  members(): string[];
  /** the leader now (asks the members); undefined when none answers as leader */
  leader(): Promise<string | undefined>;
  /** the enforcer, or why partitions cannot be enforced here */
  enforcer(): PartitionEnforcer | string;
  /** called when the set of active partitions changes (metrics, logs) */
  changed?(active: number): void;
  /** a partition took effect (start) or was healed (end), at this wall time */
  window?(w: { edge: 'start' | 'end'; id: string; summary: string; at: number }): void;
}

export function effectOf(spec: PartitionSpec): PairEffect {
  const c = spec.cut;
  if (c.type === 'total') return { kind: 'cut', established: spec.established };
  if (c.type === 'drop') return { kind: 'drop', probability: c.probability };
  return { kind: 'delay', latency: c.latency, jitter: c.jitter };
}

/** Whether a request needs to know the leader now ("leader" as a member, or halves placing it). */
export function needsLeader(spec: PartitionSpec): boolean {
  const named = [spec.isolate, ...(spec.groups ?? []).flat(), ...(spec.from ?? []), ...(spec.to ?? [])];
  return named.includes(LEADER) || spec.leader !== undefined;
}

const pairKey = (from: string, to: string) => `${from}\u0000${to}`;
const sameEffect = (a: PairEffect | undefined, b: PairEffect | undefined) => JSON.stringify(a) === JSON.stringify(b);

export class PartitionBook {
  private readonly active = new Map<string, { info: PartitionInfo; timer?: TimerHandle }>();
  /** the effect in force per pair, as last given to the enforcer */
  private applied = new Map<string, { cut: Cut; effect: PairEffect }>();
  private seq = 0;

  constructor(private readonly deps: PartitionBookDeps) {}

  async add(spec: PartitionSpec): Promise<PartitionInfo> {
    const enforcer = this.deps.enforcer();
    if (typeof enforcer === 'string') throw new Unprocessable(enforcer, [{ path: 'body', message: enforcer }]);
    const members = this.deps.members();
    const leader = needsLeader(spec) ? await this.deps.leader() : undefined;
    // presets without a seed get a fresh one, shown in the answer so the partition can be replayed
    const plan = planPartition(spec, { members, leader, seed: spec.seed ?? randomSeed() });
    const id = `p${++this.seq}`;
    const now = this.deps.clock.wallNow();
    const info: PartitionInfo = {
      id,
      spec,
      cut: plan.cuts,
      ...(plan.groups ? { groups: plan.groups } : {}),
      ...(spec.preset ? { seed: plan.seed } : {}),
      summary: plan.summary,
      effect: effectOf(spec),
      createdAt: new Date(now).toISOString(),
    };
    let timer: TimerHandle | undefined;
    if (spec.duration !== undefined) {
      info.expiresAt = new Date(now + spec.duration).toISOString();
      timer = this.deps.clock.setTimeout(() => this.remove(id), spec.duration, { unref: true });
    }
    this.active.set(id, { info, timer });
    this.reconcile(enforcer);
    this.deps.window?.({ edge: 'start', id, summary: info.summary, at: this.deps.clock.wallNow() });
    return info;
  }

  list(): PartitionInfo[] {
    return [...this.active.values()].map((a) => a.info);
  }

  get(id: string): PartitionInfo {
    const a = this.active.get(id);
    if (!a)
      throw new NotFound(`no partition ${JSON.stringify(id)}`, [
        { path: 'id', message: 'no active partition has this id' },
      ]);
    return a.info;
  }

  /** Heals one partition; false when none has this id. */
  remove(id: string): boolean {
    const a = this.active.get(id);
    if (!a) return false;
    a.timer?.cancel();
    this.active.delete(id);
    const enforcer = this.deps.enforcer();
    if (typeof enforcer !== 'string') this.reconcile(enforcer);
    this.deps.window?.({ edge: 'end', id, summary: a.info.summary, at: this.deps.clock.wallNow() });
    return true;
  }

  /** Heals every partition; how many. */
  clear(): number {
    const n = this.active.size;
    for (const id of [...this.active.keys()]) this.remove(id);
    return n;
  }

  /** The pairs cut now, with their effect. */
  pairs(): { from: string; to: string; effect: PairEffect }[] {
    return [...this.applied.values()].map(({ cut, effect }) => ({ ...cut, effect }));
  }

  /** A member's partition state: whom it cannot reach, who cannot reach it, by which partitions. */
  memberState(name: string): { cutTo: string[]; cutFrom: string[]; partitions: string[] } {
    const cutTo = new Set<string>();
    const cutFrom = new Set<string>();
    const partitions = new Set<string>();
    for (const { info } of this.active.values())
      for (const c of info.cut) {
        if (c.from === name) cutTo.add(c.to);
        if (c.to === name) cutFrom.add(c.from);
        if (c.from === name || c.to === name) partitions.add(info.id);
      }
    return { cutTo: [...cutTo], cutFrom: [...cutFrom], partitions: [...partitions] };
  }

  /** Recomputes every pair's effect from the active partitions and tells the enforcer what changed. */
  private reconcile(enforcer: PartitionEnforcer): void {
    const want = new Map<string, { cut: Cut; effect: PairEffect }>();
    for (const { info } of this.active.values()) {
      for (const c of info.cut) {
        const k = pairKey(c.from, c.to);
        const had = want.get(k);
        // a total cut dominates; among lossy ones the newest (later in insertion order) wins
        if (had?.effect.kind === 'cut' && info.effect.kind !== 'cut') continue;
        want.set(k, { cut: c, effect: info.effect });
      }
    }
    for (const [k, { cut }] of this.applied) if (!want.has(k)) enforcer.setEffect(cut.from, cut.to, undefined);
    for (const [k, w] of want)
      if (!sameEffect(this.applied.get(k)?.effect, w.effect)) enforcer.setEffect(w.cut.from, w.cut.to, w.effect);
    this.applied = want;
    this.deps.changed?.(this.active.size);
  }
}
