// Stand-in members for the egress tests: each "member" has a peer server (accepted sockets kept so a
// test can write from the member's side) and its own egress listener; the resolver maps a peer port to
// its member.
import net from 'node:net';
import { Egress } from '../../src/proxy/egress.js';
import { Metrics } from '../../src/metrics.js';
import { close, listen } from './net.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface FakeMember {
  name: string;
  peerPort: number;
  egressPort: number;
  /** resolves with the next socket the member's peer server accepts */
  accepted(): Promise<net.Socket>;
}

export async function fakeMembers(
  t: Teardown,
  names: string[],
): Promise<{ egress: Egress; metrics: Metrics; members: Record<string, FakeMember> }> {
  const metrics = new Metrics({ defaultMetrics: false });
  const byPort = new Map<number, string>();
  const egress = new Egress({
    resolveTarget: (host, port) => (host === 'localhost.' ? byPort.get(port) : undefined),
    metrics,
    seed: 7,
  });
  const members: Record<string, FakeMember> = {};
  const servers: net.Server[] = [];
  const all = new Set<net.Socket>();
  for (const name of names) {
    const backlog: net.Socket[] = [];
    const waiting: ((s: net.Socket) => void)[] = [];
    const server = net.createServer((s) => {
      all.add(s);
      s.on('error', () => {});
      s.on('close', () => all.delete(s));
      const w = waiting.shift();
      if (w) w(s);
      else backlog.push(s);
    });
    servers.push(server);
    const peerPort = await listen(server);
    byPort.set(peerPort, name);
    const egressPort = await egress.listen(name);
    members[name] = {
      name,
      peerPort,
      egressPort,
      accepted: () => {
        const s = backlog.shift();
        return s ? Promise.resolve(s) : new Promise((r) => waiting.push(r));
      },
    };
  }
  t.teardown(async () => {
    await egress.close();
    for (const s of all) s.destroy();
    for (const s of servers) await close(s);
  });
  return { egress, metrics, members };
}

/** Reads from a socket until the end of an HTTP head; returns the head and unshifts the rest. */
export function readHead(s: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      buf = Buffer.concat([buf, b]);
      const i = buf.indexOf('\r\n\r\n');
      if (i < 0) return;
      s.off('data', onData);
      s.off('close', onClose);
      s.pause();
      const rest = buf.subarray(i + 4);
      if (rest.length > 0) s.unshift(rest);
      resolve(buf.subarray(0, i).toString('latin1'));
    };
    const onClose = () => reject(new Error(`closed before a head: ${JSON.stringify(buf.toString('latin1'))}`));
    s.on('data', onData);
    s.once('close', onClose);
    s.on('error', () => {});
  });
}

/** Opens a CONNECT tunnel through `egressPort` to `host:port`; resolves with the socket and the status. */
export async function connectVia(
  egressPort: number,
  port: number,
  host = 'localhost.',
): Promise<{ sock: net.Socket; status: number; head: string }> {
  const sock = net.connect({ host: '127.0.0.1', port: egressPort });
  sock.on('error', () => {});
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  sock.write(`CONNECT ${host}:${port} HTTP/1.1\r\nHost: ${host}:${port}\r\n\r\n`);
  const head = await readHead(sock);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  return { sock, status, head };
}

/** Collects what a socket reads from now on. */
export function collect(s: net.Socket): { bytes: () => number; data: () => Buffer } {
  const parts: Buffer[] = [];
  let n = 0;
  s.on('data', (b: Buffer) => {
    parts.push(b);
    n += b.length;
  });
  s.resume();
  return { bytes: () => n, data: () => Buffer.concat(parts) };
}

/** Resolves once `cond` holds (checked every 10 ms). */
export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

export function pairOf(egress: Egress, from: string, to: string) {
  return egress.pairStats().find((p) => p.from === from && p.to === to);
}
