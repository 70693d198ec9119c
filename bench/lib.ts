// Shared by the benchmarks: result files, percentiles, medians of interleaved rounds with their range,
// and the CPU time of other processes (etcd members, a Go tool) read from /proc.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { controlClient } from '../src/etcd/control.js';

/** The package root, whether a bench runs from bench/ (tsx) or dist/bench/ (built). */
export { packageRoot } from '../src/util/pkg.js';

/** Writes a result file under bench/results/ (or `out`) and returns its path. */
export function writeResults(root: string, name: string, data: unknown, out?: string): string {
  const file =
    out ?? path.join(root, 'bench/results', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 2));
  return file;
}

/** The p-th percentile (nearest rank, 0-100) of the first `n` values of `xs`. */
export function percentile(xs: ArrayLike<number>, p: number, n = xs.length): number {
  const s = Array.from({ length: n }, (_, i) => xs[i]).sort((a, b) => a - b);
  return s[Math.min(n - 1, Math.floor((p / 100) * n))];
}

/** One figure over the rounds of a bench: the median and the range it came from. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number;
}

/** Median (the mean of the middle two for an even count) and min–max of the finite values of `xs`. */
export function spread(xs: readonly (number | undefined)[]): Spread | undefined {
  const s = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], rounds: s.length };
}

/** "median (min–max)", or "-" when there is nothing to show. */
export function formatSpread(s: Spread | undefined, digits = 0): string {
  if (!s) return '-';
  const f = (x: number) => x.toFixed(digits);
  return s.rounds > 1 && s.min !== s.max ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

/** Ratio of two medians, or undefined when either is missing. */
export function medianRatio(a: Spread | undefined, b: Spread | undefined): number | undefined {
  return a && b && b.median ? a.median / b.median : undefined;
}

/**
 * The order of `items` in round `round` (0-based): rotated by one each round, so that no contender
 * always runs first (on a warm cache) or right after the heaviest one.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const k = items.length ? round % items.length : 0;
  return [...items.slice(k), ...items.slice(0, k)];
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** utime, stime, cutime, cstime of a process in seconds (fields 14-17 of /proc/<pid>/stat). */
function statTimes(pid: number | 'self'): number[] | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return rest.slice(11, 15).map((x) => Number(x) / clockTicks());
}

/** CPU seconds (user + system, all threads) a running process has used; undefined once it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  const t = statTimes(pid);
  return t && t[0] + t[1];
}

/**
 * CPU seconds of this process's children that have exited and been reaped (cutime + cstime): read
 * before and after a child runs to get that child's whole CPU time, threads included, even after
 * /proc/<pid> is gone.
 */
export function reapedChildrenCpuSeconds(): number {
  const t = statTimes('self');
  return t ? t[2] + t[3] : 0;
}

/** Total CPU seconds of a set of processes (those still running). */
export function processesCpuSeconds(pids: readonly (number | undefined)[]): number {
  return pids.reduce<number>((a, p) => a + (p === undefined ? 0 : (processCpuSeconds(p) ?? 0)), 0);
}

/** The machine's load, to print beside figures taken on shared cores. */
export function machineLoad(): { loadavg: number[]; cpus: number } {
  return { loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100), cpus: os.cpus().length };
}

/**
 * Compacts the keyspace at its current revision and defragments every member, so that no run pays
 * for the history the runs before it left behind.
 */
export async function compactAndDefragment(endpoints: string[]): Promise<void> {
  const c = controlClient(endpoints, { deadlineMs: 60000 });
  try {
    const rev = (await c.maintenance.status()).header.revision;
    await c.kv.compact({ revision: rev, physical: true }).catch((err: Error) => {
      // a revision compacted already (another run, etcd's own auto-compaction) is fine
      if (!/compacted/.test(err.message)) throw err;
    });
  } finally {
    c.close();
  }
  for (const e of endpoints) {
    const m = controlClient([e], { deadlineMs: 60000 });
    try {
      await m.maintenance.defragment();
    } finally {
      m.close();
    }
  }
}
