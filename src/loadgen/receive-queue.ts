// Bytes etcd already sent that wait unread in this process's TCP receive queues: the generator's own
// backlog. Node reads a socket and decodes what it read in one go (http2 frames, gRPC messages, the
// checker), so a generator that cannot keep up leaves its backlog in the kernel, not in JS buffers. Linux
// shows it per socket (rx_queue of /proc/net/tcp); only this process's sockets to the load's endpoints
// count (their inodes are among /proc/self/fd). Elsewhere: undefined.
import fs from 'node:fs';

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
export function receiveQueued(ports: ReadonlySet<number>): number | undefined {
  let inodes: Set<string>;
  try {
    inodes = ownSockets();
  } catch {
    return undefined;
  }
  let total = 0;
  let read = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      total += rxQueued(fs.readFileSync(file, 'latin1'), ports, inodes);
      read = true;
    } catch {
      // no IPv6 table, say
    }
  }
  return read ? total : undefined;
}
