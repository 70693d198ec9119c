// What the partition tests share: API calls on a lab, waiting for a condition, and a put through one
// endpoint with a short command timeout (asynchronous: raft needs this process's event loop, which
// serves the links and egress listeners).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Cluster } from '../../src/cluster/launch.js';
import { parseConfig } from '../../src/config/schema.js';
import { startLab, type Lab } from '../../src/lab/lab.js';
import { freePorts } from '../../src/util/net.js';
import { launchForTest } from './cluster.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

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

/** One member of an existing local cluster: its own ports and the ports of the links in front of it. */
export interface LocalMember {
  name: string;
  client: number;
  peer: number;
  peerProxy: number;
  clientProxy?: number;
}

/** Free ports for members whose peer URLs will be their peer links (and, if asked, client links too). */
export async function localLayout(names: string[], clientProxy = false): Promise<LocalMember[]> {
  const per = clientProxy ? 4 : 3;
  const ports = await freePorts(names.length * per);
  return names.map((name, i) => {
    const [client, peer, peerProxy, cp] = ports.slice(i * per, i * per + per);
    return { name, client, peer, peerProxy, ...(clientProxy ? { clientProxy: cp } : {}) };
  });
}

/**
 * A lab over an existing local cluster: the daemon knows the members by their ports and serves their
 * peer links; then the members are started "by someone else", advertising those links as peer URLs.
 */
export async function labOverLocalCluster(
  t: Teardown,
  layout: LocalMember[],
  opts: { peerTls: boolean; reportDir: string },
): Promise<{ lab: Lab; cluster: Cluster }> {
  const at = (port: number) => `127.0.0.1:${port}`;
  const lab = await startLab(
    parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir: opts.reportDir,
      cluster: {
        existing: {
          members: layout.map((m) => ({
            name: m.name,
            client: at(m.client),
            peer: at(m.peer),
            peerProxy: at(m.peerProxy),
            ...(m.clientProxy ? { clientProxy: at(m.clientProxy) } : {}),
          })),
        },
      },
    }),
    { out: null },
  );
  t.teardown(() => lab.stop());
  const cluster = await launchForTest(t, {
    peerTls: opts.peerTls,
    members: layout.map((m) => ({
      name: m.name,
      clientPort: m.client,
      peerPort: m.peer,
      advertisePeerPort: m.peerProxy,
    })),
  });
  return { lab, cluster };
}
