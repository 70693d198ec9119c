// Test servers and clients on loopback for the proxy tests.
import net from 'node:net';
import { createHash } from 'node:crypto';
import { Link, type LinkOptions } from '../../src/proxy/link.js';

export async function listen(server: net.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

export function close(server: net.Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

/** Echo server: writes back whatever it reads, forwarding half-close. */
export async function echoServer(port = 0): Promise<{ server: net.Server; port: number; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  return { server, port: await listen(server, port), sockets };
}

/** Sink server: counts and hashes what it reads; `done` resolves at the client's FIN. */
export async function sinkServer(): Promise<{
  server: net.Server;
  port: number;
  next: () => Promise<{ bytes: number; data: Buffer[] }>;
}> {
  const waiting: ((r: { bytes: number; data: Buffer[] }) => void)[] = [];
  const server = net.createServer((s) => {
    const data: Buffer[] = [];
    let bytes = 0;
    s.on('data', (b) => {
      data.push(b);
      bytes += b.length;
    });
    s.on('error', () => {});
    s.on('end', () => {
      s.end();
      waiting.shift()?.({ bytes, data });
    });
  });
  const port = await listen(server);
  return { server, port, next: () => new Promise((r) => waiting.push(r)) };
}

export async function startLink(opts: Partial<LinkOptions> & { upstreamPort: number }): Promise<Link> {
  const link = new Link({
    name: opts.name ?? 'test',
    listen: '127.0.0.1:0',
    upstream: `127.0.0.1:${opts.upstreamPort}`,
    seed: 42,
    ...opts,
  });
  await link.start();
  return link;
}

export function connect(port: number, opts: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: opts.allowHalfOpen });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export function sha(bufs: Buffer | Buffer[]): string {
  const h = createHash('sha256');
  for (const b of Array.isArray(bufs) ? bufs : [bufs]) h.update(b);
  return h.digest('hex');
}

/** Writes all of `data` in `chunk`-sized writes, respecting backpressure. */
export async function writeAll(s: net.Socket, data: Buffer, chunk = 65536): Promise<void> {
  for (let off = 0; off < data.length; off += chunk) {
    if (!s.write(data.subarray(off, off + chunk))) await new Promise((r) => s.once('drain', r));
  }
}

/** Collects everything a socket reads until it ends or closes. */
export function readAll(s: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (b) => parts.push(b));
    s.on('error', () => {});
    s.once('close', () => resolve(Buffer.concat(parts)));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with how the socket ended: 'reset' (ECONNRESET/EPIPE), 'end', or 'close'. */
export function closeKind(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let kind = 'close';
    s.on('data', () => {});
    s.once(
      'error',
      (e: NodeJS.ErrnoException) =>
        (kind = e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'reset' : (e.code ?? 'error')),
    );
    s.once('end', () => (kind = kind === 'close' ? 'end' : kind));
    s.once('close', () => resolve(kind));
  });
}
