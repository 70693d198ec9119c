// A scenario's fault target made into one the fault service takes (src/schema/target.ts): the runner
// hands the current followers when the step is applied, and this picks one for `random-follower`.
import type { ScenarioTarget } from '../schema/scenario.js';
import type { FaultTarget } from '../schema/target.js';
import { Unprocessable } from '../util/errors.js';

/**
 * `role: random-follower` becomes one of `followers` by name (among the target's `members` when it
 * names some), chosen with `random()` in [0, 1); every other target is already a FaultTarget.
 */
export function concreteTarget(
  target: ScenarioTarget,
  followers: readonly string[],
  random: () => number,
): FaultTarget {
  if (target.role !== 'random-follower') return target as FaultTarget;
  const { role: _, members, ...rest } = target;
  const among = members ? followers.filter((f) => members.includes(f)) : [...followers];
  if (!among.length)
    throw new Unprocessable('no follower to pick', [
      { path: 'target.role', message: members ? `none of ${members.join(', ')} is a follower now` : 'no follower now' },
    ]);
  return { ...rest, members: [among[Math.floor(random() * among.length)]] };
}
