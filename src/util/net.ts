// Small socket helpers shared by the lab, tests and benchmarks.
import fs from 'node:fs';
import net from 'node:net';

/**
 * The kernel's range for outgoing connections' source ports: a port picked there can be taken by any
 * outgoing connection (ours: status rounds, peer dials) between the pick and the listener's bind.
 */
function ephemeralRange(): [number, number] | undefined {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isInteger(lo) && Number.isInteger(hi) && lo <= hi ? [lo, hi] : undefined;
  } catch {
    return undefined;
  }
}

/** lowest port picked below the ephemeral range (ports under it are too often fixed services' ones) */
const PICK_FLOOR = 10000;

/**
 * n distinct free TCP ports on `host`, held open at once so they differ. Picked at random below the
 * kernel's ephemeral range when there is room (so no outgoing connection takes one before it is
 * bound); else (or after many tries) the kernel picks.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: net.Server[] = [];
  const listen = (port: number) =>
    new Promise<boolean>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', (err: NodeJS.ErrnoException) =>
        port && (err.code === 'EADDRINUSE' || err.code === 'EACCES') ? resolve(false) : reject(err),
      );
      s.listen(port, host, () => {
        servers.push(s);
        resolve(true);
      });
    });
  try {
    const range = ephemeralRange();
    const top = range ? range[0] - 1 : 0;
    for (let tries = 0; servers.length < n; tries++) {
      if (top - PICK_FLOOR >= 1000 && tries < 50 * n)
        await listen(PICK_FLOOR + Math.floor(Math.random() * (top - PICK_FLOOR)));
      else await listen(0);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Split "host:port" (IPv6 as "[::1]:port"); an empty host means every interface. */
export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  if (!m) throw new Error(`expected "host:port", got ${JSON.stringify(addr)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`port out of range in ${JSON.stringify(addr)}`);
  return { host: m[1] ?? m[2] ?? '', port };
}

export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
