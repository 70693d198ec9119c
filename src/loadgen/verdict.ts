// etcd's watch guarantees, the violations of them and the one place their sum and the run's verdict
// are computed (the checker, the status line, the summary and the CLI's exit code all ask here).

export type ViolationKind = 'ordered' | 'unique' | 'reliable' | 'unexpected' | 'linearizability';
export const VIOLATION_KINDS: readonly ViolationKind[] = [
  'ordered',
  'unique',
  'reliable',
  'unexpected',
  'linearizability',
];

export type ViolationCounts = Record<ViolationKind, number>;

export interface Violation {
  kind: ViolationKind;
  key: string;
  revision: number;
  watcher: number;
  connection: number;
  detail: string;
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
  /** the kv workload's history (only when it ran): no linearizability finding, or some */
  linearizable?: 'held' | 'violated' | 'unverified';
}

export function noViolations(): ViolationCounts {
  // linearizability: the kv workload's findings (the finding's own kind is in the detail)
  return { ordered: 0, unique: 0, reliable: 0, unexpected: 0, linearizability: 0 };
}

/** every violation of every guarantee */
export function violationTotal(v: ViolationCounts): number {
  return v.ordered + v.unique + v.reliable + v.unexpected + v.linearizability;
}

/** The verdict per guarantee: a skip that could not be checked leaves reliable unverified, not held. */
export function verdictOf(v: ViolationCounts, findings: Pick<CheckerFindings, 'unverifiedSkips'>): Verdict {
  return {
    ordered: v.ordered === 0 ? 'held' : 'violated',
    unique: v.unique === 0 ? 'held' : 'violated',
    reliable: v.reliable > 0 ? 'violated' : findings.unverifiedSkips > 0 ? 'unverified' : 'held',
    unexpected: v.unexpected === 0 ? 'none' : 'seen',
  };
}
