// The process handle of one launched etcd member: its ports, data dir and log, its current pid and
// state, and the actions a test or a fault applies to it (kill, freeze/thaw, restart). Every start goes
// through the cluster's tie (setpriv's PDEATHSIG or the watchdog) and runs in its own process group, so
// a restarted member never outlives the daemon either; the cluster rewrites owner.json on each
// 'spawn' and 'exit'.
//
// Each action is safe in any state: what has nothing to do returns (kill of an exited member, freeze of
// a frozen one, thaw of a running one); what cannot be done says why (Unprocessable: freeze/thaw of an
// exited member, anything once the cluster is stopped; Conflict: anything but restart while a restart
// runs).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { Conflict, Unprocessable } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { processState } from '../util/proc.js';
import { indentLines, memberHealthy, tailLines } from './health.js';
import type { MemberTie } from './tie.js';

/** running: scheduled; stopped: frozen by SIGSTOP (alive, answers nothing); exited: no process */
export type MemberState = 'running' | 'stopped' | 'exited';

/** Signals that end a member (SIGSTOP/SIGCONT are freeze/thaw). */
export type KillSignal = 'SIGKILL' | 'SIGTERM' | 'SIGINT' | 'SIGQUIT';

export interface MemberLayout {
  name: string;
  clientPort: number;
  peerPort: number;
  /** port advertised to clients (a client link's port); clientPort when none */
  advertiseClientPort: number;
  /** port advertised to the other members (a peer link's port); peerPort when none */
  advertisePeerPort: number;
  /** the member's own client URL (its listen address) */
  clientUrl: string;
  /** the member's own peer URL (its listen address) */
  peerUrl: string;
  dataDir: string;
  logFile: string;
  /** the port of this member's egress listener (a forward proxy): every peer dial it makes goes there */
  egressPort?: number;
}

export interface MemberLaunch {
  etcdBin: string;
  /** every flag, the same on each (re)start */
  args: string[];
  /** the whole environment, the same on each (re)start; undefined: this process's own */
  env?: NodeJS.ProcessEnv;
  tie: MemberTie;
  logger: Logger;
}

/** a signal other than SIGKILL escalates to SIGKILL after this long */
const STOP_GRACE_MS = 5000;

/**
 * Emits 'spawn'(pid) on each start and 'exit'({ code, signal, expected }) when the process is gone
 * (expected: this handle was asked to end it).
 */
export class MemberProcess extends EventEmitter implements MemberLayout {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly advertiseClientPort: number;
  readonly advertisePeerPort: number;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly egressPort?: number;
  /** the last lines of the member's log when it last exited unexpectedly */
  lastLog?: string[];
  private child: ChildProcess | undefined;
  private currentPid: number | undefined;
  private frozen = false;
  private ending: Promise<void> | undefined;
  private endRequested = false;
  private restarting: Promise<void> | undefined;
  private retired = false;

  constructor(
    layout: MemberLayout,
    private readonly launch: MemberLaunch,
  ) {
    super();
    this.name = layout.name;
    this.clientPort = layout.clientPort;
    this.peerPort = layout.peerPort;
    this.advertiseClientPort = layout.advertiseClientPort;
    this.advertisePeerPort = layout.advertisePeerPort;
    this.clientUrl = layout.clientUrl;
    this.peerUrl = layout.peerUrl;
    this.dataDir = layout.dataDir;
    this.logFile = layout.logFile;
    this.egressPort = layout.egressPort;
  }

  /** the pid of the running (or frozen) process */
  get pid(): number | undefined {
    return this.child ? this.currentPid : undefined;
  }

  /** whether a process exists (running or frozen) */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Read from /proc where it can be, so a SIGSTOP sent by someone else shows too. */
  get state(): MemberState {
    if (!this.child || this.currentPid === undefined) return 'exited';
    const st = processState(this.currentPid);
    if (st === undefined) return this.frozen ? 'stopped' : 'running';
    if (st === 'Z' || st === 'X') return 'exited';
    return st === 'T' || st === 't' ? 'stopped' : 'running';
  }

  /** whether a restart is under way */
  get isRestarting(): boolean {
    return this.restarting !== undefined;
  }

  /** Starts the process with the member's data dir and flags (Conflict when one is alive). */
  start(): void {
    if (this.retired) throw new Unprocessable(`member ${this.name}: the cluster is stopped`);
    if (this.child) throw new Conflict(`member ${this.name} is already running (pid ${this.currentPid})`);
    fs.mkdirSync(this.dataDir, { recursive: true });
    const out = fs.openSync(this.logFile, 'a');
    const { cmd, args } = this.launch.tie.command(this.launch.etcdBin, this.launch.args);
    // detached: its own process group, so a terminal's Ctrl-C (SIGINT to the foreground group) reaches
    // only the daemon, which stops the members itself. The exit is still tracked (never unref'd).
    const child = spawn(cmd, args, { stdio: ['ignore', out, out], detached: true, env: this.launch.env });
    fs.closeSync(out);
    this.child = child;
    this.currentPid = child.pid;
    this.frozen = false;
    this.endRequested = false;
    child.once('exit', (code, signal) => this.exited(child, code, signal));
    child.once('error', (err) => {
      // spawn itself failed (no 'exit' follows when there was no process)
      this.launch.logger.error({ member: this.name, err }, 'etcd member failed to start');
      if (child.pid === undefined) this.exited(child, null, null, [`could not start ${cmd}: ${err.message}`]);
    });
    if (child.pid !== undefined) this.emit('spawn', child.pid);
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, why?: string[]): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.frozen = false;
    const expected = this.endRequested;
    this.endRequested = false;
    // its data dir may be gone by the time someone reads this: the last lines travel with the handle
    if (!expected) this.lastLog = why ?? tailLines(this.logFile);
    this.emit('exit', { code, signal, expected });
  }

  /**
   * Ends the process with `signal` (SIGKILL by default) and resolves once it is gone; a signal other
   * than SIGKILL escalates to SIGKILL after a grace period. Nothing to do when it has exited.
   */
  kill(signal: KillSignal = 'SIGKILL'): Promise<void> {
    if (this.restarting) return Promise.reject(new Conflict(`member ${this.name} is restarting`));
    return this.terminate(signal);
  }

  /** kill() for the cluster's own stop: also ends a member in the middle of a restart. */
  terminate(signal: KillSignal): Promise<void> {
    const child = this.child;
    if (!child) return Promise.resolve();
    if (this.ending && signal !== 'SIGKILL') return this.ending;
    this.endRequested = true;
    const gone = new Promise<void>((r) => {
      if (this.child !== child) r();
      else child.once('exit', () => r());
    });
    // a frozen process acts on no signal but SIGKILL
    if (signal !== 'SIGKILL') this.signalGroup(child, 'SIGCONT');
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    if (signal !== 'SIGKILL') {
      timer = setTimeout(() => {
        this.launch.logger.warn({ member: this.name, signal }, 'etcd member ignored the signal; sending SIGKILL');
        child.kill('SIGKILL');
      }, STOP_GRACE_MS);
    }
    const ending = gone.finally(() => {
      clearTimeout(timer);
      if (this.ending === ending) this.ending = undefined;
    });
    this.ending = ending;
    return ending;
  }

  /** SIGSTOP to the member's process group: it stays alive and answers nothing. */
  async freeze(): Promise<void> {
    const child = this.ready('freeze');
    if (this.state === 'stopped') return;
    this.signalGroup(child, 'SIGSTOP');
    this.frozen = true;
    await this.settle('stopped');
  }

  /** SIGCONT to the member's process group: it answers again. */
  async thaw(): Promise<void> {
    const child = this.ready('thaw');
    if (this.state === 'running') return;
    this.signalGroup(child, 'SIGCONT');
    this.frozen = false;
    await this.settle('running');
  }

  private ready(action: string): ChildProcess {
    if (this.restarting) throw new Conflict(`member ${this.name} is restarting`);
    if (!this.child)
      throw new Unprocessable(`cannot ${action} member ${this.name}: it has exited (restart it first)`, [
        { path: 'member', message: 'exited' },
      ]);
    return this.child;
  }

  /** Signals are delivered asynchronously: wait (briefly) until /proc shows the new state. */
  private async settle(want: MemberState): Promise<void> {
    for (let i = 0; i < 100 && this.child && this.state !== want; i++) await new Promise((r) => setTimeout(r, 10));
  }

  private signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
    if (child.pid === undefined) return;
    try {
      // the member leads its own group (detached spawn; setpriv execs etcd in place)
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  }

  /**
   * Stops the process (SIGTERM, escalating) if it runs, starts it again with the same data dir, ports
   * and flags, and resolves once it serves (/health on its own client port). Rejects (Unprocessable)
   * when the new process exits first or does not serve within `timeoutMs`. A restart asked for while
   * one runs joins it.
   */
  restart(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.retired) return Promise.reject(new Unprocessable(`member ${this.name}: the cluster is stopped`));
    this.restarting ??= this.doRestart(opts.timeoutMs ?? 30000).finally(() => (this.restarting = undefined));
    return this.restarting;
  }

  private async doRestart(timeoutMs: number): Promise<void> {
    await this.terminate('SIGTERM');
    this.lastLog = undefined;
    this.start();
    await this.waitServing(timeoutMs);
  }

  /** Resolves once the member answers /health; rejects when it exits first or at the timeout. */
  async waitServing(timeoutMs: number): Promise<void> {
    const child = this.child;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child !== child || !child) {
        const lines = this.lastLog?.length ? this.lastLog : ['(its log is empty)'];
        throw new Unprocessable(
          `member ${this.name} exited before it served again; last lines of its log:\n${indentLines(lines.slice(-8))}`,
        );
      }
      if (this.state === 'running' && (await memberHealthy(this.clientPort, 1000))) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Unprocessable(
      `member ${this.name} (pid ${this.pid}) does not serve ${timeoutMs} ms after its start; last lines of its log:\n${indentLines(tailLines(this.logFile, 8))}`,
    );
  }

  /** The cluster is stopping: exits are expected from now on and nothing starts again. */
  retire(): void {
    this.retired = true;
    this.endRequested = this.child !== undefined;
  }
}
