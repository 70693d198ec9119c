// The dry-run text of a plan: every item in time order, then the hash and seed, counts by kind and the
// quorum guard's warnings.
import { formatMs } from '../util/duration.js';
import { actionText, targetText } from './labels.js';
import type { ScenarioAction, ScenarioPlan } from './types.js';

/** The kind a window of this action is counted as: the fault type, the member action, partition or load. */
export function actionKind(a: ScenarioAction): string {
  switch (a.type) {
    case 'fault':
      return a.fault.type;
    case 'member':
      return a.action;
    case 'partition':
      return 'partition';
    case 'load':
      return 'load';
  }
}

/** How many actions of each kind the plan holds, kinds sorted by name. */
export function planKinds(plan: ScenarioPlan): Record<string, number> {
  const n = new Map<string, number>();
  for (const t of plan.tracks)
    for (const it of t.items)
      if (it.kind === 'action') n.set(actionKind(it.action), (n.get(actionKind(it.action)) ?? 0) + 1);
  return Object.fromEntries([...n].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

interface Row {
  at: number;
  order: number;
  cells: string[];
}

/** The plan as a table (offset, track, step, action, target, duration) in time order, then its summary. */
export function formatPlan(plan: ScenarioPlan): string {
  const rows: Row[] = [];
  for (const t of plan.tracks) {
    let at = t.at;
    let after = false; // after a wait, offsets are the earliest they can be
    for (const it of t.items) {
      const offset = (after ? '>=' : '') + formatMs(at);
      const row = (cells: string[]) => rows.push({ at, order: rows.length, cells: [offset, t.id, ...cells] });
      if (it.kind === 'sleep') {
        row(['', `sleep ${formatMs(it.ms)}`, '', '']);
        at += it.ms;
      } else if (it.kind === 'wait') {
        row(['', `wait ${it.condition}`, '', `<=${formatMs(it.timeout)} (${it.onTimeout} on timeout)`]);
        after = true;
      } else {
        const text = actionText(it.action);
        const label = it.label !== text && !it.label.startsWith(`${text} on `) ? ` "${it.label}"` : '';
        row([it.step, text + label, targetText(it.action), it.duration === undefined ? '' : formatMs(it.duration)]);
        at += it.duration ?? 0;
      }
    }
  }
  rows.sort((a, b) => a.at - b.at || a.order - b.order);
  const head = ['offset', 'track', 'step', 'action', 'target', 'duration'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  const out = [
    `scenario ${plan.name}: ${plan.members} members${plan.duration === undefined ? '' : `, ${formatMs(plan.duration)}`}`,
  ];
  if (plan.description) out.push(plan.description.trim());
  out.push(line(head), ...rows.map((r) => line(r.cells)));
  out.push(`plan hash ${plan.hash} (seed ${plan.seed})`);
  const kinds = Object.entries(planKinds(plan));
  const actions = kinds.reduce((n, [, c]) => n + c, 0);
  out.push(
    `${plural(plan.tracks.length, 'track')}, ${plural(actions, 'action')}${kinds.length ? ': ' + kinds.map(([k, c]) => `${k} ${c}`).join(', ') : ''}`,
  );
  if (plan.skipped) out.push(`${plan.skipped} random picks skipped (quorum guard or maxConcurrent)`);
  for (const w of plan.warnings) out.push(`warning: ${w}`);
  return out.join('\n') + '\n';
}
