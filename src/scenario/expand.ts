// Expanding a parsed scenario into its plan: one track per step (per repeat copy), one per random pick,
// sorted by offset, with the quorum guard's warnings and a hash of the whole.
import { createHash } from 'node:crypto';
import { formatMs } from '../util/duration.js';
import { Rng, randomSeed } from '../util/rng.js';
import { quorumWarnings, trackHolds, type Hold } from './guard.js';
import { actionLabel } from './labels.js';
import type { Scenario, ScenarioStep } from './parse.js';
import { expandRandom } from './random.js';
import type { ScenarioAction, ScenarioPlan, Track, TrackItem } from './types.js';

type ActionFields = Pick<ScenarioStep, 'fault' | 'target' | 'member' | 'partition' | 'load'>;

function actionOf(v: ActionFields): ScenarioAction {
  if (v.fault && v.target) return { type: 'fault', target: v.target, fault: v.fault };
  if (v.member) return { type: 'member', action: v.member.action, target: v.member.target };
  if (v.partition) return { type: 'partition', spec: v.partition };
  if (v.load) return { type: 'load', rate: v.load.rate };
  throw new Error('step without an action (the schema admits none)');
}

function actionItem(v: ActionFields & { name?: string; duration?: number }, step: string): TrackItem {
  const action = actionOf(v);
  return {
    kind: 'action',
    step,
    label: v.name ?? actionLabel(action),
    action,
    ...(v.duration === undefined ? {} : { duration: v.duration }),
  };
}

function stepTrack(st: ScenarioStep, id: string, at: number): Track {
  if (!st.sequence) {
    const item = actionItem(st, id);
    return { id, at, label: item.kind === 'action' ? item.label : id, items: [item] };
  }
  const items = st.sequence.map((it, j): TrackItem => {
    if (it.sleep !== undefined) return { kind: 'sleep', ms: it.sleep };
    if (it.wait)
      return { kind: 'wait', condition: it.wait.for, timeout: it.wait.timeout, onTimeout: it.wait.onTimeout };
    return actionItem(it, `${id}.${j + 1}`);
  });
  const actions = items.filter((i) => i.kind === 'action').length;
  return { id, at, label: st.name ?? `sequence of ${actions} action${actions === 1 ? '' : 's'}`, items };
}

/** The offsets of a step's copies: `at` alone, or every `every` while below `repeat` copies and `duration`. */
function copies(st: ScenarioStep, duration: number | undefined): number[] {
  if (st.every === undefined) return [st.at];
  const out: number[] = [];
  for (let k = 0; st.repeat === undefined || k < st.repeat; k++) {
    const at = st.at + k * st.every;
    if (duration !== undefined && at >= duration) break;
    out.push(at);
  }
  return out;
}

/** JSON with object keys sorted, so the hash does not depend on key order. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((k) => [k, (x as Record<string, unknown>)[k]]),
        )
      : x,
  );
}

export function planHash(p: Pick<ScenarioPlan, 'name' | 'seed' | 'members' | 'duration' | 'tracks'>): string {
  const body = canonicalJson({
    name: p.name,
    seed: p.seed,
    members: p.members,
    duration: p.duration ?? null,
    tracks: p.tracks,
  });
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

/** Tracks whose known length (sleeps and durations; waits taken as instant) runs past the duration. */
function overruns(tracks: Track[], duration: number): string[] {
  return tracks.flatMap((tr) => {
    const end = tr.items.reduce(
      (t, i) => t + (i.kind === 'sleep' ? i.ms : i.kind === 'action' ? (i.duration ?? 0) : 0),
      tr.at,
    );
    return end > duration
      ? [`track ${tr.id} runs until at least ${formatMs(end)}, past the duration ${formatMs(duration)}`]
      : [];
  });
}

export interface ExpandOptions {
  /** the cluster's size (default: the file's `members`, else 3) */
  members?: number;
  /** overrides the file's random seed */
  seed?: number;
}

/** The plan of a scenario: pure and deterministic for a given seed (a fresh seed only when neither gives one). */
export function expandScenario(s: Scenario, opts: ExpandOptions = {}): ScenarioPlan {
  const members = opts.members ?? s.members ?? 3;
  const seed = opts.seed ?? s.random?.seed ?? (s.random ? randomSeed() : 0);
  const tracks: Track[] = [];
  s.steps.forEach((st, i) => {
    const at = copies(st, s.duration);
    const many = st.every !== undefined;
    at.forEach((offset, k) => tracks.push(stepTrack(st, many ? `s${i + 1}#${k + 1}` : `s${i + 1}`, offset)));
  });
  const end = s.duration ?? Infinity;
  const holds: Hold[] = tracks.flatMap((t) => trackHolds(t, members, end));
  const warnings = s.quorumGuard ? quorumWarnings(holds, members) : [];
  if (s.duration !== undefined) warnings.push(...overruns(tracks, s.duration));
  let skipped = 0;
  if (s.random) {
    const r = expandRandom(s.random, {
      rng: new Rng(seed),
      members,
      end: s.random.end ?? end,
      guard: s.random.quorumGuard ?? s.quorumGuard,
      baseline: holds,
    });
    tracks.push(...r.tracks);
    skipped = r.skipped;
  }
  // stable: at equal offsets, steps in file order, then random picks
  tracks.sort((a, b) => a.at - b.at);
  const plan = { name: s.name, seed, members, duration: s.duration, tracks };
  return {
    name: s.name,
    ...(s.description === undefined ? {} : { description: s.description }),
    seed,
    hash: planHash(plan),
    ...(s.duration === undefined ? {} : { duration: s.duration }),
    members,
    tracks,
    skipped,
    warnings,
  };
}
