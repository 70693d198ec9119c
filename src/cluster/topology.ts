// The members of the cluster under test, as one model: each member's name, id (learned from etcd), own
// client and peer URLs, the links in front of it, and for a launched member its process handle. The
// lab builds it from its layout, a config for an existing cluster from its member list; links that name
// a member attach to it. Endpoints, the banner, /cluster (and later faults by member or role) ask it.
import { memberStatuses, type MemberStatus } from '../etcd/control.js';
import { Conflict, NotFound, Unprocessable } from '../util/errors.js';
import type { MemberProcess, MemberState } from './process.js';

export type MemberLinkKind = 'client' | 'peer';

export interface MemberInit {
  name: string;
  /** the member's own client URL ("http://host:port", or "host:port") */
  clientUrl?: string;
  /** the member's own peer URL */
  peerUrl?: string;
  /** etcd's id for it (hex), when known already */
  id?: string;
  process?: MemberProcess;
}

export class Member {
  readonly name: string;
  /** etcd's member id in hex (as etcdctl prints it), once a status answer told it */
  id: string | undefined;
  clientUrl: string | undefined;
  peerUrl: string | undefined;
  /** launched members only */
  process: MemberProcess | undefined;
  /** links in front of the member, in the order they were attached */
  readonly clientLinks: string[] = [];
  readonly peerLinks: string[] = [];

  constructor(
    init: MemberInit,
    /** from a launch or a config (stays when its links go), or known only because a link names it */
    readonly declared: boolean,
  ) {
    this.name = init.name;
    this.id = init.id;
    this.clientUrl = init.clientUrl && withScheme(init.clientUrl);
    this.peerUrl = init.peerUrl && withScheme(init.peerUrl);
    this.process = init.process;
  }

  /** the member's own client address, host:port */
  get client(): string | undefined {
    return this.clientUrl && hostPort(this.clientUrl);
  }

  get peer(): string | undefined {
    return this.peerUrl && hostPort(this.peerUrl);
  }

  /** the (first) link in front of its client port */
  get clientLink(): string | undefined {
    return this.clientLinks[0];
  }

  get peerLink(): string | undefined {
    return this.peerLinks[0];
  }

  /** launched members: running, stopped (frozen) or exited */
  get state(): MemberState | undefined {
    return this.process?.state;
  }
}

/** One member's answer to a status request (or why there was none). */
export interface MemberAnswer {
  member: Member;
  status: MemberStatus;
}

export interface Roles {
  leader: Member | undefined;
  /** members that answered and do not lead */
  followers: Member[];
  /** members that did not answer (frozen, exited, cut off) and are not known to lead */
  unreachable: Member[];
  answers: MemberAnswer[];
}

export class Topology {
  private readonly members = new Map<string, Member>();
  private readonly links = new Map<string, { member: Member; kind: MemberLinkKind }>();

  constructor(members: MemberInit[] = []) {
    for (const m of members) this.add(m);
  }

  /** Declares a member (Conflict when the name is taken). */
  add(init: MemberInit): Member {
    if (this.members.has(init.name)) throw new Conflict(`member ${JSON.stringify(init.name)} already exists`);
    const m = new Member(init, true);
    this.members.set(m.name, m);
    return m;
  }

  list(): Member[] {
    return [...this.members.values()];
  }

  get size(): number {
    return this.members.size;
  }

  find(name: string): Member | undefined {
    return this.members.get(name);
  }

  get(name: string): Member {
    const m = this.members.get(name);
    if (!m) throw new NotFound(`no member named ${JSON.stringify(name)}`);
    return m;
  }

  /** A launched member's process handle (NotFound: no such member; Unprocessable: this daemon did not launch it). */
  processOf(name: string): MemberProcess {
    const m = this.get(name);
    if (!m.process)
      throw new Unprocessable(`member ${name} was not launched by this daemon: there is no process to act on`, [
        { path: 'member', message: 'not launched by this daemon' },
      ]);
    return m.process;
  }

  /** Gives a declared member its process handle (the launcher starts members after the topology is built). */
  attachProcess(name: string, process: MemberProcess): void {
    this.get(name).process = process;
  }

  /**
   * A link in front of a member's client or peer port. A member the topology does not know yet is
   * added from the link (its URL is the link's upstream) and goes away with its last link.
   */
  attachLink(link: { name: string; kind: MemberLinkKind; member: string; upstream: string }): Member {
    if (this.links.has(link.name)) throw new Conflict(`link ${JSON.stringify(link.name)} is attached already`);
    let m = this.members.get(link.member);
    if (!m) this.members.set(link.member, (m = new Member({ name: link.member }, false)));
    // a link's upstream is the member's own URL on that side, unless the member's declaration says otherwise
    if (link.kind === 'client') m.clientUrl ??= withScheme(link.upstream);
    else m.peerUrl ??= withScheme(link.upstream);
    (link.kind === 'client' ? m.clientLinks : m.peerLinks).push(link.name);
    this.links.set(link.name, { member: m, kind: link.kind });
    return m;
  }

  /** Forgets a link (nothing to do for one that is not a member's). */
  detachLink(name: string): void {
    const at = this.links.get(name);
    if (!at) return;
    this.links.delete(name);
    const list = at.kind === 'client' ? at.member.clientLinks : at.member.peerLinks;
    list.splice(list.indexOf(name), 1);
    if (!at.member.declared && !at.member.clientLinks.length && !at.member.peerLinks.length)
      this.members.delete(at.member.name);
  }

  /** The member a link is in front of, and on which side. */
  byLink(name: string): { member: Member; kind: MemberLinkKind } | undefined {
    return this.links.get(name);
  }

  /** A member's links by side (NotFound for an unknown member). */
  linksOf(name: string): { client: string[]; peer: string[] } {
    const m = this.get(name);
    return { client: [...m.clientLinks], peer: [...m.peerLinks] };
  }

  /**
   * What a load dials: the members' client links (at the address `linkEndpoint` gives for a link),
   * else, when no member has one, the members' own client addresses.
   */
  clientEndpoints(linkEndpoint: (link: string) => string | undefined): string[] {
    const viaLinks = this.list()
      .flatMap((m) => m.clientLinks.map(linkEndpoint))
      .filter((e): e is string => !!e);
    if (viaLinks.length) return viaLinks;
    return this.list()
      .map((m) => m.client)
      .filter((e): e is string => !!e);
  }

  /**
   * Asks every member with a client URL for its own status (straight, not through a link) and learns
   * the ids from the answers. Members without a client URL get `ok: false`.
   */
  async statuses(deadlineMs = 2000): Promise<MemberAnswer[]> {
    const members = this.list();
    const asked = members.filter((m) => m.client);
    const st = await memberStatuses(
      asked.map((m) => m.client!),
      deadlineMs,
    );
    learnIds(asked, st);
    return members.map((member) => {
      const i = asked.indexOf(member);
      return { member, status: i >= 0 ? st[i] : { endpoint: '', ok: false, error: 'no client endpoint known' } };
    });
  }

  /** The leader and the followers, resolved now by asking the members. */
  async roles(deadlineMs = 2000): Promise<Roles> {
    return resolveRoles(await this.statuses(deadlineMs));
  }
}

/** Records each answering member's id (hex). */
function learnIds(members: Member[], st: MemberStatus[]): void {
  members.forEach((m, i) => {
    const id = st[i]?.ok && st[i].memberId ? hexId(st[i].memberId!) : undefined;
    if (id) m.id = id;
  });
}

/**
 * Who leads, from the members' answers: the leader named by the answer in the highest raft term (a
 * member cut off from the others may still name an old leader in an older term). Pure.
 */
export function resolveRoles(answers: MemberAnswer[]): Roles {
  let best: MemberStatus | undefined;
  for (const { status } of answers) {
    if (!status.ok || !status.leader || status.leader === '0') continue;
    if (!best || (status.raftTerm ?? 0) > (best.raftTerm ?? 0)) best = status;
  }
  const leaderId = best?.leader ? hexId(best.leader) : undefined;
  const leader = leaderId ? answers.find((a) => a.member.id === leaderId)?.member : undefined;
  return {
    leader,
    followers: answers.filter((a) => a.status.ok && a.member !== leader).map((a) => a.member),
    unreachable: answers.filter((a) => !a.status.ok && a.member !== leader).map((a) => a.member),
    answers,
  };
}

/** etcd's ids come as decimal strings from the API; etcdctl prints them in hex. */
export function hexId(id: string): string {
  return /^\d+$/.test(id) ? BigInt(id).toString(16) : id.toLowerCase();
}

function withScheme(url: string): string {
  return url.includes('://') ? url : `http://${url}`;
}

function hostPort(url: string): string {
  return url.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '');
}
