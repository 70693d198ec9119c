// Bytes etcd already sent that wait unread in this process's TCP receive queues: the generator's own
// backlog. Node reads a socket and decodes what it read in one go (http2 frames, gRPC messages, the
// checker), so a generator that cannot keep up leaves its backlog in the kernel, not in JS buffers. Linux
// shows it per socket (rx_queue of /proc/net/tcp); only this process's sockets to the load's endpoints
// count (their inodes are among /proc/self/fd). Elsewhere: undefined. The kernel writes those tables for
// every socket of the host (~20 ms each with a couple of thousand): read at most once a second, and only
// while a watcher is behind. Synchronously: a lagging event loop would take seconds over the chunks of
// an asynchronous read, and the reading would come after the lag it measures.
import fs from 'node:fs';

/** at most one reading per this many ms */
const EVERY_MS = 1000;

/** This process's socket inodes. */
function ownSockets(): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (link.startsWith('socket:[')) out.add(link.slice(8, -1));
  }
  return out;
}

/**
 * The rx_queue bytes of established sockets in `table` (the text of /proc/net/tcp or tcp6) whose remote
 * port is one of `ports` and whose inode is one of `inodes`.
 */
export function rxQueued(table: string, ports: ReadonlySet<number>, inodes: ReadonlySet<string>): number {
  let total = 0;
  const lines = table.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retr uid timeout inode
    if (f.length < 10 || f[3] !== '01') continue;
    const rem = f[2];
    const port = parseInt(rem.slice(rem.indexOf(':') + 1), 16);
    if (!ports.has(port) || !inodes.has(f[9])) continue;
    total += parseInt(f[4].slice(f[4].indexOf(':') + 1), 16) || 0;
  }
  return total;
}

/** Bytes waiting unread on this process's connections to `ports` (undefined where /proc is not there). */
export function receiveQueued(ports: ReadonlySet<number>, ipv6 = true): number | undefined {
  let inodes: Set<string>;
  try {
    inodes = ownSockets();
  } catch {
    return undefined;
  }
  let total = 0;
  let read = false;
  for (const file of ipv6 ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/tcp']) {
    try {
      total += rxQueued(fs.readFileSync(file, 'latin1'), ports, inodes);
      read = true;
    } catch {
      // no IPv6 table, say
    }
  }
  return read ? total : undefined;
}

/** The receive queues of the load's connections, read while they matter. */
export class ReceiveQueueProbe {
  private latest: number | undefined = 0;
  private readAt = -Infinity;

  /** `endpoints`: the load's "host:port" list (read again at each reading: connections move). */
  constructor(private readonly endpoints: () => readonly string[]) {}

  /** The bytes waiting unread (0 while not `wanted`); read again when the last reading is a second old. */
  read(now: number, wanted: boolean): number | undefined {
    if (!wanted) return (this.latest = 0);
    if (now - this.readAt >= EVERY_MS) {
      this.readAt = now;
      const eps = this.endpoints();
      const ports = new Set(eps.map((e) => Number(e.slice(e.lastIndexOf(':') + 1))));
      // an IPv4 address is never in the IPv6 table: one table less to read
      const ipv6 = !eps.every((e) => /^\d+\.\d+\.\d+\.\d+:\d+$/.test(e));
      this.latest = receiveQueued(ports, ipv6);
    }
    return this.latest;
  }
}
