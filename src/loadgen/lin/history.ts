// The KV history the linearizability checks read: single-key operations on a small key set (get, put,
// delete, compare-and-set), each with invoke/return times on one monotonic clock, its result, the
// response header revision and, for a write, the revision it created. etcd orders every write by
// revision and stamps every response with the revision it was served at; the streaming checker uses
// that witness, the search ignores it. Values are unique per write, so a value names its writer.

export type OpType = 'get' | 'put' | 'del' | 'cas';
export type OpStatus = 'ok' | 'fail' | 'indeterminate';

/** The key's state a CAS compares against: its value, or its mod revision; 'absent' = no such key. */
export type Expect = { value: string | 'absent' } | { modRevision: number | 'absent' };

export interface LinOp {
  id: number;
  client: number;
  type: OpType;
  key: string;
  /** put/cas: the new value (unique per write) */
  value?: string;
  expect?: Expect;
  /** monotonic ms */
  invoke: number;
  ret?: number;
  /** fail: surely not applied; indeterminate (a write that timed out or failed in flight): maybe */
  status: OpStatus;
  /** the response header revision */
  header?: number;
  /** ok write: the revision it created; ok get: the returned key's mod revision */
  rev?: number;
  /** get: value or null (absent); cas: whether it succeeded; del: how many keys it deleted */
  result?: string | null | boolean | number;
}

export type FindingKind =
  /** a read (or CAS that failed, or delete of nothing) missed a write that came before it */
  | 'stale-read'
  /** an acknowledged write that no read ever saw, skipped by reads placed after it */
  | 'lost-write'
  /** two writes to one key (or any two single-key writes) at one revision */
  | 'duplicate-revision'
  /** a read of a value that no write to that key produced (or only a failed one) */
  | 'phantom-value'
  /** a CAS whose outcome disagrees with the key's state at its revision */
  | 'cas-mismatch'
  /** a delete whose count disagrees with the key's state at its revision */
  | 'delete-mismatch'
  /** an operation placed before one that had returned when it was invoked (revision order vs time) */
  | 'real-time'
  /** a read of a write not yet invoked when the read returned, or above the read's own header */
  | 'future-read'
  /** a read's mod revision differs from the revision the value's write created */
  | 'revision-mismatch';

export const FINDING_KINDS: readonly FindingKind[] = [
  'stale-read',
  'lost-write',
  'duplicate-revision',
  'phantom-value',
  'cas-mismatch',
  'delete-mismatch',
  'real-time',
  'future-read',
  'revision-mismatch',
];

export interface Finding {
  kind: FindingKind;
  key: string;
  revision: number;
  /** the operations involved, the one at fault first */
  ops: number[];
  detail: string;
}

export interface LinCounts {
  ops: number;
  reads: number;
  writes: number;
  failed: number;
  indeterminate: number;
  /** indeterminate writes settled as applied (by settle() or by a read of their value) / as not applied */
  settledApplied: number;
  settledNotApplied: number;
  unsettled: number;
  /** ok operations without the revisions needed to place them */
  unplaced: number;
  judged: number;
  findings: Record<FindingKind, number>;
}

export interface LinVerdict {
  findings: Finding[];
  counts: LinCounts;
}

export const newCounts = (findings: Record<FindingKind, number>): LinCounts => ({
  ops: 0,
  reads: 0,
  writes: 0,
  failed: 0,
  indeterminate: 0,
  settledApplied: 0,
  settledNotApplied: 0,
  unsettled: 0,
  unplaced: 0,
  judged: 0,
  findings,
});

/** Whether a CAS's compare holds against a key state (value null = absent; modRevision 0 = absent). */
export function compareHolds(expect: Expect, value: string | null, modRevision: number): boolean {
  if ('value' in expect) return expect.value === 'absent' ? value === null : value === expect.value;
  return expect.modRevision === 'absent' || expect.modRevision === 0
    ? value === null
    : value !== null && modRevision === expect.modRevision;
}

/** A write that changes the key when applied (an ok del of nothing and a failed CAS only read it). */
export function isEffectiveWrite(op: LinOp): boolean {
  if (op.status !== 'ok') return op.type !== 'get';
  if (op.type === 'put') return true;
  if (op.type === 'del') return op.result === 1;
  if (op.type === 'cas') return op.result === true;
  return false;
}

/** The value a write leaves (null for a delete). */
export const writtenValue = (op: LinOp): string | null => (op.type === 'del' ? null : (op.value ?? null));

export const describe = (op: LinOp): string =>
  `#${op.id} ${op.type} ${op.key}` +
  (op.type === 'get' ? ` → ${JSON.stringify(op.result ?? null)}` : '') +
  (op.value !== undefined ? ` ${JSON.stringify(op.value)}` : '') +
  (op.expect ? ` if ${JSON.stringify(op.expect)}` : '') +
  (op.type === 'cas' && op.status === 'ok' ? ` → ${op.result ? 'ok' : 'failed'}` : '') +
  (op.type === 'del' && op.status === 'ok' ? ` → ${op.result}` : '');
