// The quorum guard at expansion: how many members each action takes down or cuts off, over which
// interval of the plan ("holds"), and where explicit steps together exceed a minority. The plan's times
// are lower bounds after a wait (a wait is taken as instantaneous), so this is an estimate for steps and
// exact for random picks (each pick is one action at a known offset).
import { formatMs } from '../util/duration.js';
import type { ScenarioAction, Track } from './types.js';

/** How long a restart (no duration of its own) is taken to keep its member down, unless a wait follows. */
export const RESTART_HOLD_MS = 5000;
/** Fault types that cut traffic (rather than slow it): on peer links they take a member out. */
export const CUTTING_FAULTS: readonly string[] = ['blackhole', 'pause', 'reset', 'reset-listener', 'refuse'];

/** The most members that may be down or cut off at once with the rest still a majority. */
export function minority(members: number): number {
  return Math.max(0, Math.floor((members - 1) / 2));
}

/** Members an action takes down or cuts off (0: it only slows or restores). Roles count as they resolve. */
export function affectedMembers(action: ScenarioAction, members: number): number {
  switch (action.type) {
    case 'load':
      return 0;
    case 'member':
      if (action.action === 'start' || action.action === 'continue') return 0;
      return 1; // a role names one member for a member action (`follower`: the first follower)
    case 'partition': {
      const s = action.spec;
      if (s.isolate !== undefined) return 1;
      if (s.from && s.to) return Math.min(new Set(s.from).size, new Set(s.to).size);
      if (s.groups) {
        const grouped = new Set(s.groups.flat()).size;
        const largest = Math.max(...s.groups.map((g) => new Set(g).size)) + Math.max(0, members - grouped);
        return Math.max(0, Math.min(members, members - largest));
      }
      return Math.floor(members / 2); // presets: halves, ring, bridge leave at best a bare majority
    }
    case 'fault': {
      if (!CUTTING_FAULTS.includes(action.fault.type)) return 0;
      const t = action.target;
      let n = 0;
      if (t.kind !== 'client' && (t.members || t.role || t.kind)) {
        n = t.members ? new Set(t.members).size : members;
        if (t.role === 'leader' || t.role === 'random-follower') n = Math.min(n, 1);
        else if (t.role === 'follower') n = Math.min(n, members - 1);
      }
      // links by name: a member's peer link is "<member>-peer"
      const named = new Set((t.links ?? []).filter((l) => l.endsWith('-peer')).map((l) => l.slice(0, -5)));
      for (const m of t.members ?? []) named.delete(m);
      return Math.min(members, n + named.size);
    }
  }
}

/** One action's time in the plan: [start, end) in ms, and how many members it takes out. */
export interface Hold {
  step: string;
  start: number;
  end: number;
  affected: number;
}

/**
 * The holds of a track: an action with a duration holds for it; kill/stop/freeze without one until a
 * later start/continue/restart of the same target in the track (else `end`); a restart RESTART_HOLD_MS
 * or until the track's next wait; a fault or partition without duration until `end`.
 */
export function trackHolds(track: Track, members: number, end: number): Hold[] {
  const out: Hold[] = [];
  const untilWait: Hold[] = [];
  const down = new Map<string, Hold>();
  let t = track.at;
  for (const it of track.items) {
    if (it.kind === 'sleep') {
      t += it.ms;
      continue;
    }
    if (it.kind === 'wait') {
      for (const h of untilWait) h.end = Math.min(h.end, Math.max(h.start, t));
      untilWait.length = 0;
      continue;
    }
    const a = it.action;
    const hold: Hold = { step: it.step, start: t, end: end, affected: affectedMembers(a, members) };
    if (a.type === 'member' && (a.action === 'start' || a.action === 'continue' || a.action === 'restart')) {
      const h = down.get(a.target);
      if (h && h.end > t) h.end = t;
      down.delete(a.target);
    }
    if (it.duration !== undefined) {
      hold.end = t + it.duration;
      t = hold.end;
    } else if (a.type === 'member' && a.action === 'restart') {
      hold.end = t + RESTART_HOLD_MS;
      untilWait.push(hold);
    } else if (a.type === 'member' && hold.affected > 0) {
      down.set(a.target, hold);
    } else if (a.type === 'load' || a.type === 'member') {
      hold.end = t; // a load change, start or continue: instantaneous
    }
    out.push(hold);
  }
  return out;
}

/** The largest sum of `weight` over holds covering any instant of [start, end). */
export function peak(holds: readonly Hold[], start: number, end: number, weight: (h: Hold) => number): number {
  let best = 0;
  const points = [start, ...holds.filter((h) => h.start > start && h.start < end).map((h) => h.start)];
  for (const p of points) {
    let sum = 0;
    for (const h of holds) if (h.start <= p && h.end > p) sum += weight(h);
    if (sum > best) best = sum;
  }
  return best;
}

const MAX_WARNINGS = 20;

/** Where explicit steps together take more than a minority of members down or cut off. */
export function quorumWarnings(holds: readonly Hold[], members: number): string[] {
  const cutting = holds.filter((h) => h.affected > 0 && h.end > h.start);
  const limit = minority(members);
  const out: string[] = [];
  const seen = new Set<string>();
  let more = 0;
  for (const h of [...cutting].sort((a, b) => a.start - b.start)) {
    const active = cutting.filter((x) => x.start <= h.start && x.end > h.start);
    const sum = active.reduce((n, x) => n + x.affected, 0);
    if (sum <= limit) continue;
    const steps = active.map((x) => x.step);
    const key = steps.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    if (out.length >= MAX_WARNINGS) {
      more++;
      continue;
    }
    const who = steps.length === 1 ? `step ${steps[0]}` : `steps ${steps.slice(0, -1).join(', ')} and ${steps.at(-1)}`;
    out.push(`${who} take ${Math.min(sum, members)} of ${members} members down at ${formatMs(h.start)}`);
  }
  if (more) out.push(`and ${more} more such overlaps`);
  return out;
}
