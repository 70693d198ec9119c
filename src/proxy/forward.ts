// A member's egress listener: a forward proxy on 127.0.0.1 that the member's peer transport dials
// through (HTTPS_PROXY / HTTP_PROXY, see cluster/egress-env.ts). A TLS peer dial arrives as
// `CONNECT host:port`; a plain one as an absolute-form request, and plain requests to different peers
// may share one proxy connection, so each request is routed (and reported) on its own.
// It forwards only to this machine (the lab's links and members): it is not an open proxy.
// Emits 'dial'({ member, target, kind }) for every dial it forwards.
import { EventEmitter } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface EgressDial {
  /** the member whose listener this is (the dialler) */
  member: string;
  /** host:port as the member asked for it, e.g. `localhost.:23800` */
  target: string;
  kind: 'connect' | 'request';
}

/** Splits `host:port` (IPv6 in brackets) and maps the loopback names to 127.0.0.1; undefined when it is not on this machine. */
export function loopbackTarget(hostPort: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(hostPort);
  if (!m) return undefined;
  const host = (m[1] ?? m[2]).toLowerCase();
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (host === 'localhost' || host === 'localhost.') return { host: '127.0.0.1', port };
  if (/^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1') return { host, port };
  return undefined;
}

/** Headers meant for the proxy, not the peer. */
const HOP_HEADERS = ['proxy-connection', 'proxy-authorization', 'proxy-authenticate'];

export class ForwardProxy extends EventEmitter {
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  /** dials forwarded so far, by target */
  readonly dials = new Map<string, number>();

  constructor(readonly member: string) {
    super();
    this.server = http.createServer((req, res) => this.forwardRequest(req, res));
    // peer streams are long-lived: no request or idle timeout of ours cuts them
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 0;
    this.server.keepAliveTimeout = 0;
    this.server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.tunnel(req, socket, head),
    );
    this.server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  /** Listens on 127.0.0.1 (a free port unless given); resolves with the port. */
  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  get port(): number | undefined {
    const a = this.server.address() as AddressInfo | null;
    return a?.port;
  }

  private dialled(target: string, kind: EgressDial['kind']): void {
    this.dials.set(target, (this.dials.get(target) ?? 0) + 1);
    this.emit('dial', { member: this.member, target, kind } satisfies EgressDial);
  }

  private tunnel(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const target = req.url ?? '';
    const to = loopbackTarget(target);
    socket.on('error', () => socket.destroy());
    if (!to) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.dialled(target, 'connect');
    const upstream = net.connect(to.port, to.host);
    let tunnelled = false;
    upstream.once('connect', () => {
      tunnelled = true;
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => {
      // the dial failed: say so while the member still waits for the answer, else drop the tunnel
      if (!tunnelled && !socket.destroyed) socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    upstream.once('close', () => {
      if (tunnelled) socket.destroy();
    });
    socket.once('close', () => upstream.destroy());
  }

  private forwardRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL | undefined;
    try {
      url = new URL(req.url ?? '');
    } catch {
      // an origin-form request: this listener is not a server
    }
    const target = url && url.protocol === 'http:' ? `${url.hostname}:${url.port || 80}` : '';
    const to = target ? loopbackTarget(target) : undefined;
    if (!url || !to) {
      res.writeHead(url ? 403 : 400).end();
      return;
    }
    this.dialled(target, 'request');
    const headers = { ...req.headers };
    for (const h of HOP_HEADERS) delete headers[h];
    const upstream = http.request(
      { host: to.host, port: to.port, method: req.method, path: url.pathname + url.search, headers, agent: false },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
    res.once('close', () => upstream.destroy());
  }

  /** Stops listening and ends every connection (tunnels included). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
