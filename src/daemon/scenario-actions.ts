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
  /** the members that follow now (a random-follower fault target picks among them) */
  followers(): Promise<string[]>;
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

export class StepActions {
  /** members this run has taken down, frozen or cut off (a random-follower pick avoids them) */
  readonly affected = new Map<string, string>();

  constructor(
    private readonly deps: ScenarioDeps,
    private readonly rng: Rng,
  ) {}

  /** Applies one action; how to undo it (nothing for one-shot actions). */
  async act(a: ScenarioAction): Promise<{ window?: string; member?: string; undo?: () => Promise<void> }> {
    const d = this.deps;
    switch (a.type) {
      case 'fault': {
        let target = a.target as FaultTarget;
        let picked: string | undefined;
        if (a.target.role === 'random-follower') {
          const avoid = new Set(this.affected.keys());
          const followers = (await d.followers()).filter((m) => !avoid.has(m));
          target = concreteTarget(a.target, followers, () => this.rng.next());
          picked = target.members?.[0];
        }
        const f = await d.addFault(a.fault, target);
        // a member whose peer links are cut counts as taken: the next random pick avoids it
        const cuts = picked && CUTTING_FAULTS.includes(a.fault.type) && target.kind !== 'client';
        if (cuts) this.affected.set(picked!, a.fault.type);
        return {
          window: f.id,
          member: picked,
          undo: async () => {
            if (cuts) this.affected.delete(picked!);
            d.removeFault(f.id);
          },
        };
      }
      case 'partition': {
        let spec = a.spec as PartitionSpec;
        let picked: string | undefined;
        if (spec.isolate === 'random-follower') {
          const avoid = new Set(this.affected.keys());
          const followers = (await d.followers()).filter((m) => !avoid.has(m));
          if (!followers.length)
            throw new Unprocessable('no follower to isolate', [
              { path: 'partition.isolate', message: 'no follower now' },
            ]);
          picked = followers[Math.floor(this.rng.next() * followers.length)];
          spec = { ...spec, isolate: picked };
        } else if (spec.isolate && spec.isolate !== 'leader') picked = spec.isolate;
        const p = await d.addPartition(spec);
        if (picked) this.affected.set(picked, 'partition');
        return {
          window: p.id,
          member: picked,
          undo: async () => {
            if (picked) this.affected.delete(picked);
            d.removePartition(p.id);
          },
        };
      }
      case 'load':
        d.setRate(a.rate);
        return {};
      case 'member': {
        const r = await d.member(a.target, a.action, [...this.affected.keys()]);
        const back =
          a.action === 'freeze' ? 'continue' : a.action === 'kill' || a.action === 'stop' ? 'start' : undefined;
        if (!back) return { window: r.window, member: r.member };
        const key = `${r.member}`;
        this.affected.set(key, a.action);
        return {
          window: r.window,
          member: r.member,
          undo: async () => {
            this.affected.delete(key);
            await d.member(r.member, back, []);
          },
        };
      }
    }
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
