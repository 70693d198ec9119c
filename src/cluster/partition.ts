// A partition request expanded into the graph it means (Jepsen's "grudge", written as cuts): a cut
// (from, to) means from's traffic to `to` is affected. Pure: the members and the current leader are
// handed in, the random choices of presets come from a seed, and nothing is applied here.
import { LEADER, type PartitionSpec } from '../schema/partition.js';
import { Invalid, NotFound, Unprocessable } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface Cut {
  from: string;
  to: string;
}

export interface PartitionContext {
  /** every member's name */
  members: readonly string[];
  /** the current leader, when known ("leader" and leader-placing presets need it) */
  leader?: string;
  /** the seed of presets' random choices when the spec has none (the caller picks one and records it) */
  seed?: number;
}

export interface PartitionPlan {
  /** directed member pairs, sorted by (from, to), never (m, m) */
  cuts: Cut[];
  /** the symmetric components, when the partition is one (isolate, groups, halves; bridge: its two halves) */
  groups?: string[][];
  /** bridge: the member that reaches both halves */
  bridge?: string;
  /** presets: the seed the members were chosen with (replays the same partition) */
  seed?: number;
  /** one line for logs and listings, e.g. "isolate leader s1: s1 ⟷ {s2,s3}" */
  summary: string;
}

/**
 * Expands a partition request against the members as they are now. Throws NotFound for a member name
 * that is not one (naming the field: `isolate`, `groups[1][0]`, `from[0]`…), Unprocessable for "leader"
 * with no known leader, Invalid for a request that cuts nothing or contradicts itself.
 */
export function planPartition(spec: PartitionSpec, ctx: PartitionContext): PartitionPlan {
  const members = [...new Set(ctx.members)];
  if (members.length < 2) throw new Invalid(`a partition needs at least 2 members (there are ${members.length})`);
  const resolve = resolver(members, ctx.leader);

  if (spec.isolate !== undefined) {
    const m = resolve(spec.isolate, 'isolate');
    const rest = members.filter((x) => x !== m);
    const label = spec.isolate === LEADER ? `isolate leader ${m}` : `isolate ${m}`;
    return fromGroups([[m], rest], label);
  }
  if (spec.groups !== undefined) {
    const seen = new Map<string, string>();
    if (spec.groups.length < 2) throw fieldError(Invalid, 'groups', `expected at least 2 groups`);
    const groups = spec.groups.map((g, i) => {
      if (!g.length) throw fieldError(Invalid, `groups[${i}]`, `expected a non-empty group`);
      return g.map((name, j) => {
        const field = `groups[${i}][${j}]`;
        const m = resolve(name, field);
        const other = seen.get(m);
        if (other !== undefined) throw fieldError(Invalid, field, `${m} is already in ${other}`);
        seen.set(m, field);
        return m;
      });
    });
    // Like Jepsen's complete-grudge, a member named in no group is in no grudge: it still reaches, and
    // is reached by, every member (so {"groups":[["s1"],["s2"]]} of s1..s3 leaves s3 as a bridge).
    return fromGroups(groups, 'groups');
  }
  if (spec.from !== undefined && spec.to !== undefined) {
    const from = resolveAll(resolve, spec.from, 'from');
    const to = resolveAll(resolve, spec.to, 'to');
    const both = from.filter((m) => to.includes(m));
    if (both.length) throw new Invalid(`from and to both name ${both.join(', ')}: a member cannot be cut from itself`);
    const cuts = sortCuts(from.flatMap((f) => to.map((t) => ({ from: f, to: t }))));
    return { cuts, summary: `one-way: ${describeCuts(cuts)}` };
  }
  if (spec.preset !== undefined) {
    if (members.length < 3)
      throw new Invalid(`preset ${spec.preset} needs at least 3 members (there are ${members.length})`);
    const seed = (spec.seed ?? ctx.seed ?? 0) >>> 0;
    const rng = new Rng(seed);
    switch (spec.preset) {
      case 'halves':
        return { ...halves(members, spec.leader, ctx.leader, rng), seed };
      case 'ring':
        return { ...ring(shuffle(members, rng)), seed };
      case 'bridge':
        return { ...bridge(shuffle(members, rng)), seed };
    }
  }
  // the schema lets exactly one shape through
  throw new Invalid('expected exactly one of isolate, groups, from+to, preset');
}

/** Majority ⌊n/2⌋+1 and minority; the leader on the side `place` asks for, the rest shuffled. */
function halves(
  members: string[],
  place: 'minority' | 'majority' | undefined,
  leader: string | undefined,
  rng: Rng,
): PartitionPlan {
  const size = majority(members.length);
  let majoritySide: string[];
  let minoritySide: string[];
  if (place === undefined) {
    const order = shuffle(members, rng);
    majoritySide = order.slice(0, size);
    minoritySide = order.slice(size);
  } else {
    if (leader === undefined) throw fieldError(Unprocessable, 'leader', 'no member is known to lead now');
    if (!members.includes(leader)) throw fieldError(NotFound, 'leader', `${leader} is not a member`);
    const others = shuffle(
      members.filter((m) => m !== leader),
      rng,
    );
    if (place === 'majority') {
      majoritySide = [leader, ...others.slice(0, size - 1)];
      minoritySide = others.slice(size - 1);
    } else {
      minoritySide = [leader, ...others.slice(0, members.length - size - 1)];
      majoritySide = others.slice(members.length - size - 1);
    }
  }
  const plan = fromGroups([majoritySide, minoritySide], '');
  const where = place && leader ? `, leader ${leader} in the ${place}` : '';
  return {
    ...plan,
    summary: `halves (majority ${fmtSet(majoritySide)}, minority ${fmtSet(minoritySide)}${where}): ${describeCuts(plan.cuts)}`,
  };
}

/**
 * Jepsen's majorities ring: the members in a ring order, the n windows of m = ⌊n/2⌋+1 consecutive
 * members, and each window given to its middle member (index ⌊m/2⌋), which hears only that window. So
 * every member receives from a majority (itself included) and no two from the same one; what a member
 * reaches is also a window of m, so the same holds for sending. With m odd (n = 4, 5, 8, 9…) the windows
 * are centred and the cuts symmetric; with m even (n = 3, 6, 7…) some cuts are one-way, e.g. for three
 * members a directed cycle. (Jepsen's n > 5 variant grows a symmetric graph at random instead, which gives
 * some members more than a majority; this one keeps every view exactly a majority.)
 */
function ring(order: string[]): PartitionPlan {
  const n = order.length;
  const m = majority(n);
  const half = Math.floor(m / 2);
  const cuts: Cut[] = [];
  for (let c = 0; c < n; c++) {
    // member c hears positions c-half … c-half+m-1 (mod n) and nobody else
    const hears = new Set<number>();
    for (let k = 0; k < m; k++) hears.add((c - half + k + n) % n);
    for (let x = 0; x < n; x++) if (!hears.has(x)) cuts.push({ from: order[x], to: order[c] });
  }
  const sorted = sortCuts(cuts);
  return { cuts: sorted, summary: `ring ${order.join('→')}: ${describeCuts(sorted)}` };
}

/** Jepsen's bridge: two halves that cannot reach each other, and one member that reaches both. */
function bridge(order: string[]): PartitionPlan {
  const [b, ...rest] = order;
  const a = rest.slice(0, Math.floor(rest.length / 2));
  const c = rest.slice(a.length);
  const plan = fromGroups([a, c], '');
  return { ...plan, bridge: b, summary: `bridge ${b} between ${describeCuts(plan.cuts)}` };
}

/** Every pair of members in different groups, both ways. */
function fromGroups(groups: string[][], label: string): PartitionPlan {
  const cuts: Cut[] = [];
  for (let i = 0; i < groups.length; i++)
    for (let j = 0; j < groups.length; j++)
      if (i !== j) for (const from of groups[i]) for (const to of groups[j]) cuts.push({ from, to });
  const sorted = sortCuts(cuts);
  const summary = describeCuts(sorted);
  return { cuts: sorted, groups: groups.map((g) => [...g]), summary: label ? `${label}: ${summary}` : summary };
}

/**
 * Cuts in a few words: symmetric pairs as "a ⟷ b", one-way ones as "a ↛ b", members with the same
 * counterparts gathered ("s1 ⟷ {s2,s3}", "{s1,s2} ⟷ {s3,s4}"); "no cuts" for none.
 */
export function describeCuts(cuts: readonly Cut[]): string {
  const pairs = new Set(cuts.map(key));
  const both: Cut[] = [];
  const oneWay: Cut[] = [];
  for (const c of cuts) {
    if (!pairs.has(key({ from: c.to, to: c.from }))) oneWay.push(c);
    else if (c.from < c.to) both.push(c);
  }
  const parts = [...gather(both, true).map((g) => `${fmtSet(g[0])} ⟷ ${fmtSet(g[1])}`)];
  parts.push(...gather(oneWay, false).map((g) => `${fmtSet(g[0])} ↛ ${fmtSet(g[1])}`));
  return parts.length ? parts.join('; ') : 'no cuts';
}

/**
 * Greedy cover of a set of pairs by bicliques: the largest (members with the same counterparts) × (those
 * counterparts) first. `symmetric`: a pair stands for both directions.
 */
function gather(cuts: Cut[], symmetric: boolean): [string[], string[]][] {
  const left = new Set(cuts.map(key));
  const out: [string[], string[]][] = [];
  while (left.size) {
    const peers = new Map<string, string[]>();
    for (const k of left) {
      const { from, to } = unkey(k);
      (peers.get(from) ?? peers.set(from, []).get(from)!).push(to);
      if (symmetric) (peers.get(to) ?? peers.set(to, []).get(to)!).push(from);
    }
    const classes = new Map<string, { side: string[]; peers: string[] }>();
    for (const [m, ps] of peers) {
      const sig = [...ps].sort().join('\0');
      const cls = classes.get(sig) ?? classes.set(sig, { side: [], peers: [...ps].sort() }).get(sig)!;
      cls.side.push(m);
    }
    let best: { side: string[]; peers: string[] } | undefined;
    for (const cls of classes.values()) {
      const size = cls.side.length * cls.peers.length;
      const bestSize = best ? best.side.length * best.peers.length : -1;
      // ties: the smaller side first ("s1 ⟷ {s2,s3}" for an isolated s1), then by name
      if (size > bestSize || (size === bestSize && before(cls.side, best!.side))) best = cls;
    }
    const { side, peers: counter } = best!;
    side.sort();
    out.push([side, counter]);
    for (const a of side)
      for (const b of counter) {
        left.delete(key({ from: a, to: b }));
        if (symmetric) left.delete(key({ from: b, to: a }));
      }
  }
  return out;
}

/** The members `member` can still reach (itself included) under these cuts. */
export function reachable(cuts: readonly Cut[], members: readonly string[], member: string): string[] {
  const cut = new Set(cuts.filter((c) => c.from === member).map((c) => c.to));
  return members.filter((m) => !cut.has(m));
}

function resolver(members: string[], leader: string | undefined) {
  return (name: string, field: string): string => {
    // "leader" is the role keyword, even if a member is named so
    if (name === LEADER) {
      if (leader === undefined) throw fieldError(Unprocessable, field, `no member is known to lead now`);
      if (!members.includes(leader)) throw fieldError(NotFound, field, `the leader ${leader} is not a member`);
      return leader;
    }
    if (!members.includes(name))
      throw fieldError(NotFound, field, `no member ${name} (members: ${members.join(', ')})`);
    return name;
  };
}

const majority = (n: number) => Math.floor(n / 2) + 1;

/** Fisher–Yates over the members sorted by name: the seed alone decides, not the order they came in. */
function shuffle(members: readonly string[], rng: Rng): string[] {
  const a = [...members].sort();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** A list of names resolved, each error naming `field` ("from") or its item ("from[1]"). */
function resolveAll(resolve: (name: string, field: string) => string, names: string[], field: string): string[] {
  if (!names.length) throw fieldError(Invalid, field, `expected at least one member`);
  return [...new Set(names.map((n, i) => resolve(n, names.length > 1 ? `${field}[${i}]` : field)))];
}

const key = (c: Cut) => `${c.from}\0${c.to}`;
const unkey = (k: string): Cut => {
  const [from, to] = k.split('\0');
  return { from, to };
};

function sortCuts(cuts: Cut[]): Cut[] {
  const seen = new Map(cuts.map((c) => [key(c), c]));
  return [...seen.values()].sort((a, b) => (a.from === b.from ? cmp(a.to, b.to) : cmp(a.from, b.from)));
}

const before = (a: string[], b: string[]) =>
  a.length !== b.length ? a.length < b.length : [...a].sort().join() < [...b].sort().join();

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function fmtSet(names: readonly string[]): string {
  return names.length === 1 ? names[0] : `{${[...names].sort().join(',')}}`;
}

/** A domain error about one field: the message names it, and so does the detail's path. */
function fieldError(
  Cls: typeof Invalid | typeof NotFound | typeof Unprocessable,
  field: string,
  message: string,
): Error {
  return new Cls(`${field}: ${message}`, [{ path: field, message }]);
}
