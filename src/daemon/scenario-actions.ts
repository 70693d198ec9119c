// What a scenario step does to the daemon, and how it is undone: a fault on a target (a random follower
// picked among those the run has not taken), a partition (isolating a random follower likewise), a
// member action (kill/stop → start, freeze → continue), a load rate. The members a run has taken down,
// frozen or cut off are remembered until undone, so the run's random picks never take a second one.
import { concreteTarget, CUTTING_FAULTS, type ScenarioAction } from '../scenario/index.js';
import type { PartitionSpec } from '../schema/partition.js';
import type { FaultTarget } from '../schema/target.js';
import { Unprocessable } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import type { FaultSpec } from '../proxy/types.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { WindowLog } from './windows.js';

export type Condition = 'healthy' | 'leader';

/** What a runner needs of the daemon (the daemon passes itself; tests pass fakes). */
export interface ScenarioDeps {
  clock: Clock;
  logger?: Logger;
  windows: WindowLog;
  addFault(spec: FaultSpec, target: FaultTarget): Promise<{ id: string; links: string[] }>;
  /** who leads, who follows (answering), and the members that do not answer, now */
  roles(): Promise<{ leader?: string; followers: string[]; others: string[] }>;
  removeFault(id: string): boolean;
  addPartition(spec: PartitionSpec): Promise<{ id: string; summary: string }>;
  removePartition(id: string): boolean;
  /** a member action; `avoid`: members a random-follower pick must not take */
  member(target: string, action: string, avoid: string[]): Promise<{ member: string; window?: string }>;
  setRate(rate: number): void;
  /** whether the condition holds now (asks the members, within about a second) */
  check(condition: Condition): Promise<boolean>;
  /** a step was applied (or failed): its record */
  stepDone?(s: { error?: string; skewMs?: number }): void;
  /** a scenario mark for the run's timeline */
  mark(m: {
    mark: 'scenario';
    at: number;
    id: string;
    name: string;
    event: 'start' | 'done' | 'aborted';
    hash?: string;
  }): void;
}

/** An action with its roles resolved to member names, and the member a random pick reserved. */
export interface ResolvedAction {
  action: ScenarioAction;
  /** the member this run takes with it (a random pick, a named isolation, a member action's target) */
  picked?: string;
  /** the role it was resolved from (named in its window's target) */
  role?: string;
}

const ROLES = new Set(['leader', 'follower', 'random-follower']);

export class StepActions {
  /** members this run has taken down, frozen or cut off (a random-follower pick avoids them) */
  readonly affected = new Map<string, string>();

  constructor(
    private readonly deps: ScenarioDeps,
    private readonly rng: Rng,
  ) {}

  /**
   * Resolves the action's roles to member names now (one status round), so applying it at its due time
   * costs no round trip. A random follower is picked among those the run has not taken, and reserved.
   */
  async resolve(a: ScenarioAction): Promise<ResolvedAction> {
    const needs =
      (a.type === 'fault' && a.target.role) ||
      (a.type === 'member' && ROLES.has(a.target)) ||
      (a.type === 'partition' && (a.spec.isolate === 'leader' || a.spec.isolate === 'random-follower'));
    if (!needs) return { action: a, picked: a.type === 'partition' ? a.spec.isolate : undefined };
    const roles = await this.deps.roles();
    const leader = () => {
      if (!roles.leader)
        throw new Unprocessable('no member answers as leader now', [{ path: 'role', message: 'no leader' }]);
      return roles.leader;
    };
    const randomFollower = (path: string) => {
      const pool = roles.followers.filter((m) => !this.affected.has(m)).sort();
      if (!pool.length)
        throw new Unprocessable('no follower to pick', [{ path, message: 'no follower the run has not taken' }]);
      const m = pool[Math.floor(this.rng.next() * pool.length)];
      this.affected.set(m, 'reserved');
      return m;
    };
    switch (a.type) {
      case 'fault': {
        const { role, ...rest } = a.target;
        if (role === 'random-follower') {
          const target = concreteTarget(a.target, roles.followers.filter((m) => !this.affected.has(m)).sort(), () =>
            this.rng.next(),
          );
          const picked = target.members![0];
          this.affected.set(picked, 'reserved');
          return { action: { ...a, target }, picked, role };
        }
        // leader, or every member that is not the leader (as the fault book selects `follower`)
        const names = role === 'leader' ? [leader()] : [...roles.followers, ...roles.others].sort();
        const members = rest.members ? names.filter((n) => rest.members!.includes(n)) : names;
        if (!members.length)
          throw new Unprocessable(`no ${role} among the target's members now`, [
            { path: 'target.role', message: 'matches no member' },
          ]);
        return { action: { ...a, target: { ...rest, members } }, role };
      }
      case 'member': {
        const name =
          a.target === 'leader'
            ? leader()
            : a.target === 'random-follower'
              ? randomFollower('member.target')
              : [...roles.followers].sort()[0];
        if (!name) throw new Unprocessable('no follower now', [{ path: 'member.target', message: 'no follower' }]);
        return { action: { ...a, target: name }, picked: name, role: a.target };
      }
      case 'partition': {
        const name = a.spec.isolate === 'leader' ? leader() : randomFollower('partition.isolate');
        return { action: { ...a, spec: { ...a.spec, isolate: name } }, picked: name, role: a.spec.isolate };
      }
      default:
        return { action: a };
    }
  }

  /** A resolved action that will not be applied: its reservation is released. */
  release(r: ResolvedAction): void {
    if (r.picked && this.affected.get(r.picked) === 'reserved') this.affected.delete(r.picked);
  }

  /** Applies a resolved action; how to undo it (nothing for one-shot actions). */
  async act(r: ResolvedAction): Promise<{ window?: string; member?: string; undo?: () => Promise<void> }> {
    const done = await this.apply(r);
    // the window says which role the member was picked for: "isolate leader s2: …", "member s3 … (random-follower)"
    const w = done.window && r.role ? this.deps.windows.get(done.window) : undefined;
    if (w && r.role)
      this.deps.windows.describe(w.id, {
        target:
          r.action.type === 'partition'
            ? w.target.replace(/^isolate /, `isolate ${r.role} `)
            : `${w.target} (${r.role})`,
      });
    return done;
  }

  private async apply(r: ResolvedAction): Promise<{ window?: string; member?: string; undo?: () => Promise<void> }> {
    const d = this.deps;
    const a = r.action;
    const picked = r.picked;
    try {
      switch (a.type) {
        case 'fault': {
          const target = a.target as FaultTarget;
          const f = await d.addFault(a.fault, target);
          // a member whose peer links are cut counts as taken: the next random pick avoids it
          const cuts = !!picked && CUTTING_FAULTS.includes(a.fault.type) && target.kind !== 'client';
          if (picked) this.take(picked, cuts && a.fault.type);
          return {
            window: f.id,
            member: picked,
            undo: async () => void (this.free(picked, cuts), d.removeFault(f.id)),
          };
        }
        case 'partition': {
          const p = await d.addPartition(a.spec as PartitionSpec);
          if (picked) this.take(picked, 'partition');
          return {
            window: p.id,
            member: picked,
            undo: async () => void (this.free(picked, true), d.removePartition(p.id)),
          };
        }
        case 'load':
          d.setRate(a.rate);
          return {};
        case 'member': {
          const res = await d.member(
            a.target,
            a.action,
            [...this.affected.keys()].filter((m) => m !== a.target),
          );
          const back =
            a.action === 'freeze' ? 'continue' : a.action === 'kill' || a.action === 'stop' ? 'start' : undefined;
          this.take(res.member, back !== undefined && a.action);
          if (!back) return { window: res.window, member: res.member };
          return {
            window: res.window,
            member: res.member,
            undo: async () => {
              this.free(res.member, true);
              await d.member(res.member, back, []);
            },
          };
        }
      }
    } catch (err) {
      this.release(r);
      throw err;
    }
  }

  /** The member stays taken while the action holds (`why`), or is free again at once. */
  private take(member: string, why: string | false): void {
    if (why) this.affected.set(member, why);
    else if (this.affected.get(member) === 'reserved') this.affected.delete(member);
  }

  private free(member: string | undefined, taken: boolean): void {
    if (member && taken) this.affected.delete(member);
  }
}

export function describeAction(a: ScenarioAction): string {
  switch (a.type) {
    case 'fault':
      return `fault ${a.fault.type}`;
    case 'partition':
      return 'partition';
    case 'load':
      return `load rate ${a.rate}`;
    case 'member':
      return `member ${a.action} ${a.target}`;
  }
}
