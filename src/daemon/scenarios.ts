// Runs expanded scenario plans (src/scenario/) against the daemon: each track starts at its offset and
// runs its items in order; an action with a duration holds its track that long and is then undone;
// a wait polls a condition until its timeout. Aborting (or the daemon closing) cancels every timer and
// undoes every action still in force: faults removed, partitions healed, members continued or started.
// One scenario runs at a time: two plans drawing members at random would defeat each one's quorum guard.
import { EventEmitter } from 'node:events';
import type { ScenarioAction, ScenarioPlan, Track } from '../scenario/index.js';
import { Rng } from '../util/rng.js';
import type { TimerHandle } from '../util/clock.js';
import { Conflict, NotFound } from '../util/errors.js';
import type { WindowRecord } from './windows.js';
import { describeAction, StepActions, type Condition, type ScenarioDeps } from './scenario-actions.js';

export type { Condition, ScenarioDeps };

export interface StepRecord {
  step: string;
  track: string;
  label: string;
  action: string;
  /** ms after the scenario start the step was due, when that is known in advance (not after a wait) */
  plannedAt?: number;
  /** ms after the start it took effect (its window's start, else when the action returned) */
  appliedAt?: number;
  /** appliedAt − plannedAt */
  skewMs?: number;
  undoneAt?: number;
  /** the window it opened (fault, partition or member window id) */
  window?: string;
  member?: string;
  error?: string;
}

export interface ScenarioStatus {
  id: string;
  name: string;
  hash: string;
  seed: number;
  state: 'running' | 'done' | 'aborted';
  startedAt: string;
  endedAt?: string;
  elapsed: number;
  tracks: { total: number; done: number };
  steps: { planned: number; applied: number; failed: number };
  /** the windows of this scenario in force now */
  active: WindowRecord[];
  /** every step applied so far, with its timing */
  log: StepRecord[];
  /** waits that timed out, steps that failed */
  errors: string[];
  skew: { p50: number; p99: number; max: number; count: number };
}

const POLL_MS = 500;
/** how long before its due time a step's roles are resolved (a status round takes up to a second) */
const RESOLVE_AHEAD_MS = 1000;

/** One scenario run. Emits 'done'(ScenarioStatus). */
export class ScenarioRun extends EventEmitter {
  private state: ScenarioStatus['state'] = 'running';
  private readonly t0: number;
  private readonly startedWall: number;
  private endedWall: number | undefined;
  private readonly log: StepRecord[] = [];
  private readonly errors: string[] = [];
  /** undo functions of the actions in force, by step */
  private readonly undos = new Map<string, () => Promise<void>>();
  private readonly sleeps = new Set<{ timer: TimerHandle; wake: () => void }>();
  private tracksDone = 0;
  private trackCount = 0;
  /** applies and undoes the steps' actions; knows which members the run has taken */
  private readonly actions: StepActions;
  private ended: Promise<void>;
  private endNow!: () => void;

  constructor(
    readonly id: string,
    readonly plan: ScenarioPlan,
    private readonly deps: ScenarioDeps,
  ) {
    super();
    this.t0 = deps.clock.now();
    this.startedWall = deps.clock.wallNow();
    this.ended = new Promise((r) => (this.endNow = r));
    this.actions = new StepActions(deps, new Rng(plan.seed));
  }

  start(): void {
    this.deps.mark({
      mark: 'scenario',
      at: this.startedWall,
      id: this.id,
      name: this.plan.name,
      event: 'start',
      hash: this.plan.hash,
    });
    // the scenario lasts its duration, or until its last track ends if that is later
    const tracks: Track[] = [...this.plan.tracks];
    if (this.plan.duration !== undefined) tracks.push({ id: 'end', at: this.plan.duration, label: 'end', items: [] });
    this.trackCount = tracks.length;
    if (!tracks.length) return this.finish('done');
    for (const t of tracks)
      void this.runTrack(t)
        .catch((err) => this.errors.push(`track ${t.id}: ${(err as Error).message}`))
        .finally(() => {
          if (++this.tracksDone === this.trackCount && this.state === 'running') this.finish('done');
        });
  }

  /** Resolves when the run is over (done or aborted, its actions undone). */
  whenDone(): Promise<void> {
    return this.ended;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Stops the run: cancels what is pending and undoes what is in force. */
  async abort(): Promise<ScenarioStatus> {
    if (this.state === 'running') {
      this.state = 'aborted';
      for (const s of [...this.sleeps]) {
        s.timer.cancel();
        s.wake();
      }
      await this.undoAll();
      this.finish('aborted');
    }
    await this.ended;
    return this.status();
  }

  status(): ScenarioStatus {
    const now = this.endedWall ?? this.deps.clock.wallNow();
    const skews = this.log
      .filter((s) => s.skewMs !== undefined)
      .map((s) => s.skewMs!)
      .sort((a, b) => a - b);
    const q = (p: number) => (skews.length ? skews[Math.min(skews.length - 1, Math.ceil(p * skews.length) - 1)] : 0);
    const planned = this.plan.tracks.reduce((n, t) => n + t.items.filter((i) => i.kind === 'action').length, 0);
    return {
      id: this.id,
      name: this.plan.name,
      hash: this.plan.hash,
      seed: this.plan.seed,
      state: this.state,
      startedAt: new Date(this.startedWall).toISOString(),
      ...(this.endedWall !== undefined && { endedAt: new Date(this.endedWall).toISOString() }),
      elapsed: Math.round((now - this.startedWall) / 100) / 10,
      tracks: { total: this.trackCount, done: this.tracksDone },
      steps: {
        planned,
        applied: this.log.filter((s) => s.appliedAt !== undefined).length,
        failed: this.log.filter((s) => s.error).length,
      },
      active: this.deps.windows.active().filter((w) => w.scenario === this.id),
      log: this.log.map((s) => ({ ...s })),
      errors: [...this.errors],
      skew: { p50: q(0.5), p99: q(0.99), max: skews.at(-1) ?? 0, count: skews.length },
    };
  }

  private finish(state: 'done' | 'aborted'): void {
    if (this.endedWall !== undefined) return;
    this.state = state;
    this.endedWall = this.deps.clock.wallNow();
    this.deps.mark({ mark: 'scenario', at: this.endedWall, id: this.id, name: this.plan.name, event: state });
    this.endNow();
    this.emit('done', this.status());
  }

  private elapsed(): number {
    return this.deps.clock.now() - this.t0;
  }

  /** Sleeps until `ms` after the start (at least 0); an abort wakes every sleeper at once. */
  private sleep(untilOffset: number): Promise<void> {
    const wait = untilOffset - this.elapsed();
    if (wait <= 0 || this.state !== 'running') return Promise.resolve();
    return new Promise((resolve) => {
      const s = {
        timer: this.deps.clock.setTimeout(() => s.wake(), wait, { unref: true }),
        wake: () => {
          this.sleeps.delete(s);
          resolve();
        },
      };
      this.sleeps.add(s);
    });
  }

  private async runTrack(track: Track): Promise<void> {
    // the offset each item is due at, while it is known in advance (a wait or an action's own time ends that)
    let planned: number | undefined = track.at;
    const items = track.items;
    // an action sleeps until its own due time (it resolves its roles just before); anything else waits here
    if (items[0]?.kind !== 'action') await this.sleep(track.at);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (this.state !== 'running') return;
      if (item.kind === 'sleep') {
        planned = (planned ?? this.elapsed()) + item.ms;
        if (items[i + 1]?.kind !== 'action') await this.sleep(planned);
      } else if (item.kind === 'wait') {
        planned = undefined;
        if (!(await this.waitFor(item.condition, item.timeout))) {
          const msg = `track ${track.id}: ${item.condition} not reached within ${item.timeout} ms`;
          this.errors.push(msg);
          this.deps.logger?.warn(
            { scenario: this.id, track: track.id, condition: item.condition },
            'scenario wait timed out',
          );
          if (item.onTimeout === 'fail') return;
        }
      } else {
        const rec = await this.apply(track, item.step, item.label, item.action, planned);
        planned = undefined;
        if (item.duration !== undefined && !rec.error && rec.appliedAt !== undefined) {
          await this.sleep(rec.appliedAt + item.duration);
          await this.undo(item.step);
        }
      }
    }
  }

  private async waitFor(condition: Condition, timeout: number): Promise<boolean> {
    const deadline = this.elapsed() + timeout;
    while (this.state === 'running') {
      if (await this.deps.check(condition).catch(() => false)) return true;
      if (this.elapsed() >= deadline) return false;
      await this.sleep(Math.min(deadline, this.elapsed() + POLL_MS));
    }
    return false;
  }

  private async apply(
    track: Track,
    step: string,
    label: string,
    action: ScenarioAction,
    plannedAt: number | undefined,
  ): Promise<StepRecord> {
    const rec: StepRecord = { step, track: track.id, label, action: describeAction(action), plannedAt };
    try {
      // roles are resolved ahead (one status round), so the action itself lands at its due time
      if (plannedAt !== undefined) await this.sleep(plannedAt - RESOLVE_AHEAD_MS);
      if (this.state !== 'running') return rec;
      const resolved = await this.actions.resolve(action);
      if (plannedAt !== undefined) await this.sleep(plannedAt);
      if (this.state !== 'running') {
        this.actions.release(resolved);
        return rec;
      }
      this.log.push(rec);
      const { window, undo, member } = await this.actions.act(resolved);
      if (this.state !== 'running') {
        // aborted while it was being applied: undo it now, nothing else will
        await undo?.();
        return rec;
      }
      const w = window ? this.deps.windows.get(window) : undefined;
      if (window) this.deps.windows.describe(window, { scenario: this.id, step });
      rec.window = window;
      rec.member = member;
      rec.appliedAt = w ? w.start - this.startedWall : this.elapsed();
      if (plannedAt !== undefined) rec.skewMs = Math.max(0, Math.round((rec.appliedAt - plannedAt) * 10) / 10);
      if (undo) this.undos.set(step, undo);
    } catch (err) {
      if (!this.log.includes(rec)) this.log.push(rec);
      rec.error = (err as Error).message;
      this.errors.push(`step ${step} (${label}): ${rec.error}`);
      this.deps.logger?.warn({ scenario: this.id, step, err: rec.error }, 'scenario step failed');
    }
    this.deps.stepDone?.(rec);
    return rec;
  }

  private async undo(step: string): Promise<void> {
    const undo = this.undos.get(step);
    if (!undo) return;
    this.undos.delete(step);
    try {
      await undo();
    } catch (err) {
      this.errors.push(`undo of step ${step}: ${(err as Error).message}`);
    }
    const rec = this.log.find((r) => r.step === step);
    if (rec) rec.undoneAt = this.elapsed();
  }

  private async undoAll(): Promise<void> {
    await Promise.all([...this.undos.keys()].map((step) => this.undo(step)));
  }
}

/** The daemon's scenarios: at most one running, the last ones kept for GET. */
export class ScenarioBook {
  private readonly runs = new Map<string, ScenarioRun>();
  private seq = 0;

  constructor(private readonly deps: ScenarioDeps) {}

  start(plan: ScenarioPlan): ScenarioRun {
    const cur = this.current();
    if (cur)
      throw new Conflict(
        `scenario ${cur.id} (${cur.plan.name}) is running: abort it first (DELETE /scenarios/${cur.id})`,
        [{ path: 'scenario', message: 'another scenario is running' }],
      );
    const run = new ScenarioRun(`sc${++this.seq}`, plan, this.deps);
    this.runs.set(run.id, run);
    // keep the last 20 finished runs
    const finished = [...this.runs.values()].filter((r) => !r.running);
    for (const r of finished.slice(0, Math.max(0, finished.length - 20))) this.runs.delete(r.id);
    run.start();
    return run;
  }

  current(): ScenarioRun | undefined {
    for (const r of this.runs.values()) if (r.running) return r;
    return undefined;
  }

  get running(): boolean {
    return this.current() !== undefined;
  }

  get(id: string): ScenarioRun {
    const r = this.runs.get(id);
    if (!r)
      throw new NotFound(`no scenario ${JSON.stringify(id)}`, [{ path: 'id', message: 'no scenario has this id' }]);
    return r;
  }

  list(): ScenarioStatus[] {
    return [...this.runs.values()].map((r) => r.status());
  }

  /** Aborts every running scenario (the daemon is closing). */
  async abortAll(): Promise<void> {
    await Promise.all([...this.runs.values()].filter((r) => r.running).map((r) => r.abort()));
  }
}
