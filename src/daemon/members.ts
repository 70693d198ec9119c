// Member process faults on the members this daemon launched: kill (SIGKILL), stop (SIGTERM), freeze
// (SIGSTOP to the member's group), continue (SIGCONT), restart (same data dir, flags and links) and
// start, each addressed by member name or by role (leader, follower, random-follower: resolved when
// applied). What takes a member away is a window (m1, m2, …) from the moment the action took effect
// until the member is back: kill/stop until a start or restart serves again, freeze until continue (or
// a kill/restart), a restart of a live member from its stop until it serves again. A member has at most
// one window open. Emits 'window'(MemberWindowEdge) at each edge and 'action'(MemberActionResult).
import { EventEmitter } from 'node:events';
import type { MemberProcess, MemberState } from '../cluster/process.js';
import type { Topology } from '../cluster/topology.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { Conflict, Invalid, NotFound, Unprocessable } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export const MEMBER_ACTIONS = ['kill', 'stop', 'freeze', 'continue', 'restart', 'start'] as const;
/** kill = SIGKILL; stop = SIGTERM; freeze = SIGSTOP; continue = SIGCONT; restart, start: resolve once serving */
export type MemberAction = (typeof MEMBER_ACTIONS)[number];

export const MEMBER_ROLES = ['leader', 'follower', 'random-follower'] as const;
export type MemberRole = (typeof MEMBER_ROLES)[number];

export type MemberWindowKind = 'kill' | 'stop' | 'freeze' | 'restart';

export interface MemberActionOptions {
  /** ms: undo the action after it (freeze → continue, kill/stop → start) */
  duration?: number;
  /** members random-follower must not pick */
  avoid?: string[];
}

export interface MemberActionResult {
  member: string;
  action: MemberAction;
  state: MemberState;
  pid?: number;
  /** ISO time the action took effect */
  at: string;
  /** the member fault window it opened or closed */
  window?: string;
}

export interface MemberWindowEdge {
  edge: 'start' | 'end';
  id: string;
  kind: MemberWindowKind;
  member: string;
  /** epoch ms when it took effect */
  at: number;
}

export interface ActiveMemberWindow {
  id: string;
  kind: MemberWindowKind;
  member: string;
  since: string;
}

export interface MemberBookDeps {
  topology: Topology;
  clock: Clock;
  logger: Logger;
  /** seeded: the random-follower picks replay with the run's seed */
  rng: { next(): number };
}

interface OpenWindow {
  id: string;
  kind: MemberWindowKind;
  member: string;
  since: number;
  undo?: TimerHandle;
}

/** a started member must serve within this */
const SERVE_TIMEOUT_MS = 30000;
/** how long a role waits for a leader to be known (an election under way) */
const ROLE_WAIT_MS = 5000;
/** each member's status deadline while resolving a role (a frozen member never answers) */
const ROLE_DEADLINE_MS = 1000;

const isRole = (t: string): t is MemberRole => (MEMBER_ROLES as readonly string[]).includes(t);
const isAction = (a: string): a is MemberAction => (MEMBER_ACTIONS as readonly string[]).includes(a);

export class MemberBook extends EventEmitter {
  /** the open window per member */
  private readonly open = new Map<string, OpenWindow>();
  /** members a start or restart of ours is bringing back (anything else is a Conflict meanwhile) */
  private readonly busy = new Set<string>();
  private seq = 0;

  constructor(private readonly deps: MemberBookDeps) {
    super();
  }

  /**
   * Applies `action` to a member (by name or role) and resolves once it took effect (restart and
   * start: once the member serves). NotFound: unknown member; Unprocessable: not launched here, a role
   * nobody fills, freeze/continue of an exited member; Conflict: the member is restarting.
   */
  async act(target: string, action: MemberAction, opts: MemberActionOptions = {}): Promise<MemberActionResult> {
    if (!isAction(action))
      throw new Invalid(`unknown member action ${JSON.stringify(action)}`, [
        { path: 'action', message: `expected one of ${MEMBER_ACTIONS.join(', ')}` },
      ]);
    const undoable = action === 'kill' || action === 'stop' || action === 'freeze';
    if (opts.duration !== undefined && !undoable)
      throw new Invalid(`a duration undoes kill, stop or freeze, not ${action}`, [
        { path: 'duration', message: 'only with kill, stop or freeze' },
      ]);
    const name = await this.resolve(target, opts.avoid ?? []);
    const p = this.processOf(name);
    if (this.busy.has(name))
      throw new Conflict(`member ${name} is restarting`, [{ path: 'target', message: 'restarting' }]);
    const r = await this.apply(name, p, action);
    const w = this.open.get(name);
    if (opts.duration !== undefined && w && w.id === r.window) this.undoAfter(w, opts.duration);
    this.deps.logger.info({ ...r, target }, 'member action');
    this.emit('action', r);
    return r;
  }

  /** The open member fault windows. */
  active(): ActiveMemberWindow[] {
    return [...this.open.values()].map((w) => ({
      id: w.id,
      kind: w.kind,
      member: w.member,
      since: new Date(w.since).toISOString(),
    }));
  }

  /**
   * Ends every timed undo and brings back every member under a window (continue the frozen, start the
   * exited); a start or restart under way finishes by itself. Resolves once done; how many windows it
   * found open.
   */
  async clear(): Promise<number> {
    const windows = [...this.open.values()];
    for (const w of windows) this.cancelUndo(w);
    const restored = await Promise.allSettled(windows.map((w) => this.restore(w.member)));
    restored.forEach((r, i) => {
      if (r.status === 'rejected')
        this.deps.logger.warn({ member: windows[i].member, err: r.reason }, 'could not restore a member');
    });
    return windows.length;
  }

  private async restore(member: string): Promise<void> {
    if (this.busy.has(member)) return;
    const state = this.processOf(member).state;
    if (state === 'exited') await this.act(member, 'start');
    else if (state === 'stopped') await this.act(member, 'continue');
    else this.close(member, this.deps.clock.wallNow()); // running again by other means
  }

  private async resolve(target: string, avoid: string[]): Promise<string> {
    const { topology } = this.deps;
    if (!isRole(target)) {
      if (!topology.find(target))
        throw new NotFound(`no member named ${JSON.stringify(target)}`, [
          { path: 'target', message: `no such member (or role: ${MEMBER_ROLES.join(', ')})` },
        ]);
      return target;
    }
    // a real wait on real members (not the injected clock, which may be a manual one)
    const deadline = Date.now() + ROLE_WAIT_MS;
    let roles = await topology.roles(ROLE_DEADLINE_MS);
    while (!roles.leader && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      roles = await topology.roles(ROLE_DEADLINE_MS);
    }
    if (!roles.leader)
      throw new Unprocessable(`cannot resolve ${target}: no member answers as leader now`, [
        { path: 'target', message: 'no leader' },
      ]);
    if (target === 'leader') return roles.leader.name;
    const followers = roles.followers.map((m) => m.name).sort();
    if (target === 'follower') {
      if (!followers.length)
        throw new Unprocessable('cannot resolve follower: no follower answers now', [
          { path: 'target', message: 'no follower' },
        ]);
      return followers[0];
    }
    const pool = followers.filter(
      (n) => topology.find(n)?.state === 'running' && !this.open.has(n) && !this.busy.has(n) && !avoid.includes(n),
    );
    if (!pool.length)
      throw new Unprocessable(
        `cannot resolve random-follower: no running follower free of member faults${avoid.length ? ` outside ${avoid.join(', ')}` : ''}`,
        [{ path: 'target', message: 'no eligible follower' }],
      );
    return pool[Math.floor(this.deps.rng.next() * pool.length)];
  }

  private processOf(name: string): MemberProcess {
    const m = this.deps.topology.get(name);
    if (!m.process)
      throw new Unprocessable(`member ${name} was not launched by this daemon: there is no process to act on`, [
        { path: 'target', message: 'not launched by this daemon' },
      ]);
    return m.process;
  }

  private async apply(name: string, p: MemberProcess, action: MemberAction): Promise<MemberActionResult> {
    const now = () => this.deps.clock.wallNow();
    switch (action) {
      case 'kill':
      case 'stop': {
        // nothing to do for an exited member: its open window (if any) stands
        if (p.state === 'exited') return this.result(name, action, p, now(), this.open.get(name)?.id);
        // SIGKILL acts on delivery (the member stops there; its exit is reaped later); a stopped member
        // serves until it exits
        const sent = now();
        await p.kill(action === 'kill' ? 'SIGKILL' : 'SIGTERM');
        const at = action === 'kill' ? sent : now();
        this.close(name, at); // a freeze ends with the process
        return this.result(name, action, p, at, this.openWindow(name, action, at).id);
      }
      case 'freeze': {
        const was = p.state;
        // SIGSTOP acts on delivery; /proc shows it a little later
        const at = now();
        await p.freeze();
        const held = this.open.get(name);
        if (was === 'stopped' && held?.kind === 'freeze') return this.result(name, action, p, at, held.id);
        return this.result(name, action, p, at, this.openWindow(name, 'freeze', at).id);
      }
      case 'continue': {
        await p.thaw();
        const at = now();
        return this.result(name, action, p, at, this.close(name, at, 'freeze'));
      }
      case 'start': {
        if (p.running) return this.result(name, action, p, now());
        return this.bringBack(name, p, action, async () => {
          p.start();
          await p.waitServing(SERVE_TIMEOUT_MS);
        });
      }
      case 'restart': {
        // a live member's restart is a window of its own from the moment its process is gone
        const onExit = () => {
          const at = now();
          this.close(name, at);
          this.openWindow(name, 'restart', at);
        };
        if (p.running) p.once('exit', onExit);
        try {
          return await this.bringBack(name, p, action, () => p.restart({ timeoutMs: SERVE_TIMEOUT_MS }));
        } finally {
          p.off('exit', onExit);
        }
      }
    }
  }

  /** Runs a start or restart; once the member serves, its window closes. A failure leaves it open. */
  private async bringBack(
    name: string,
    p: MemberProcess,
    action: MemberAction,
    run: () => Promise<void>,
  ): Promise<MemberActionResult> {
    this.busy.add(name);
    try {
      await run();
    } finally {
      this.busy.delete(name);
    }
    const at = this.deps.clock.wallNow();
    return this.result(name, action, p, at, this.close(name, at));
  }

  private result(
    member: string,
    action: MemberAction,
    p: MemberProcess,
    at: number,
    window?: string,
  ): MemberActionResult {
    const pid = p.pid;
    return {
      member,
      action,
      state: p.state,
      ...(pid !== undefined ? { pid } : {}),
      at: new Date(at).toISOString(),
      ...(window ? { window } : {}),
    };
  }

  private openWindow(member: string, kind: MemberWindowKind, at: number): OpenWindow {
    const w: OpenWindow = { id: `m${++this.seq}`, kind, member, since: at };
    this.open.set(member, w);
    this.emit('window', { edge: 'start', id: w.id, kind, member, at } satisfies MemberWindowEdge);
    return w;
  }

  /** Closes the member's open window (only one of `kind`, when given); its id. */
  private close(member: string, at: number, kind?: MemberWindowKind): string | undefined {
    const w = this.open.get(member);
    if (!w || (kind && w.kind !== kind)) return undefined;
    this.cancelUndo(w);
    this.open.delete(member);
    this.emit('window', { edge: 'end', id: w.id, kind: w.kind, member, at } satisfies MemberWindowEdge);
    return w.id;
  }

  /**
   * A timed action undoes itself (a newer duration wins): a frozen member continues, an exited one starts
   * — judged when the time comes, so a frozen member that died meanwhile is started.
   */
  private undoAfter(w: OpenWindow, ms: number): void {
    this.cancelUndo(w);
    w.undo = this.deps.clock.setTimeout(
      () => {
        w.undo = undefined;
        if (this.open.get(w.member) !== w) return;
        this.restore(w.member).catch((err: unknown) =>
          this.deps.logger.warn({ member: w.member, window: w.id, err }, 'the timed undo of a member fault failed'),
        );
      },
      ms,
      { unref: true },
    );
  }

  private cancelUndo(w: OpenWindow): void {
    w.undo?.cancel();
    w.undo = undefined;
  }
}
