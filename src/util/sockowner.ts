// Who dialled an accepted loopback connection: the kernel's socket tables (/proc/net/tcp, tcp6) give the
// dialling socket's inode from its address and port, and /proc/<pid>/fd of the candidate processes
// shows which of them holds that inode. Linux only; for processes of the same user on this machine (the
// fds of another user's processes cannot be read). Meant for a few candidate pids (a cluster's members).
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

/** One row of /proc/net/tcp or tcp6. */
export interface TcpSocket {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** the kernel's state number: 1 established, 10 listen, 6 time-wait… */
  state: number;
  uid: number;
  /** 0 for sockets no process holds any more (time-wait) */
  inode: number;
}

/** An accepted connection as this process sees it (net.Socket's fields of the same names). */
export interface AcceptedEnds {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

const LISTEN = 0x0a;
const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * An address as the tables print it: the in-memory bytes of each 32-bit word printed as a host-order
 * number, so on a little-endian machine every 4-byte group is reversed ("0100007F" is 127.0.0.1).
 * Returns the form Node gives a socket's address: dotted IPv4 (also for v4-mapped IPv6) or RFC 5952 IPv6.
 */
export function decodeAddress(hex: string, littleEndian = LITTLE_ENDIAN): string {
  if (!/^(?:[0-9A-Fa-f]{8}){1,4}$/.test(hex) || hex.length === 16 || hex.length === 24)
    throw new Error(`not a /proc/net/tcp address: ${JSON.stringify(hex)}`);
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    const word = [0, 2, 4, 6].map((i) => parseInt(hex.slice(w + i, w + i + 2), 16));
    bytes.push(...(littleEndian ? word.reverse() : word));
  }
  if (bytes.length === 4) return bytes.join('.');
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join('.');
  return formatIPv6(bytes);
}

/** RFC 5952: lower-case groups without leading zeros, the longest run of ≥ 2 zero groups as "::". */
function formatIPv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** "::ffff:127.0.0.1" (a dual-stack socket's view of an IPv4 peer) → "127.0.0.1"; others unchanged. */
export function plainAddress(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The rows of a /proc/net/tcp or tcp6 text (whole lines), listening sockets left out. `ports`: keep only rows whose
 * local port is one of these (the others are not decoded at all).
 */
export function parseTcpTable(text: string, ports?: ReadonlySet<number>, littleEndian = LITTLE_ENDIAN): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n')) {
    // "   0: 0100007F:DF56 0100007F:9C19 01 00000000:00000000 00:00000000 00000000  1000  0 846831 …" (and a header)
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0])) continue;
    const [localHex, localPortHex] = f[1].split(':');
    const localPort = parseInt(localPortHex, 16); // ports are printed in host order already
    if (ports && !ports.has(localPort)) continue;
    const state = parseInt(f[3], 16);
    if (state === LISTEN) continue;
    const [remoteHex, remotePortHex] = f[2].split(':');
    out.push({
      localAddress: decodeAddress(localHex, littleEndian),
      localPort,
      remoteAddress: decodeAddress(remoteHex, littleEndian),
      remotePort: parseInt(remotePortHex, 16),
      state,
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return out;
}

/** The inodes of the listening sockets on these local ports, from a /proc/net/tcp or tcp6 text: port → inode. */
export function parseListeners(text: string, ports: ReadonlySet<number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^\d+:$/.test(f[0]) || parseInt(f[3], 16) !== LISTEN) continue;
    const port = parseInt(f[1].split(':')[1], 16);
    if (ports.has(port) && Number(f[9]) !== 0) out.set(port, Number(f[9]));
  }
  return out;
}

/** "socket:[12345]" → 12345; anything else (files, pipes, anon inodes) → undefined. */
export function socketInode(link: string): number | undefined {
  const m = /^socket:\[(\d+)\]$/.exec(link);
  return m ? Number(m[1]) : undefined;
}

/** The dialling socket of `conn` in the table: its local end is conn's remote end and the other way round. */
export function dialerInode(rows: readonly TcpSocket[], conn: AcceptedEnds): number | undefined {
  const peer = plainAddress(conn.remoteAddress);
  const self = plainAddress(conn.localAddress);
  for (const r of rows) {
    if (r.inode === 0 || r.localPort !== conn.remotePort || r.remotePort !== conn.localPort) continue;
    if (plainAddress(r.localAddress) === peer && plainAddress(r.remoteAddress) === self) return r.inode;
  }
  return undefined;
}

const CACHE_MAX = 4096;
/** the kernel makes a table a page at a time */
const CHUNK = 4096;
const TABLES = ['tcp', 'tcp6'] as const;
type Table = (typeof TABLES)[number];

const portsOf = (conns: readonly AcceptedEnds[]) => new Set(conns.map((c) => c.remotePort));
const allFound = (conns: readonly AcceptedEnds[]) => (rows: TcpSocket[]) =>
  conns.every((c) => dialerInode(rows, c) !== undefined);

/** Rows of a table read in chunks: whole lines parsed as they come, a cut line kept for the next chunk. */
class RowCollector {
  readonly rows: TcpSocket[] = [];
  private rest = '';
  constructor(private readonly ports: ReadonlySet<number>) {}

  feed(buf: Buffer, n: number): TcpSocket[] {
    const text = this.rest + buf.toString('latin1', 0, n);
    const cut = text.lastIndexOf('\n');
    this.rest = text.slice(cut + 1);
    if (cut >= 0) this.rows.push(...parseTcpTable(text.slice(0, cut), this.ports));
    return this.rows;
  }

  /** at the end of the table: its last line, if it had no newline */
  end(): TcpSocket[] {
    if (this.rest) this.rows.push(...parseTcpTable(this.rest, this.ports));
    this.rest = '';
    return this.rows;
  }
}

/**
 * Finds which of the given processes dialled accepted loopback connections. A batch reads /proc/net/tcp
 * once (tcp6 only for connections not in it) and scans the fds of the given pids only for dialling
 * sockets not in the cache; the cache (port, inode → pid) is dropped on such a miss, so it holds no more
 * than what the last scan found. Reading a table costs the kernel a walk of its whole TCP hash (about
 * 5 ms with 262144 buckets, however few sockets there are): ask in batches, or through `lookup`, which
 * gathers the connections accepted meanwhile into one read done off the event loop.
 */
export class SocketOwners {
  private cache = new Map<string, number>();
  /** for measurements and tests: how many table reads and fd scans were made */
  readonly counts = { tableReads: 0, fdScans: 0 };
  private pending: {
    conn: AcceptedEnds;
    pids: readonly number[];
    done: (pid: number | undefined) => void;
    fail: (e: unknown) => void;
  }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastRead = -Infinity;

  constructor(
    private readonly opts: {
      /** another /proc (tests) */
      procRoot?: string;
      /** `lookup`: at least this long between two table reads (default 20 ms) */
      minIntervalMs?: number;
    } = {},
  ) {}

  /** The owner of one connection among `pids`, or undefined (none of them, or closed already). Blocks for a table read. */
  ownerOf(conn: AcceptedEnds, pids: readonly number[]): number | undefined {
    return this.ownersOf([conn], pids)[0];
  }

  /** The owner of each connection among `pids` (undefined where none of them holds the other end). */
  ownersOf(conns: readonly AcceptedEnds[], pids: readonly number[]): (number | undefined)[] {
    const inodes: (number | undefined)[] = conns.map(() => undefined);
    for (const name of TABLES) {
      const missing = conns.filter((_, i) => inodes[i] === undefined);
      if (!missing.length) break;
      const rows = this.readRowsSync(name, portsOf(missing), allFound(missing));
      conns.forEach((c, i) => (inodes[i] ??= dialerInode(rows, c)));
    }
    return this.ownersFromInodes(conns, inodes, pids);
  }

  /**
   * The owner of one connection among `pids`, batched: connections asked about while a read is due or
   * under way share the next read, made at most once per `minIntervalMs` and in the thread pool.
   */
  lookup(conn: AcceptedEnds, pids: readonly number[]): Promise<number | undefined> {
    return new Promise((done, fail) => {
      this.pending.push({ conn, pids, done, fail });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.timer || !this.pending.length) return;
    const wait = Math.max(0, this.lastRead + (this.opts.minIntervalMs ?? 20) - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
  }

  private async flush(): Promise<void> {
    this.running = true;
    this.lastRead = performance.now();
    const batch = this.pending.splice(0);
    const conns = batch.map((b) => b.conn);
    try {
      const inodes: (number | undefined)[] = conns.map(() => undefined);
      for (const name of TABLES) {
        const missing = conns.filter((_, i) => inodes[i] === undefined);
        if (!missing.length) break;
        const rows = await this.readRows(name, portsOf(missing), allFound(missing));
        conns.forEach((c, i) => (inodes[i] ??= dialerInode(rows, c)));
      }
      // from here on synchronous, so no other batch touches the cache meanwhile
      const owners = this.ownersFromInodes(conns, inodes, [...new Set(batch.flatMap((b) => b.pids))]);
      batch.forEach((b, i) => b.done(owners[i] !== undefined && b.pids.includes(owners[i]) ? owners[i] : undefined));
    } catch (err) {
      for (const b of batch) b.fail(err);
    } finally {
      this.running = false;
      this.schedule();
    }
  }

  private ownersFromInodes(
    conns: readonly AcceptedEnds[],
    inodes: readonly (number | undefined)[],
    pids: readonly number[],
  ): (number | undefined)[] {
    const allowed = new Set(pids);
    const keyOf = (i: number) => `${conns[i].remotePort}/${inodes[i]}`;
    // a cached owner is the answer, also when it is not among the pids asked about (then: none of them)
    const known = conns.map((_, i) => (inodes[i] === undefined ? undefined : this.cache.get(keyOf(i))));
    const owners = known.map((pid) => (pid !== undefined && allowed.has(pid) ? pid : undefined));
    const wanted = new Set<number>();
    inodes.forEach((inode, i) => inode !== undefined && known[i] === undefined && wanted.add(inode));
    if (!wanted.size) return owners;
    // a miss: what was cached may belong to closed sockets; keep this batch's hits and what the scan finds
    this.cache.clear();
    const found = this.scanFds(pids, wanted);
    inodes.forEach((inode, i) => {
      const pid = known[i] ?? (inode === undefined ? undefined : found.get(inode));
      if (pid === undefined) return;
      if (known[i] === undefined) owners[i] = pid;
      if (this.cache.size < CACHE_MAX) this.cache.set(keyOf(i), pid);
    });
    return owners;
  }

  /**
   * The rows of a table for these ports, read a page at a time until `enough` holds: the kernel walks its
   * hash in bucket order as we read, so stopping early saves half the walk on average.
   */
  private readRowsSync(name: Table, ports: ReadonlySet<number>, enough: (rows: TcpSocket[]) => boolean): TcpSocket[] {
    this.counts.tableReads++;
    const rows = new RowCollector(ports);
    let fd: number;
    try {
      fd = fs.openSync(`${this.opts.procRoot ?? '/proc'}/net/${name}`, 'r');
    } catch {
      return []; // no IPv6 in this kernel or namespace
    }
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let n; (n = fs.readSync(fd, buf, 0, CHUNK, null)) > 0;) if (enough(rows.feed(buf, n))) return rows.rows;
      return rows.end();
    } finally {
      fs.closeSync(fd);
    }
  }

  private async readRows(
    name: Table,
    ports: ReadonlySet<number>,
    enough: (rows: TcpSocket[]) => boolean,
  ): Promise<TcpSocket[]> {
    this.counts.tableReads++;
    const rows = new RowCollector(ports);
    let file: fs.promises.FileHandle;
    try {
      file = await fs.promises.open(`${this.opts.procRoot ?? '/proc'}/net/${name}`, 'r');
    } catch {
      return [];
    }
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let n; (n = (await file.read(buf, 0, CHUNK, null)).bytesRead) > 0;)
        if (enough(rows.feed(buf, n))) return rows.rows;
      return rows.end();
    } finally {
      await file.close();
    }
  }

  /**
   * The processes of this user listening on these local ports (any address): port → pid. Reads both
   * tables and scans the fds of every process of this user once, so: rarely (when partitions start, or
   * when a connection's dialler is none of the known pids, e.g. after a member restarted).
   */
  listenerPids(ports: readonly number[]): Map<number, number> {
    const root = this.opts.procRoot ?? '/proc';
    const inodes = new Map<number, number>(); // inode → port
    for (const name of TABLES) {
      let text: string;
      try {
        text = fs.readFileSync(`${root}/net/${name}`, 'latin1');
      } catch {
        continue;
      }
      for (const [port, inode] of parseListeners(text, new Set(ports))) inodes.set(inode, port);
    }
    const out = new Map<number, number>();
    if (!inodes.size) return out;
    const uid = process.getuid?.();
    const pids = fs
      .readdirSync(root)
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          return uid === undefined || fs.statSync(`${root}/${pid}`).uid === uid;
        } catch {
          return false;
        }
      });
    for (const [inode, pid] of this.scanFds(pids, new Set(inodes.keys()))) out.set(inodes.get(inode)!, pid);
    return out;
  }

  /** inode → pid for the wanted inodes held by the given pids; stops once all are found. */
  private scanFds(pids: readonly number[], wanted: Set<number>): Map<number, number> {
    const found = new Map<number, number>();
    for (const pid of pids) {
      this.counts.fdScans++;
      const dir = `${this.opts.procRoot ?? '/proc'}/${pid}/fd`;
      let fds: string[];
      try {
        fds = fs.readdirSync(dir);
      } catch {
        continue; // gone, or not ours to read
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = fs.readlinkSync(`${dir}/${fd}`);
        } catch {
          continue; // closed while we looked
        }
        const inode = socketInode(link);
        if (inode === undefined || !wanted.has(inode)) continue;
        found.set(inode, pid);
        if (found.size === wanted.size) return found;
      }
    }
    return found;
  }
}
