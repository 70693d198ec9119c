// A scenario's fault target made into one the fault service takes (src/schema/target.ts): the runner
// picks the follower when the step is applied and hands it here.
import type { ScenarioTarget } from '../schema/scenario.js';
import type { FaultTarget } from '../schema/target.js';

/**
 * `role: random-follower` becomes that follower by name (`follower`: the one the runner picked among the
 * current followers); every other target is already a FaultTarget.
 */
export function concreteTarget(target: ScenarioTarget, follower: () => string): FaultTarget {
  if (target.role !== 'random-follower') return target as FaultTarget;
  const { role: _, members, ...rest } = target;
  const name = follower();
  // narrowed by name like any role: a random follower among `members` when they are given
  if (members && !members.includes(name))
    throw new Error(`the follower picked (${name}) is not among ${members.join(',')}`);
  return { ...rest, members: [name] };
}
