// Ports before launch: is each port of a layout free, and if not, who holds it (pid and command line,
// from the kernel's socket tables /proc/net/tcp{,6} and the owners' /proc/<pid>/fd links).
import fs from 'node:fs';
import net from 'node:net';
import { EnvironmentError } from './exit.js';
import { joinHostPort } from './net.js';
import { processCmdline } from './proc.js';

export interface PortClaim {
  /** the address the listener will bind ('' = every interface) */
  host: string;
  port: number;
  /** what the port is for, e.g. "s2 client" or "API" */
  role: string;
}

export interface PortHolder {
  pid: number;
  cmdline: string;
}

export interface PortConflict extends PortClaim {
  code: string;
  holders: PortHolder[];
}

/** Binds and releases the address; resolves with the error code when it cannot be bound. */
function tryBind(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    const done = () => s.close(() => resolve(undefined));
    if (host) s.listen({ port, host }, done);
    else s.listen({ port }, done);
  });
}

/** Socket inodes listening on TCP `port` (any address, IPv4 and IPv6). */
export function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || f[3] !== '0A') continue;
      if (f[1].slice(f[1].lastIndexOf(':') + 1) === hex && f[9] !== '0') inodes.add(f[9]);
    }
  }
  return inodes;
}

/** Processes that hold a listening socket on TCP `port`, as far as /proc lets us see. */
export function portHolders(port: number): PortHolder[] {
  const inodes = listeningInodes(port);
  if (!inodes.size) return [];
  const wanted = new Set([...inodes].map((i) => `socket:[${i}]`));
  const out: PortHolder[] = [];
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const p of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // gone, or another user's process
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      if (wanted.has(target)) {
        out.push({ pid: Number(p), cmdline: processCmdline(Number(p)) });
        break;
      }
    }
  }
  return out;
}

/** Every claim whose address cannot be bound now, with the holders of its port. */
export async function findPortConflicts(claims: PortClaim[]): Promise<PortConflict[]> {
  const codes = await Promise.all(claims.map((c) => tryBind(c.host, c.port)));
  const out: PortConflict[] = [];
  claims.forEach((c, i) => {
    const code = codes[i];
    if (code) out.push({ ...c, code, holders: code === 'EADDRINUSE' ? portHolders(c.port) : [] });
  });
  return out;
}

function shorten(text: string, max = 160): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** One line per conflict: "s2 client 127.0.0.1:2379 is in use by pid 4711 (etcd --name x ...)". */
export function describePortConflict(c: PortConflict): string {
  const addr = joinHostPort(c.host || '*', c.port);
  if (c.code !== 'EADDRINUSE') return `${c.role} ${addr} cannot be bound: ${c.code}`;
  const who = c.holders.length
    ? c.holders.map((h) => `pid ${h.pid} (${shorten(h.cmdline || '?')})`).join(', ')
    : 'an unknown holder (not visible to this user)';
  return `${c.role} ${addr} is in use by ${who}`;
}

/** Throws an EnvironmentError naming every claimed port that is taken. */
export async function assertPortsFree(claims: PortClaim[]): Promise<void> {
  const conflicts = await findPortConflicts(claims);
  if (!conflicts.length) return;
  const lines = conflicts.map(describePortConflict);
  throw new EnvironmentError(
    conflicts.length === 1 ? `port in use: ${lines[0]}` : `ports in use:\n  ${lines.join('\n  ')}`,
  );
}
