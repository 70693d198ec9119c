// The kv workload's rows of the end-of-run table, and of `etcd-soak check`: what was checked, the
// verdict, the findings by kind and the first of them.
import { FINDING_KINDS, type Finding, type LinCounts } from '../../lin/history.js';

/** rows of findings listed in the table */
const LISTED = 5;

export interface KvStatus {
  keys: number;
  rate: number;
  serializableReads: boolean;
  /** operations due, and those not sent because maxInFlight was reached */
  issued: number;
  slips: number;
  /** the checker's counts: operations, reads, writes, failed, indeterminate, settled, judged, findings by kind */
  checked: LinCounts;
  /** the whole run's findings (0 while it runs: findings come as violations) */
  findings: number;
  first: Finding[];
  /**
   * findings on keys a drop or corrupt fault on the links may have garbled (an operation or an event of
   * the key went by while one was active): the generator's doubt, counted apart, not violations
   */
  unverified?: number;
  /** those keys */
  garbledKeys?: string[];
  /** whether the end-of-run replay read etcd's history of the prefix to the end */
  replay?: { complete: boolean; error?: string };
  /** set by the history file's writer */
  history?: Record<string, unknown>;
}

/** The kv workload's part of a timeline line. */
export interface KvLine {
  /** operations answered per second over the interval */
  rate: number;
  ops: number;
  indeterminate: number;
  findings: number;
}

export interface KvRowsInput {
  checked: LinCounts;
  findings: number;
  first: Finding[];
  keys?: number;
  rate?: number;
  serializableReads?: boolean;
  slips?: number;
  unverified?: number;
  garbledKeys?: string[];
  replay?: { complete: boolean; error?: string };
  history?: Record<string, unknown>;
}

export function findingsByKind(c: LinCounts): string {
  return FINDING_KINDS.filter((k) => c.findings[k])
    .map((k) => `${k} ${c.findings[k]}`)
    .join(', ');
}

export function formatKvRows(kv: KvRowsInput, verdict: string): string[] {
  const c = kv.checked;
  const reads = kv.serializableReads === undefined ? '' : kv.serializableReads ? 'serializable' : 'linearizable';
  const setup =
    kv.keys !== undefined ? `; ${kv.keys} keys, ${reads} reads, target ${kv.rate}/s, ${kv.slips ?? 0} slips` : '';
  const out = [
    `  kv: ${c.ops} ops (${c.reads} reads, ${c.writes} writes), ${c.failed} failed, ${c.indeterminate} indeterminate (${c.settledApplied} applied, ${c.settledNotApplied} not applied, ${c.unsettled} unsettled)${setup}`,
    `  linearizability: ${verdict} — ${kv.findings} finding(s)${kv.findings ? ` (${findingsByKind(c)})` : ''}, ${c.judged} operations judged${c.unplaced ? `, ${c.unplaced} without revisions` : ''}`,
  ];
  for (const f of kv.first.slice(0, LISTED)) out.push(`    ${f.kind} ${f.key} @${f.revision}: ${f.detail}`);
  if (kv.unverified)
    out.push(
      `  ${kv.unverified} finding(s) not counted as violations: a drop or corrupt fault on the links may have garbled ${kv.garbledKeys?.length ?? 'some'} key(s)' operations or events (what was written garbled stays in etcd)`,
    );
  if (c.unsettled)
    out.push(
      `  ${c.unsettled} indeterminate write(s) unsettled (${kv.replay?.error ?? "etcd's history could not be read to the end"}): their keys were judged leniently`,
    );
  return out;
}
