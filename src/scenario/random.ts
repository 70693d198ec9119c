// Seeded random chaos: picks from the weighted menu at exponential gaps, their ranges drawn, each pick its
// own track; a pick that would exceed maxConcurrent or (with the guard) a minority of members down at
// any instant it holds is skipped and the next gap drawn. The draws do not depend on what was skipped,
// so the same seed gives the same sequence of candidates.
import { faultSpecSchema } from '../proxy/faults/registry.js';
import { isRangeValue, scenarioPartitionSchema } from '../schema/scenario.js';
import { durationToMs } from '../util/duration.js';
import type { Rng } from '../util/rng.js';
import { affectedMembers, minority, peak, RESTART_HOLD_MS, type Hold } from './guard.js';
import { actionLabel } from './labels.js';
import type { MenuItem, Scenario } from './parse.js';
import type { ScenarioAction, Track } from './types.js';

type RandomSection = NonNullable<Scenario['random']>;

/** A value of a template with each [min, max] range drawn (integers stay integers, durations whole ms). */
export function drawTemplate(v: unknown, rng: Rng): unknown {
  if (isRangeValue(v)) {
    const dur = typeof v[0] === 'string';
    const lo = dur ? durationToMs(v[0]) : (v[0] as number);
    const hi = dur ? durationToMs(v[1]) : (v[1] as number);
    if (dur || (Number.isInteger(lo) && Number.isInteger(hi))) {
      const a = Math.ceil(lo);
      return a + Math.floor(rng.next() * (Math.floor(hi) - a + 1));
    }
    return lo + rng.next() * (hi - lo);
  }
  if (Array.isArray(v)) return v.map((x) => drawTemplate(x, rng));
  if (v && typeof v === 'object') {
    // keys in sorted order: the draws do not depend on how the file orders them
    const keys = Object.keys(v).sort();
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = drawTemplate((v as Record<string, unknown>)[k], rng);
    return Object.fromEntries(Object.keys(v).map((k) => [k, out[k]]));
  }
  return v;
}

/** A menu item made concrete: its action with parameters drawn, and its drawn duration. */
export function drawPick(item: MenuItem, rng: Rng): { action: ScenarioAction; duration?: number } {
  let action: ScenarioAction;
  if (item.fault && item.target) {
    action = { type: 'fault', target: item.target, fault: faultSpecSchema.parse(drawTemplate(item.fault, rng)) };
  } else if (item.partition) {
    action = { type: 'partition', spec: scenarioPartitionSchema.parse(drawTemplate(item.partition, rng)) };
  } else if (item.member) {
    action = { type: 'member', action: item.member.action, target: item.member.target };
  } else {
    throw new Error('menu item without an action (the schema admits none)');
  }
  const d = item.duration;
  const duration = d === undefined ? undefined : d.min + Math.floor(rng.next() * (d.max - d.min + 1));
  return { action, duration };
}

function weighted(menu: readonly MenuItem[], rng: Rng): MenuItem {
  const total = menu.reduce((n, m) => n + m.weight, 0);
  let x = rng.next() * total;
  for (const m of menu) {
    x -= m.weight;
    if (x < 0) return m;
  }
  return menu[menu.length - 1];
}

export interface RandomContext {
  rng: Rng;
  members: number;
  /** when picks stop: none starts at or after it, and each ends by it */
  end: number;
  guard: boolean;
  /** the explicit steps' holds, counted by the quorum guard */
  baseline: readonly Hold[];
}

/** The random picks as tracks r1, r2, … and how many candidates were skipped. */
export function expandRandom(r: RandomSection, ctx: RandomContext): { tracks: Track[]; skipped: number } {
  const tracks: Track[] = [];
  const picks: Hold[] = [];
  const limit = minority(ctx.members);
  let skipped = 0;
  let t = r.start;
  for (;;) {
    t += -r.meanGap * Math.log(1 - ctx.rng.next());
    const at = Math.round(t);
    if (at >= ctx.end) break;
    const item = weighted(r.menu, ctx.rng);
    const { action, duration: drawn } = drawPick(item, ctx.rng);
    const duration = drawn === undefined ? undefined : Math.min(drawn, ctx.end - at);
    const hold: Hold = {
      step: `r${tracks.length + 1}`,
      start: at,
      end: at + (duration ?? RESTART_HOLD_MS),
      affected: affectedMembers(action, ctx.members),
    };
    const concurrent = peak(picks, hold.start, hold.end, () => 1) + 1 > r.maxConcurrent;
    const quorum =
      ctx.guard &&
      hold.affected > 0 &&
      peak([...ctx.baseline, ...picks], hold.start, hold.end, (h) => h.affected) + hold.affected > limit;
    if (concurrent || quorum) {
      skipped++;
      continue;
    }
    picks.push(hold);
    const label = item.name ?? actionLabel(action);
    tracks.push({
      id: hold.step,
      at,
      label,
      items: [{ kind: 'action', step: hold.step, label, action, ...(duration === undefined ? {} : { duration }) }],
    });
  }
  return { tracks, skipped };
}
