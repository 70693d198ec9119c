// Short texts for plan rows and default labels: "delay rx 200ms±50ms", "leader peer links", "freeze".
import type { ScenarioPartition, ScenarioTarget } from '../schema/scenario.js';
import { formatMs } from '../util/duration.js';
import type { ScenarioAction } from './types.js';

/** What the action does, without its target: "blackhole rx", "delay tx 200ms±20ms", "kill", "load 400/s". */
export function actionText(a: ScenarioAction): string {
  switch (a.type) {
    case 'member':
      return a.action;
    case 'load':
      return `load ${a.rate}/s`;
    case 'partition':
      return `partition ${cutText(a.spec)}`;
    case 'fault': {
      const f = a.fault as Record<string, unknown> & { type: string };
      const parts = [f.type];
      if (typeof f.direction === 'string') parts.push(f.direction);
      if (typeof f.latency === 'number')
        parts.push(
          formatMs(f.latency) + (typeof f.jitter === 'number' && f.jitter > 0 ? `±${formatMs(f.jitter)}` : ''),
        );
      if (typeof f.probability === 'number') parts.push(`p=${f.probability}`);
      if (typeof f.rate === 'number') parts.push(`${f.rate}B/s`);
      if (typeof f.size === 'number') parts.push(`${f.size}B`);
      return parts.join(' ');
    }
  }
}

function cutText(p: ScenarioPartition): string {
  const cut =
    p.cut.type === 'total'
      ? ''
      : p.cut.type === 'drop'
        ? ` (drop ${p.cut.probability})`
        : ` (delay ${formatMs(p.cut.latency)})`;
  return (p.isolate !== undefined ? 'isolate' : (p.preset ?? (p.groups ? 'groups' : 'one-way'))) + cut;
}

/** Who the action applies to: "leader peer links", "s1-client", "random-follower", "s1 | s2,s3". */
export function targetText(a: ScenarioAction): string {
  switch (a.type) {
    case 'member':
      return a.target;
    case 'load':
      return '';
    case 'partition': {
      const p = a.spec;
      if (p.isolate !== undefined) return p.isolate;
      if (p.groups) return p.groups.map((g) => g.join(',')).join(' | ');
      if (p.from && p.to) return `${p.from.join(',')} -> ${p.to.join(',')}`;
      return p.preset === 'halves' && p.leader ? `leader in ${p.leader}` : '';
    }
    case 'fault':
      return linksText(a.target);
  }
}

function linksText(t: ScenarioTarget): string {
  const who = [t.role, ...(t.members ?? [])].filter(Boolean).join(',');
  const sel = who || t.kind ? `${who || 'all'} ${t.kind ?? 'client+peer'} links` : '';
  return [sel, ...(t.links ?? [])].filter(Boolean).join(' + ');
}

/** The default label of an action: its text and its target. */
export function actionLabel(a: ScenarioAction): string {
  const target = targetText(a);
  return target ? `${actionText(a)} on ${target}` : actionText(a);
}
