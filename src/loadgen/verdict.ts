// etcd's watch guarantees, the violations of them and the one place their sum and the run's verdict
// are computed (the checker, the status line, the summary and the CLI's exit code all ask here).

// etcd's robustness validators: ordered, unique, reliable, atomic, bookmarkable, resumable, created (with
// prev_kv), plus events nobody wrote (unexpected), members whose HashKV disagrees at one revision, and the
// kv workload's linearizability findings (the finding's own kind is in the detail).
export type ViolationKind =
  | 'ordered'
  | 'unique'
  | 'reliable'
  | 'unexpected'
  | 'atomic'
  | 'bookmarkable'
  | 'resumable'
  | 'created'
  | 'hashkv'
  | 'linearizability'
  | FeatureWorkload;
/** The feature workloads, each with its own checker: a violation's kind is the workload, `check` says which. */
export type FeatureWorkload = 'registry' | 'lock' | 'election' | 'config';
export const FEATURE_WORKLOADS: readonly FeatureWorkload[] = ['registry', 'lock', 'election', 'config'];
export const VIOLATION_KINDS: readonly ViolationKind[] = [
  'ordered',
  'unique',
  'reliable',
  'unexpected',
  'atomic',
  'bookmarkable',
  'resumable',
  'created',
  'hashkv',
  'linearizability',
  ...FEATURE_WORKLOADS,
];

export type ViolationCounts = Record<ViolationKind, number>;

export interface Violation {
  kind: ViolationKind;
  key: string;
  revision: number;
  watcher: number;
  connection: number;
  detail: string;
  /** a feature workload's own check that failed (e.g. `fencing`, `skipped`); its kind is the workload */
  check?: string;
}

/** Findings that are not etcd's: the generator's own trouble or the effect of an injected fault. */
export interface CheckerFindings {
  /** events delivered more than `settle` after their put was known (a latency finding) */
  late: number;
  /** the largest such delay in ms */
  maxLateMs: number;
  /** suspected skips whose revision holds no event on that key in etcd's history (a garbled ack) */
  falseSkips: number;
  /** suspected skips that could not be checked against etcd's history (compacted or unreachable) */
  unverifiedSkips: number;
  /** revisions whose value etcd stores garbled: writes corrupted by an injected fault on their way in */
  corruptedWrites: number;
  /** (watcher, revision) pairs forgotten before a far-behind watcher reached them: not checked */
  unchecked: number;
}

export interface Verdict {
  ordered: 'held' | 'violated';
  unique: 'held' | 'violated';
  reliable: 'held' | 'violated' | 'unverified';
  unexpected: 'none' | 'seen';
  atomic: 'held' | 'violated';
  bookmarkable: 'held' | 'violated';
  resumable: 'held' | 'violated';
  created: 'held' | 'violated';
  /** unchecked: one endpoint, a fault that may garble answers, or a member that could not answer */
  hashkv: 'held' | 'violated' | 'unchecked';
  /** the kv workload's history (only when it ran): no linearizability finding, or some */
  linearizable?: 'held' | 'violated' | 'unverified';
  /**
   * each feature workload that ran: its checker found nothing (held), something (violated), or only
   * findings a drop/corrupt fault may have made (unverified)
   */
  registry?: 'held' | 'violated' | 'unverified';
  lock?: 'held' | 'violated' | 'unverified';
  election?: 'held' | 'violated' | 'unverified';
  config?: 'held' | 'violated' | 'unverified';
}

export function noViolations(): ViolationCounts {
  const v = {} as ViolationCounts;
  for (const k of VIOLATION_KINDS) v[k] = 0;
  return v;
}

/** every violation of every guarantee */
export function violationTotal(v: ViolationCounts): number {
  let n = 0;
  for (const k of VIOLATION_KINDS) n += v[k] ?? 0;
  return n;
}

/** The verdict per guarantee: a skip that could not be checked leaves reliable unverified, not held. */
export function verdictOf(
  v: ViolationCounts,
  findings: Pick<CheckerFindings, 'unverifiedSkips'> & { hashKv?: { outcome: string } },
): Verdict {
  return {
    ordered: v.ordered === 0 ? 'held' : 'violated',
    unique: v.unique === 0 ? 'held' : 'violated',
    reliable: v.reliable > 0 ? 'violated' : findings.unverifiedSkips > 0 ? 'unverified' : 'held',
    unexpected: v.unexpected === 0 ? 'none' : 'seen',
    atomic: v.atomic ? 'violated' : 'held',
    bookmarkable: v.bookmarkable ? 'violated' : 'held',
    resumable: v.resumable ? 'violated' : 'held',
    created: v.created ? 'violated' : 'held',
    hashkv: v.hashkv ? 'violated' : findings.hashKv?.outcome === 'agreed' ? 'held' : 'unchecked',
  };
}
