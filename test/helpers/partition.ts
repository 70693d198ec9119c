// What the partition tests share: API calls on a lab, waiting for a condition, and a put through one
// endpoint with a short command timeout (asynchronous: raft needs this process's event loop, which
// serves the links and egress listeners).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Lab } from '../../src/lab/lab.js';

const run = promisify(execFile);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function api(lab: Lab, method: string, p: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(lab.apiUrl + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

export async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 30000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Did a put through `endpoint` commit within 2 s? */
export async function put(endpoint: string, key: string): Promise<boolean> {
  try {
    await run('etcdctl', ['--endpoints', endpoint, '--command-timeout=2s', 'put', key, 'v'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    return true;
  } catch {
    return false;
  }
}
