// The conditions a scenario waits for, and the leader as the window log records it, both read from the
// members' own answers (status through each member's client URL, not through a link).
import type { Topology } from '../cluster/topology.js';
import type { Condition } from './scenarios.js';
import type { LeaderView } from './windows.js';

/** Who leads and the highest raft term any member answered with; throws when the daemon knows no member. */
export async function leaderView(topology: Topology, deadlineMs = 800): Promise<LeaderView> {
  if (!topology.size) throw new Error('no members');
  const roles = await topology.roles(deadlineMs);
  let term = 0;
  for (const a of roles.answers) if (a.status.ok) term = Math.max(term, a.status.raftTerm ?? 0);
  return { leader: roles.leader?.name ?? null, term };
}

/**
 * healthy: every member answers and all name the same leader (a member cut off from its peers still
 * answers, but names no leader or an old one); leader: a leader is elected and every member that
 * answers agrees on it.
 */
export async function checkCondition(topology: Topology, c: Condition, deadlineMs = 1000): Promise<boolean> {
  const answers = await topology.statuses(deadlineMs);
  const ok = answers.filter((a) => a.status.ok);
  if (!ok.length) return false;
  const leaders = new Set(ok.map((a) => a.status.leader ?? '0'));
  if (leaders.size !== 1 || leaders.has('0')) return false;
  return c === 'leader' || ok.length === answers.length;
}
