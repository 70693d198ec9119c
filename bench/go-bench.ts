// etcd's Go `benchmark` tool (v3.4 tools/benchmark; not packaged by Debian, so its path is given) run as
// a child process: its report parsed, and its own CPU time taken from the kernel's accounting.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { processCpuSeconds, reapedChildrenCpuSeconds } from './lib.js';

export interface GoRun {
  /** stdout and stderr together */
  out: string;
  wallSec: number;
  /** the tool's CPU seconds, all threads */
  cpuSec: number;
  error?: string;
}

/**
 * Runs the tool to its end (or kills it after `timeoutMs`). Its CPU is this process's reaped-children
 * time before and after (exact, threads included); while it runs, /proc/<pid>/stat is sampled too, and
 * the larger is kept (the reaped figure misses nothing unless a sibling is reaped at the same time, which
 * would only add).
 */
export function runGoBench(bin: string, args: string[], timeoutMs: number): Promise<GoRun> {
  return new Promise((resolve) => {
    const reaped0 = reapedChildrenCpuSeconds();
    const t0 = performance.now();
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    let sampled = 0;
    const sample = setInterval(() => {
      if (child.pid !== undefined) sampled = processCpuSeconds(child.pid) ?? sampled;
    }, 200);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    let spawnError: string | undefined;
    child.on('error', (err) => (spawnError = err.message));
    child.on('close', (code, signal) => {
      clearInterval(sample);
      clearTimeout(timer);
      const wallSec = (performance.now() - t0) / 1000;
      const cpuSec = Math.max(sampled, reapedChildrenCpuSeconds() - reaped0);
      const out = Buffer.concat(chunks).toString('utf8');
      let error = spawnError;
      if (timedOut) error = `killed after ${timeoutMs / 1000} s (did not finish)`;
      else if (code !== 0 && !error) error = `exited with ${code ?? signal}: ${out.slice(-400)}`;
      resolve({ out, wallSec, cpuSec, error });
    });
  });
}

export interface GoReport {
  requestsPerSec?: number;
  totalSec?: number;
  p50ms?: number;
  p99ms?: number;
}

/**
 * The figures of one summary of pkg/report ("Total: …", "Requests/sec: …", "50% in … secs"). `after`
 * picks the summary that follows a heading (the watch command prints a creation summary first).
 */
export function parseGoReport(out: string, after?: string): GoReport {
  const at = after ? out.indexOf(after) : 0;
  const text = at < 0 ? '' : out.slice(at);
  const num = (re: RegExp) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const secs = (p: string) => {
    const v = num(new RegExp(`\\b${p}% in ([\\d.]+) secs`));
    return v === undefined ? undefined : v * 1000;
  };
  return {
    requestsPerSec: num(/Requests\/sec:\s*([\d.]+)/),
    totalSec: num(/Total:\s*([\d.]+) secs/),
    p50ms: secs('50'),
    p99ms: secs('99'),
  };
}
