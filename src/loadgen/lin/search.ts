// A general linearizability search (Wing–Gong with Lowe's memoisation, as porcupine does) to cross-check
// the streaming checker: it sees only invoke/return times and results — no revisions — and looks for
// any order of the operations that respects real time and a sequential model. Exponential in the worst
// case, so it is for windows of up to a few thousand operations. Keys are independent (P-compositionality:
// a history is linearizable iff each key's sub-history is), so each key is searched alone.
import type { Expect, LinOp } from './history.js';

/** A sequential specification: a state, and what one operation does to it (undefined: not possible). */
export interface Model<S> {
  init(): S;
  step(state: S, op: LinOp): S | undefined;
  /** a string naming the state, for the memo */
  id(state: S): string;
  /** independent parts of a history */
  partition(ops: LinOp[]): LinOp[][];
}

/**
 * One key of etcd's KV: its value or null. Without revisions a CAS on a mod revision can only be
 * judged on whether the key exists, so such a CAS is checked loosely (never wrongly).
 */
export const kvModel: Model<string | null> = {
  init: () => null,
  id: (s) => (s === null ? '' : `=${s}`),
  partition(ops) {
    const by = new Map<string, LinOp[]>();
    for (const op of ops) {
      const list = by.get(op.key);
      if (list) list.push(op);
      else by.set(op.key, [op]);
    }
    return [...by.values()];
  },
  step(s, op) {
    const sure = op.status === 'ok';
    switch (op.type) {
      case 'get':
        return (op.result ?? null) === s ? s : undefined;
      case 'put':
        return op.value!;
      case 'del':
        return !sure || op.result === (s === null ? 0 : 1) ? null : undefined;
      case 'cas': {
        const may = mayHold(op.expect!, s);
        const must = mustHold(op.expect!, s);
        if (!sure) return may ? op.value! : s;
        if (op.result === true) return may ? op.value! : undefined;
        return must ? undefined : s;
      }
    }
  },
};

function mayHold(e: Expect, s: string | null): boolean {
  if ('value' in e) return e.value === 'absent' ? s === null : s === e.value;
  return e.modRevision === 'absent' || e.modRevision === 0 ? s === null : s !== null;
}
function mustHold(e: Expect, s: string | null): boolean {
  if ('value' in e) return mayHold(e, s);
  return e.modRevision === 'absent' || e.modRevision === 0 ? s === null : false;
}

export interface SearchOptions {
  /** indeterminate writes known not applied (dropped) */
  notApplied?: ReadonlySet<number>;
  /** give up after this many steps per part (the answer is then 'unknown') */
  maxSteps?: number;
}

export interface SearchResult {
  linearizable: boolean | 'unknown';
  /** a key (part) with no linearization */
  key?: string;
  /** per key, one linearization (operation ids in order), when linearizable */
  orders: Map<string, number[]>;
  steps: number;
}

interface Entry {
  op: number;
  call: boolean;
  time: number;
  match?: Entry;
  prev?: Entry;
  next?: Entry;
}

export function checkLinearizable<S = string | null>(
  ops: LinOp[],
  model: Model<S> = kvModel as unknown as Model<S>,
  opts: SearchOptions = {},
): SearchResult {
  // a failed operation, an unanswered read and a write known not applied say nothing
  const kept = ops.filter(
    (op) => op.status === 'ok' || (op.status === 'indeterminate' && op.type !== 'get' && !opts.notApplied?.has(op.id)),
  );
  const res: SearchResult = { linearizable: true, orders: new Map(), steps: 0 };
  for (const part of model.partition(kept)) {
    const r = searchPart(part, model, opts.maxSteps ?? 2_000_000);
    res.steps += r.steps;
    if (r.order) res.orders.set(part[0].key, r.order);
    else {
      res.linearizable = r.unknown ? 'unknown' : false;
      res.key = part[0].key;
      if (!r.unknown) return res;
    }
  }
  return res;
}

function searchPart<S>(
  ops: LinOp[],
  model: Model<S>,
  maxSteps: number,
): { order?: number[]; unknown?: boolean; steps: number } {
  const entries: Entry[] = [];
  ops.forEach((op, i) => {
    const call: Entry = { op: i, call: true, time: op.invoke };
    // an indeterminate write may take effect at any time after its invoke
    const ret: Entry = {
      op: i,
      call: false,
      time: op.status === 'ok' ? (op.ret ?? Infinity) : Infinity,
      match: undefined,
    };
    call.match = ret;
    entries.push(call, ret);
  });
  // returned strictly before invoked = ordered; at equal times the call comes first (concurrent)
  entries.sort((a, b) => a.time - b.time || (a.call === b.call ? 0 : a.call ? -1 : 1));
  const head: Entry = { op: -1, call: false, time: -Infinity };
  let prev = head;
  for (const e of entries) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  const lift = (e: Entry) => {
    e.prev!.next = e.next;
    e.next!.prev = e.prev;
    const m = e.match!;
    m.prev!.next = m.next;
    if (m.next) m.next.prev = m.prev;
  };
  const unlift = (e: Entry) => {
    const m = e.match!;
    m.prev!.next = m;
    if (m.next) m.next.prev = m;
    e.prev!.next = e;
    e.next!.prev = e;
  };

  const memo = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let state = model.init();
  let done = 0n;
  let steps = 0;
  let entry = head.next;
  while (head.next) {
    if (++steps > maxSteps) return { unknown: true, steps };
    if (!entry) return { steps }; // cannot happen: every call is followed by its return
    if (entry.call) {
      const next = model.step(state, ops[entry.op]);
      if (next !== undefined) {
        const bits = done | (1n << BigInt(entry.op));
        const key = `${bits.toString(36)}|${model.id(next)}`;
        if (!memo.has(key)) {
          memo.add(key);
          stack.push({ entry, state });
          state = next;
          done = bits;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // a return reached: the operations called so far cannot all be ordered here; undo the last choice
      const top = stack.pop();
      if (!top) return { steps };
      state = top.state;
      done &= ~(1n << BigInt(top.entry.op));
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { order: stack.map((s) => ops[s.entry.op].id), steps };
}
