// A seeded simulation of a correct etcd under a KV workload, for the checkers' benchmark and tests:
// clients each with one operation in flight, random latencies, and each operation taking effect at one
// instant between its invoke and return (its linearization point), where the store assigns revisions
// as etcd does (one per applied write; a delete of nothing and a failed compare create none). Some
// writes fail outright (never applied) or time out (indeterminate: applied or not, settled later or
// never). Yields events in time order, so a history of any length streams in constant memory.
import { Rng } from '../../util/rng.js';
import type { Expect, LinOp, OpType } from './history.js';

export interface SimOptions {
  seed: number;
  /** operations to start */
  ops: number;
  clients?: number;
  keys?: number;
  /** relative weights */
  mix?: Partial<Record<OpType, number>>;
  /** ms, median of the request and the response legs */
  latency?: number;
  /** ms between a client's operations (mean) */
  think?: number;
  /** probability that an operation fails before reaching etcd */
  fail?: number;
  /** probability that an operation times out (a write is then applied or not, half and half) */
  indeterminate?: number;
  /** ms until the client gives up on an operation (it is then indeterminate); the checker's settle must exceed it */
  timeout?: number;
  /** probability that an indeterminate write is never settled */
  unsettled?: number;
  /** ms after its timeout when an indeterminate write is settled (at most) */
  settleDelay?: number;
  /** share of CAS operations that compare mod revisions instead of values */
  casByRevision?: number;
  /** the store's revision before the first write */
  baseRevision?: number;
}

export type SimEvent = { op: LinOp } | { settle: { id: number; rev: number | null } };

interface Pending {
  t: number;
  seq: number;
  kind: 'start' | 'point' | 'return' | 'settle';
  client: number;
  op?: LinOp;
  applies?: boolean;
}

/** A binary min-heap of pending events by time (ties in insertion order). */
class Agenda {
  private a: Pending[] = [];
  get size(): number {
    return this.a.length;
  }
  push(e: Pending): void {
    const a = this.a;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): Pending {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
const before = (x: Pending, y: Pending) => x.t < y.t || (x.t === y.t && x.seq < y.seq);

export function* simulate(o: SimOptions): Generator<SimEvent> {
  const rng = new Rng(o.seed);
  const clients = o.clients ?? 8;
  const keys = o.keys ?? 4;
  const mix = { get: 5, put: 2, del: 1, cas: 2, ...o.mix };
  const total = mix.get + mix.put + mix.del + mix.cas;
  const latency = o.latency ?? 2;
  const timeout = o.timeout ?? 100;
  const leg = () => latency * Math.exp(0.6 * rng.normal());
  const store = new Map<string, { value: string; mod: number }>();
  const seen = Array.from({ length: clients }, () => new Map<string, { value: string; mod: number } | null>());
  let rev = o.baseRevision ?? 1;
  let started = 0;
  let seq = 0;
  const agenda = new Agenda();
  const returnLeg = new Map<LinOp, number>();
  const at = (t: number, kind: Pending['kind'], client: number, op?: LinOp, applies?: boolean) =>
    agenda.push({ t, seq: seq++, kind, client, op, applies });

  const pickType = (): OpType => {
    let x = rng.next() * total;
    for (const t of ['get', 'put', 'del', 'cas'] as const) if ((x -= mix[t]) < 0) return t;
    return 'get';
  };
  const expectFor = (client: number, key: string): Expect => {
    // usually what the client last saw of the key (often still current), sometimes a guess
    const last = rng.next() < 0.85 ? seen[client].get(key) : null;
    if (rng.next() < (o.casByRevision ?? 0.5)) return { modRevision: last ? last.mod : 'absent' };
    return { value: last ? last.value : 'absent' };
  };

  const start = (t: number, client: number) => {
    if (started >= o.ops) return;
    const id = started++;
    const type = pickType();
    const key = `k${Math.floor(rng.next() * keys)}`;
    const op: LinOp = { id, client, type, key, invoke: t, status: 'ok' };
    if (type === 'put' || type === 'cas') op.value = `v${id}`;
    if (type === 'cas') op.expect = expectFor(client, key);
    const r = rng.next();
    const [there, back] = [leg(), leg()];
    if (r < (o.fail ?? 0.01)) {
      op.status = 'fail';
      at(t + Math.min(there, timeout), 'return', client, op);
    } else if (r < (o.fail ?? 0.01) + (o.indeterminate ?? 0.01) || there + back >= timeout) {
      // timed out (or cut off): the client gives up; a write reached etcd or not
      op.status = 'indeterminate';
      const slow = there + back >= timeout;
      const applies = type !== 'get' && there < timeout && (slow || rng.next() < 0.5);
      if (applies) at(t + Math.min(there, timeout * 0.9), 'point', client, op);
      at(t + timeout, 'return', client, op, applies);
    } else {
      at(t + there, 'point', client, op);
      returnLeg.set(op, back);
    }
  };

  const apply = (op: LinOp, client: number) => {
    const cur = store.get(op.key);
    const know = (s: { value: string; mod: number } | undefined) => seen[client].set(op.key, s ?? null);
    const write = (value: string | null) => {
      rev++;
      if (value === null) store.delete(op.key);
      else store.set(op.key, { value, mod: rev });
      know(value === null ? undefined : store.get(op.key));
      op.rev = rev;
    };
    if (op.type === 'get') {
      op.result = cur ? cur.value : null;
      if (cur) op.rev = cur.mod;
      know(cur);
    } else if (op.type === 'put') write(op.value!);
    else if (op.type === 'del') {
      op.result = cur ? 1 : 0;
      if (cur) write(null);
    } else {
      const e = op.expect!;
      const holds =
        'value' in e
          ? e.value === 'absent'
            ? !cur
            : cur?.value === e.value
          : e.modRevision === 'absent'
            ? !cur
            : cur?.mod === e.modRevision;
      op.result = holds;
      if (holds) write(op.value!);
    }
    op.header = rev;
  };

  for (let c = 0; c < clients; c++) at(rng.next() * (o.think ?? 5), 'start', c);
  while (agenda.size) {
    const e = agenda.pop();
    if (e.kind === 'start') start(e.t, e.client);
    else if (e.kind === 'point') {
      apply(e.op!, e.client);
      if (e.op!.status === 'ok') at(e.t + returnLeg.get(e.op!)!, 'return', e.client, e.op);
      returnLeg.delete(e.op!);
    } else if (e.kind === 'return') {
      const op = e.op!;
      op.ret = e.t;
      let settled: number | null | undefined;
      if (op.status === 'indeterminate' && op.type !== 'get') {
        // what it left: the revision it created, if it created one
        settled = e.applies && op.rev !== undefined ? op.rev : null;
        delete op.rev;
        delete op.header;
        delete op.result;
        seen[e.client].delete(op.key);
      }
      yield { op };
      if (settled !== undefined && rng.next() >= (o.unsettled ?? 0.2))
        at(e.t + rng.next() * (o.settleDelay ?? timeout), 'settle', e.client, { ...op, rev: settled ?? undefined });
      at(e.t + rng.next() * 2 * (o.think ?? 5), 'start', e.client);
    } else yield { settle: { id: e.op!.id, rev: e.op!.rev ?? null } };
  }
}

/** The whole simulated history: operations in return order and the settlements, for tests. */
export function simulateHistory(o: SimOptions): { ops: LinOp[]; settles: { id: number; rev: number | null }[] } {
  const ops: LinOp[] = [];
  const settles: { id: number; rev: number | null }[] = [];
  for (const e of simulate(o)) {
    if ('op' in e) ops.push(e.op);
    else settles.push(e.settle);
  }
  return { ops, settles };
}
