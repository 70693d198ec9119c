// Spawning the project's own commands (built into dist/ by `npm test`) and waiting on their output.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/util/pkg.js';

export const root = packageRoot(import.meta.url);

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor: (re: RegExp, stream?: 'stdout' | 'stderr', timeoutMs?: number) => Promise<void>;
}

export function run(bin: 'etcd-proxy' | 'etcd-soak', args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [path.join(root, 'bin', `${bin}.js`), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (b) => {
    out += b;
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (b) => {
    err += b;
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => {
      r({ code, signal });
      for (const l of listeners) l();
    }),
  );
  const waitFor = (re: RegExp, stream: 'stdout' | 'stderr' = 'stdout', timeoutMs = 20000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (re.test(stream === 'stdout' ? out : err)) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve();
        } else if (child.exitCode !== null || child.signalCode !== null) {
          listeners.delete(check);
          clearTimeout(timer);
          reject(new Error(`process exited before ${re}: stdout=${out} stderr=${err}`));
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${re}: stdout=${out} stderr=${err}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { child, stdout: () => out, stderr: () => err, exited, waitFor };
}

/** Stops a process by PID (SIGTERM, then SIGKILL) and waits for it. */
export async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

/** Whether a pid is a live process (not a zombie), read straight from /proc (independent of src/). */
export function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A process's command line, arguments joined by spaces ("" when gone). */
export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}
