// Fault windows as applied: every link fault, partition and member fault opens a window when it takes
// effect and closes it when it is undone, whoever applied it (a scenario, the API, the CLI). Each edge
// is stamped when the proxy, the peer network or the process action acted — not when it was planned —
// and carries the leader and raft term seen right then. Leader changes between windows are tracked by a
// once-a-second status round while a load or a scenario runs. Everything goes to the run's timeline
// as marks (the report attributes latency and violations to the windows from them).
import { EventEmitter } from 'node:events';
import type { TimelineMark } from '../loadgen/events.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** One edge of a window, or a leader change, as the run's timeline records it. */
export type WindowMark = Extract<TimelineMark, { mark: 'window' | 'leader' }>;

export interface WindowRecord {
  id: string;
  kind: string;
  target: string;
  /** epoch ms it took effect */
  start: number;
  end?: number;
  leaderAtStart?: string | null;
  termAtStart?: number;
  leaderAtEnd?: string | null;
  termAtEnd?: number;
  scenario?: string;
  step?: string;
}

export interface LeaderView {
  leader: string | null;
  term: number;
}

export interface WindowLogDeps {
  clock: Clock;
  /** who leads now and at which term (a status round; null when no member answers as leader) */
  leader(): Promise<LeaderView>;
  /** where marks go (the running load's timeline) */
  sink(m: WindowMark): void;
  /** whether leader changes are worth tracking now (a load or a scenario runs) */
  tracking(): boolean;
  logger?: Logger;
  /** ms between leader polls (default 1000) */
  pollMs?: number;
}

/** windows kept after they end, for /scenarios and the API (the timeline keeps them all) */
const KEEP_ENDED = 1000;

/** Emits 'start'(WindowRecord) and 'end'(WindowRecord) as windows open and close, 'leader'(the leader mark) on a change. */
export class WindowLog extends EventEmitter {
  private readonly open = new Map<string, { rec: WindowRecord; parts: number }>();
  private readonly ended: WindowRecord[] = [];
  private last: LeaderView | undefined;
  /** the last member seen leading (null before any) */
  private lastLeader: string | null = null;
  private poll: TimerHandle | undefined;
  private polling = false;
  private closed = false;

  constructor(private readonly deps: WindowLogDeps) {
    super();
    this.schedule();
  }

  /**
   * A fault took effect. A fault on several links (one id, one part per link) is one window: it opens
   * with its first part and ends with its last.
   */
  start(id: string, kind: string, target: string, at = this.deps.clock.wallNow()): void {
    const cur = this.open.get(id);
    if (cur) {
      cur.parts++;
      return;
    }
    // the leader as the status round last saw it (at most a second old); a round starts now so the
    // timeline's next leader mark follows the fault's effect closely
    const v = this.last;
    const rec: WindowRecord = { id, kind, target, start: at, leaderAtStart: v?.leader, termAtStart: v?.term };
    this.open.set(id, { rec, parts: 1 });
    this.emit('start', rec);
    // written on the next turn: whoever applied it (a targeted fault, a scenario step) names it first
    setImmediate(() => this.write({ mark: 'window', edge: 'start', ...this.markOf(rec), at, ...leaderOf(v) }));
    this.pollSoon();
  }

  /** One part of a window was undone; the window ends with its last part. */
  end(id: string, at = this.deps.clock.wallNow()): void {
    const cur = this.open.get(id);
    if (!cur) return;
    if (--cur.parts > 0) return;
    this.open.delete(id);
    const rec = cur.rec;
    const v = this.last;
    rec.end = at;
    rec.leaderAtEnd = v?.leader;
    rec.termAtEnd = v?.term;
    this.ended.push(rec);
    if (this.ended.length > KEEP_ENDED) this.ended.splice(0, this.ended.length - KEEP_ENDED);
    this.emit('end', rec);
    setImmediate(() => this.write({ mark: 'window', edge: 'end', ...this.markOf(rec), at, ...leaderOf(v) }));
    this.pollSoon();
  }

  /** A one-shot fault (a reset): a window that ends where it starts. */
  instant(id: string, kind: string, target: string, at = this.deps.clock.wallNow()): void {
    this.start(id, kind, target, at);
    this.end(id, at);
  }

  /** Names what a window is once its applier knows more than the proxy did (a target, a scenario step). */
  describe(id: string, what: { target?: string; scenario?: string; step?: string }): void {
    const rec = this.open.get(id)?.rec ?? this.ended.find((r) => r.id === id);
    if (!rec) return;
    if (what.target) rec.target = what.target;
    if (what.scenario) rec.scenario = what.scenario;
    if (what.step) rec.step = what.step;
  }

  get(id: string): WindowRecord | undefined {
    return this.open.get(id)?.rec ?? this.ended.find((r) => r.id === id);
  }

  active(): WindowRecord[] {
    return [...this.open.values()].map((o) => o.rec);
  }

  /** Recently ended windows, oldest first (at most the last 1000). */
  recent(): WindowRecord[] {
    return [...this.ended];
  }

  /** The leader as last seen by the status round. */
  get leader(): LeaderView | undefined {
    return this.last;
  }

  close(): void {
    this.closed = true;
    this.poll?.cancel();
  }

  private markOf(rec: WindowRecord) {
    return {
      id: rec.id,
      kind: rec.kind,
      target: rec.target,
      ...(rec.scenario && { scenario: rec.scenario }),
      ...(rec.step && { step: rec.step }),
    };
  }

  private write(m: WindowMark): void {
    try {
      this.deps.sink(m);
    } catch (err) {
      this.deps.logger?.warn({ err }, 'cannot record a timeline mark');
    }
  }

  /** Asks who leads, records a change, and answers (undefined when the members cannot be asked). */
  private async leaderNow(): Promise<LeaderView | undefined> {
    let v: LeaderView;
    try {
      v = await this.deps.leader();
    } catch {
      return this.last;
    }
    this.last = v;
    // a round where nobody answers as leader is an election in progress, not a change of leader; the
    // first leader seen is written too (previous null), so the timeline starts with who led
    if (v.leader !== null && v.leader !== this.lastLeader) {
      const mark: WindowMark = {
        mark: 'leader',
        at: this.deps.clock.wallNow(),
        leader: v.leader,
        term: v.term,
        previous: this.lastLeader,
      };
      this.write(mark);
      this.lastLeader = v.leader;
      this.emit('leader', mark);
    }
    return v;
  }

  /** A status round right away (not while one runs): a fault's effect on the leader shows soon. */
  private pollSoon(): void {
    if (this.closed || this.polling || !this.deps.tracking()) return;
    this.poll?.cancel();
    this.polling = true;
    void this.leaderNow().finally(() => {
      this.polling = false;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.closed) return;
    this.poll = this.deps.clock.setTimeout(
      () => {
        if (this.polling || !this.deps.tracking()) return this.schedule();
        this.polling = true;
        void this.leaderNow().finally(() => {
          this.polling = false;
          this.schedule();
        });
      },
      this.deps.pollMs ?? 1000,
      { unref: true },
    );
  }
}

function leaderOf(v: LeaderView | undefined): { leader?: string | null; term?: number } {
  return v ? { leader: v.leader, term: v.term } : {};
}
