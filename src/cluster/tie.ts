// Ties each member's life to the daemon by something the kernel enforces, so members never outlive it,
// also when the daemon is SIGKILLed:
// - pdeathsig: the member is started as `setpriv --pdeathsig SIGKILL -- <etcd> <args>` (util-linux).
//   setpriv sets PR_SET_PDEATHSIG and execs etcd, so the pid stays etcd's (SIGSTOP/SIGCONT reach etcd).
//   The signal follows the death of the thread that forked the child: Node spawns from its main thread,
//   which lives as long as the process.
// - watchdog (when setpriv is missing): one small `sh` whose stdin is a pipe from the daemon. It is told
//   the current member pids, one full list per line; when the pipe closes (EOF: the daemon is gone, for
//   whatever reason) it SIGKILLs the last list, each pid only if its command line still names the
//   cluster's dir.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type TieMode = 'auto' | 'pdeathsig' | 'watchdog';

/** Finds an executable on PATH. */
export function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // next
    }
  }
  return undefined;
}

const WATCHDOG = [
  'dir=$1; pids=',
  'while IFS= read -r line; do pids=$line; done',
  'for p in $pids; do',
  '  if tr "\\000" " " < /proc/$p/cmdline 2>/dev/null | grep -qF -- "$dir"; then kill -KILL "$p" 2>/dev/null; fi',
  'done',
  'exit 0',
].join('\n');

export class MemberTie {
  readonly mode: 'pdeathsig' | 'watchdog';
  private watchdog: ChildProcess | undefined;
  private lastList = '';

  /**
   * @param dir what every member's command line contains (the cluster's base dir); the watchdog only
   *   kills processes that name it
   */
  constructor(
    mode: TieMode,
    private readonly dir: string,
    private readonly setpriv: string | undefined = findOnPath('setpriv'),
  ) {
    if (mode === 'pdeathsig' && !this.setpriv)
      throw new Error(
        'setpriv (util-linux) not found on PATH; it is needed to tie members to the daemon with PR_SET_PDEATHSIG',
      );
    this.mode = mode === 'auto' ? (this.setpriv ? 'pdeathsig' : 'watchdog') : mode;
  }

  /** The command and arguments that start `cmd args` tied to this process. */
  command(cmd: string, args: string[]): { cmd: string; args: string[] } {
    if (this.mode === 'pdeathsig') return { cmd: this.setpriv!, args: ['--pdeathsig', 'SIGKILL', '--', cmd, ...args] };
    this.ensureWatchdog();
    return { cmd, args };
  }

  /** The members' current pids (the watchdog kills these when the daemon dies). */
  track(pids: number[]): void {
    if (this.mode !== 'watchdog') return;
    const list = pids.join(' ');
    if (list === this.lastList && this.watchdog) return;
    this.lastList = list;
    this.ensureWatchdog();
    this.watchdog?.stdin?.write(list + '\n');
  }

  /** The watchdog's pid (watchdog mode, once started). */
  get watchdogPid(): number | undefined {
    return this.watchdog?.pid;
  }

  private ensureWatchdog(): void {
    if (this.watchdog) return;
    // its own process group: a terminal's Ctrl-C must not take it away before the members are stopped
    const child = spawn('/bin/sh', ['-c', WATCHDOG, 'etcd-soak-watchdog', this.dir], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('error', () => {});
    child.stdin!.on('error', () => {});
    // neither the watchdog nor its pipe may keep the daemon alive
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    this.watchdog = child;
  }

  /** The members are stopped: tell the watchdog there is nothing to kill and let it exit. */
  close(): void {
    const w = this.watchdog;
    if (!w) return;
    this.watchdog = undefined;
    w.stdin?.end('\n');
  }
}
