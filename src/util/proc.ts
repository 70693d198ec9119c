// Facts about processes from /proc (Linux): alive (not a zombie), start time (to tell a reused pid
// from the process that was recorded), command line.
import fs from 'node:fs';

/** The command line of a process, arguments joined by spaces ("" when gone or not readable). */
export function processCmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').split('\0').join(' ');
  } catch {
    return '';
  }
}

interface Stat {
  state: string;
  /** start time after boot, in clock ticks (field 22 of /proc/<pid>/stat) */
  startTime: string;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: f[0], startTime: f[19] };
}

/** The scheduler state letter of a process (R, S, D, T stopped, Z zombie...), undefined when it does not exist. */
export function processState(pid: number): string | undefined {
  return readStat(pid)?.state;
}

/** Start time of a process (opaque, comparable for equality), undefined when it does not exist. */
export function processStartTime(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}

/**
 * Whether `pid` is a live process (a zombie is not); with `startTime`, only when it is the same process
 * that had that start time (a pid can be reused once its process is gone).
 */
export function processAlive(pid: number, startTime?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const st = readStat(pid);
  if (!st) {
    // no /proc entry visible: fall back to signal 0 (EPERM = exists, another user's)
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  if (st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Waits (bounded) until none of `pids` is alive; returns the ones still alive at the deadline. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = pids.filter((p) => processAlive(p));
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    left = left.filter((p) => processAlive(p));
  }
  return left;
}
