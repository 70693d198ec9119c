// Faults addressed to targets: one fault, one id and one expiry over every link its target selects
// (links by name, members by name or role, their client or peer links). Each link holds its part under
// the fault's id; a part replaced by a newer fault of the same type on that link, or gone with its
// link, leaves the fault, which ends with its last part.
import type { FaultInfo, FaultScope, FaultSpec, FaultType } from '../proxy/types.js';
import type { FaultTarget } from '../schema/target.js';
import type { Clock } from '../util/clock.js';
import { NotFound, Unprocessable } from '../util/errors.js';

/** What the book needs of a link. */
export interface TargetLink {
  readonly name: string;
  addFault(spec: FaultSpec, opts?: { id?: string }): FaultInfo;
  removeFault(id: string): boolean;
  listFaults(): FaultInfo[];
}

/** What the book needs to know of a member to resolve a target. */
export interface TargetMember {
  name: string;
  clientLink?: string;
  peerLink?: string;
}

export interface TargetedFault {
  id: string;
  type: FaultType;
  scope: FaultScope;
  spec: FaultSpec;
  target: FaultTarget;
  /** the links it applies to now */
  links: string[];
  createdAt: string;
  expiresAt?: string;
}

export interface FaultBookDeps {
  clock: Clock;
  link(name: string): TargetLink | undefined;
  links(): TargetLink[];
  members(): TargetMember[];
  /** the names of the members that lead now (asks the members) */
  leaders(): Promise<string[]>;
  /** a targeted fault is in force on its links */
  added?(f: TargetedFault): void;
}

/** one-shot faults act once and are not kept */
export const ONE_SHOT = new Set<FaultType>(['reset', 'reset-listener']);

export class FaultBook {
  private readonly faults = new Map<string, { info: TargetedFault; parts: Map<string, string> }>();
  private seq = 0;
  private applyingId: string | undefined;

  constructor(private readonly deps: FaultBookDeps) {}

  /** The id of the targeted fault being put on its links right now (its parts' link events name it). */
  get applying(): string | undefined {
    return this.applyingId;
  }

  /** The link names a target selects now; NotFound for an unknown link or member, Unprocessable when none. */
  async resolve(target: FaultTarget): Promise<string[]> {
    const out = new Set<string>();
    for (const l of target.links ?? []) {
      if (!this.deps.link(l))
        throw new NotFound(`no link named ${JSON.stringify(l)}`, [
          { path: 'target.links', message: `unknown link ${l}` },
        ]);
      out.add(l);
    }
    if (target.members || target.role || target.kind) {
      const all = this.deps.members();
      let chosen = all;
      if (target.members) {
        chosen = target.members.map((n) => {
          const m = all.find((x) => x.name === n);
          if (!m)
            throw new NotFound(`no member named ${JSON.stringify(n)}`, [
              { path: 'target.members', message: `unknown member ${n}` },
            ]);
          return m;
        });
      }
      if (target.role) {
        const leaders = new Set(await this.deps.leaders());
        if (!leaders.size)
          throw new Unprocessable('no member answers as leader now', [{ path: 'target.role', message: 'no leader' }]);
        chosen = chosen.filter((m) => leaders.has(m.name) === (target.role === 'leader'));
      }
      for (const m of chosen) {
        if (target.kind !== 'peer' && m.clientLink) out.add(m.clientLink);
        if (target.kind !== 'client' && m.peerLink) out.add(m.peerLink);
      }
    }
    if (!out.size)
      throw new Unprocessable('the target selects no link', [{ path: 'target', message: 'matches no link' }]);
    return [...out];
  }

  /** Applies `spec` to every link the target selects, as one fault with one id. */
  async add(spec: FaultSpec, target: FaultTarget): Promise<TargetedFault> {
    const names = await this.resolve(target);
    const id = `f${++this.seq}`;
    const now = this.deps.clock.wallNow();
    const parts = new Map<string, string>();
    let scope: FaultScope | undefined;
    this.applyingId = id;
    for (const n of names) {
      const link = this.deps.link(n);
      if (!link) continue; // removed while the target was resolved
      const part = link.addFault(spec, { id });
      scope = part.scope;
      parts.set(n, part.id);
    }
    const info: TargetedFault = {
      id,
      type: spec.type,
      scope: scope ?? 'link',
      spec,
      target,
      links: [...parts.keys()],
      createdAt: new Date(now).toISOString(),
    };
    if (spec.duration !== undefined && !ONE_SHOT.has(spec.type))
      info.expiresAt = new Date(now + spec.duration).toISOString();
    this.applyingId = undefined;
    if (!ONE_SHOT.has(spec.type) && parts.size) this.faults.set(id, { info, parts });
    if (parts.size) this.deps.added?.(info);
    return { ...info, links: [...info.links] };
  }

  /** Every active fault: the targeted ones, then those added to one link (as a target of that link). */
  list(): TargetedFault[] {
    const out = [...this.faults.values()].map(({ info }) => ({ ...info, links: [...info.links] }));
    for (const link of this.deps.links())
      for (const f of link.listFaults()) if (!this.isPart(link.name, f.id)) out.push(linkFault(link.name, f));
    return out;
  }

  get(id: string): TargetedFault {
    const f = this.faults.get(id);
    if (f) return { ...f.info, links: [...f.info.links] };
    for (const link of this.deps.links()) {
      const lf = link.listFaults().find((x) => x.id === id);
      if (lf && !this.isPart(link.name, id)) return linkFault(link.name, lf);
    }
    throw new NotFound(`no fault ${JSON.stringify(id)}`, [{ path: 'id', message: 'no active fault has this id' }]);
  }

  private isPart(linkName: string, partId: string): boolean {
    for (const f of this.faults.values()) if (f.parts.get(linkName) === partId) return true;
    return false;
  }

  /** Removes a fault (targeted: from every link it is on); false when no active fault has this id. */
  remove(id: string): boolean {
    const f = this.faults.get(id);
    if (!f) {
      for (const link of this.deps.links()) if (!this.isPart(link.name, id) && link.removeFault(id)) return true;
      return false;
    }
    for (const [name, partId] of [...f.parts]) this.deps.link(name)?.removeFault(partId);
    this.faults.delete(id); // a link that was already gone announces nothing
    return true;
  }

  /** Removes every fault, targeted or not; how many. */
  clear(): number {
    let n = this.faults.size;
    for (const id of [...this.faults.keys()]) this.remove(id);
    for (const link of this.deps.links()) {
      const left = link.listFaults();
      for (const f of left) link.removeFault(f.id);
      n += left.length;
    }
    return n;
  }

  /** A link lost a fault (expired, removed, replaced, cleared, or the link went away): the fault loses that part. */
  partRemoved(linkName: string, partId: string): void {
    for (const [id, f] of this.faults) {
      if (f.parts.get(linkName) !== partId) continue;
      f.parts.delete(linkName);
      f.info.links = [...f.parts.keys()];
      if (!f.parts.size) this.faults.delete(id);
    }
  }
}

/** A fault added to one link, shown as a fault whose target is that link. */
function linkFault(link: string, f: FaultInfo): TargetedFault {
  return { ...f, target: { links: [link] }, links: [link] };
}
