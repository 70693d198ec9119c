// Sorted revision lists and a watcher's "murky" spans (revisions passed while the transport may have
// garbled its stream): small pure helpers of the checker and its ledger.

export function insertSorted(list: number[], x: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1] > x) i--;
  list.splice(i, 0, x);
}

export function removeSorted(list: number[], x: number): void {
  const i = firstAbove(list, x) - 1;
  if (i >= 0 && list[i] === x) list.splice(i, 1);
}

/** index of the first element of a sorted list greater than x */
export function firstAbove(list: number[], x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** at most this many murky spans per watcher (the oldest go first: a bounded memory under long faults) */
const MAX_MURKY = 2000;

/** Adds [from, to] to a list of spans kept as flat pairs in increasing order. */
export function markMurky(m: number[], from: number, to: number): void {
  // spans arrive in increasing order: extend the last one when they touch
  if (m.length && m[m.length - 1] >= from - 1) m[m.length - 1] = Math.max(m[m.length - 1], to);
  else m.push(from, to);
  if (m.length > MAX_MURKY * 2) m.splice(0, 2);
}

export function inMurky(m: number[], rev: number): boolean {
  for (let i = m.length - 2; i >= 0; i -= 2) {
    if (rev > m[i + 1]) return false;
    if (rev >= m[i]) return true;
  }
  return false;
}
