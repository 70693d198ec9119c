// Who dialled an accepted loopback connection: the /proc/net/tcp parsing on sample lines, then for real
// with child processes that connect to a server here, and with this process itself.
import t from 'tap';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  decodeAddress,
  dialerInode,
  parseTcpTable,
  plainAddress,
  socketInode,
  SocketOwners,
  type AcceptedEnds,
} from '../src/util/sockowner.js';

// lines as a little-endian Linux prints them (header, a listener, both ends of one loopback connection,
// a time-wait row with no inode)
const TCP = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:8119 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 847003 1 00000000c498a4b4 100 0 0 10 0',
  '  21: 0100007F:DF56 0100007F:9C19 01 00000000:00000000 00:00000000 00000000  1000        0 846831 2 0000000011407b3f 20 0 0 10 -1',
  '  22: 0100007F:9C19 0100007F:DF56 01 00000000:00000000 00:00000000 00000000  1000        0 846832 1 0000000052c18612 20 0 0 10 -1',
  '  23: 0100007F:DF57 0100007F:9C19 06 00000000:00000000 03:000016D0 00000000     0        0 0 3 00000000041c8306',
  '',
].join('\n');
const TCP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   1: 00000000000000000000000001000000:82E5 00000000000000000000000001000000:A090 01 00000000:00000000 00:00000000 00000000     0        0 846729 1 0000000000f8f77a 20 0 0 10 -1',
  '   2: 0000000000000000FFFF00000100007F:DF58 0000000000000000FFFF00000100007F:9C19 01 00000000:00000000 00:00000000 00000000     0        0 846833 1 0000000052c18612 20 0 0 10 -1',
].join('\n');

t.test('addresses: every 32-bit word in host byte order', async (t) => {
  t.equal(decodeAddress('0100007F', true), '127.0.0.1');
  t.equal(decodeAddress('7F000001', false), '127.0.0.1', 'a big-endian machine prints the bytes in order');
  t.equal(decodeAddress('0201A8C0', true), '192.168.1.2');
  t.equal(decodeAddress('00000000000000000000000001000000', true), '::1');
  t.equal(decodeAddress('00000000000000000000000000000000', true), '::');
  t.equal(decodeAddress('0000000000000000FFFF00000100007F', true), '127.0.0.1', 'v4-mapped as Node shows the peer');
  t.equal(decodeAddress('B80D0120000000000000000001000000', true), '2001:db8::1');
  t.equal(decodeAddress('000080FE000000000000000001000000', true), 'fe80::1');
  t.equal(decodeAddress('00000100020000000000000003000000', true), '1:0:0:2::3', 'the longest zero run');
  t.equal(decodeAddress('01000000010000000100000001000000', true), '0:1:0:1:0:1:0:1', 'no run of two zero groups');
  t.throws(() => decodeAddress('0100007', true), /not a \/proc\/net\/tcp address/);
  t.throws(() => decodeAddress('0100007G', true), /not a \/proc\/net\/tcp address/);
  t.equal(plainAddress('::ffff:127.0.0.1'), '127.0.0.1');
  t.equal(plainAddress('::1'), '::1');
});

t.test('table rows: listeners left out, ports in host order, the port filter', async (t) => {
  const rows = parseTcpTable(TCP, undefined, true);
  t.same(rows[0], {
    localAddress: '127.0.0.1',
    localPort: 0xdf56,
    remoteAddress: '127.0.0.1',
    remotePort: 0x9c19,
    state: 1,
    uid: 1000,
    inode: 846831,
  });
  t.same(
    rows.map((r) => [r.localPort, r.inode]),
    [
      [0xdf56, 846831],
      [0x9c19, 846832],
      [0xdf57, 0],
    ],
  );
  t.same(
    parseTcpTable(TCP, new Set([0xdf56]), true).map((r) => r.inode),
    [846831],
  );
  t.same(parseTcpTable('', undefined, true), []);
  t.same(parseTcpTable(TCP.split('\n')[0], undefined, true), [], 'a header alone');
  const six = parseTcpTable(TCP6, undefined, true);
  t.same(
    six.map((r) => [r.localAddress, r.remoteAddress, r.inode]),
    [
      ['::1', '::1', 846729],
      ['127.0.0.1', '127.0.0.1', 846833], // a dual-stack dialler's v4-mapped ends
    ],
  );
  t.equal(socketInode('socket:[846831]'), 846831);
  t.equal(socketInode('pipe:[12]'), undefined);
  t.equal(socketInode('/dev/null'), undefined);
});

t.test('the dialling end: local and remote swapped, time-wait rows skipped', async (t) => {
  const rows = [...parseTcpTable(TCP, undefined, true), ...parseTcpTable(TCP6, undefined, true)];
  const conn = (remotePort: number, remoteAddress = '127.0.0.1'): AcceptedEnds => ({
    localAddress: remoteAddress,
    localPort: 0x9c19,
    remoteAddress,
    remotePort,
  });
  t.equal(dialerInode(rows, conn(0xdf56)), 846831, 'not the accepted end 846832');
  t.equal(dialerInode(rows, conn(0xdf56, '::ffff:127.0.0.1')), 846831, 'seen from a dual-stack listener');
  t.equal(dialerInode(rows, conn(0xdf57)), undefined, 'time-wait: nobody holds it');
  t.equal(dialerInode(rows, { ...conn(0xdf56), localPort: 1 }), undefined, 'a connection to another port');
  t.equal(dialerInode(rows, conn(0xdf58, '::ffff:127.0.0.1')), 846833);
});

t.test('a made-up /proc: rows cut across reads, fds of the given pids only', async (t) => {
  const root = t.testdir({
    net: {
      // 200 rows (over 4096 bytes, so lines are cut between reads); the one wanted is row 150
      tcp: [
        TCP.split('\n')[0],
        ...Array.from({ length: 200 }, (_, i) => {
          const port = (40000 + i).toString(16).toUpperCase();
          return `  ${i}: 0100007F:${port} 0100007F:0050 01 00000000:00000000 00:00000000 00000000  1000        0 ${900000 + i} 1 0000000000000000 20 0 0 10 -1`;
        }),
      ].join('\n'),
    },
    '101': { fd: { '0': t.fixture('symlink', '/dev/null'), '7': t.fixture('symlink', 'socket:[900001]') } },
    '102': { fd: { '3': t.fixture('symlink', 'pipe:[5]'), '9': t.fixture('symlink', 'socket:[900150]') } },
    '103': { fd: { '4': t.fixture('symlink', 'socket:[900150]') } },
  });
  const conn = (i: number): AcceptedEnds => ({
    localAddress: '127.0.0.1',
    localPort: 80,
    remoteAddress: '127.0.0.1',
    remotePort: 40000 + i,
  });
  const owners = new SocketOwners({ procRoot: root });
  t.same(owners.ownersOf([conn(150), conn(1), conn(199)], [101, 102]), [102, 101, undefined]);
  t.equal(owners.counts.tableReads, 1, 'every row in tcp: no tcp6 read');
  t.same(owners.ownersOf([conn(150)], [103, 101]), [undefined], 'the cached owner 102 is not among them');
  t.same(new SocketOwners({ procRoot: root }).ownersOf([conn(150)], [103, 101]), [103], 'a fresh scan finds 103');
  t.same(await new SocketOwners({ procRoot: root }).lookup(conn(1), [101]), 101, 'the same through a batch');
  t.equal(new SocketOwners({ procRoot: root }).ownerOf(conn(150), [999]), undefined, 'a pid that does not exist');
});

interface Server {
  port: number;
  next: () => Promise<net.Socket>;
  close: () => Promise<void>;
}

async function server(host = '127.0.0.1'): Promise<Server> {
  const queue: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];
  const all = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    all.add(s);
    s.on('error', () => {});
    const w = waiting.shift();
    if (w) w(s);
    else queue.push(s);
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    next: () => new Promise((r) => (queue.length ? r(queue.shift()!) : waiting.push(r))),
    close: () => {
      for (const s of all) s.destroy();
      return new Promise((r) => srv.close(() => r()));
    },
  };
}

/** A process that opens `n` connections to host:port and holds them until killed. */
function dialler(port: number, n = 1, host = '127.0.0.1'): ChildProcess {
  const code = `const net=require('net');for(let i=0;i<${n};i++)net.connect(${port},${JSON.stringify(host)}).on('error',()=>{});setInterval(()=>{},1e6)`;
  return spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
}

const ends = (s: net.Socket): AcceptedEnds => ({
  localAddress: s.localAddress!,
  localPort: s.localPort!,
  remoteAddress: s.remoteAddress!,
  remotePort: s.remotePort!,
});

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));

t.test('for real: a child process, this process, a pid not asked about, a closed dialler', async (t) => {
  const srv = await server();
  t.teardown(srv.close);
  const child = dialler(srv.port);
  const other = dialler(srv.port);
  t.teardown(() => {
    child.kill();
    other.kill();
  });
  // the two children connect concurrently: which accepted socket is whose is what the lookup tells
  const x = ends(await srv.next());
  const y = ends(await srv.next());
  const self = net.connect(srv.port, '127.0.0.1');
  t.teardown(() => self.destroy());
  const fromSelf = ends(await srv.next());
  const pids = [child.pid!, other.pid!];
  const owners = new SocketOwners();
  const [ox, oy] = owners.ownersOf([x, y], pids);
  t.same(new Set([ox, oy]), new Set(pids), 'each connection to its own child');
  t.equal(owners.counts.tableReads, 1, 'one table read for the batch');
  const fromChild = ox === child.pid ? x : y;
  const fromOther = ox === child.pid ? y : x;

  // the cache: the same connections again read the table but scan no fds
  const scans = owners.counts.fdScans;
  t.equal(owners.ownerOf(fromChild, pids), child.pid);
  t.equal(owners.ownerOf(fromOther, pids), other.pid);
  t.equal(owners.ownerOf(fromChild, [other.pid!]), undefined, 'cached, but not among the pids asked about');
  t.equal(owners.counts.fdScans, scans, 'a cached (port, inode) is not scanned for');

  t.equal(owners.ownerOf(fromSelf, [...pids, process.pid]), process.pid, 'this process');
  t.ok(owners.counts.fdScans > scans, 'a connection not in the cache: a scan');
  t.equal(owners.ownerOf(fromSelf, pids), undefined, 'not among the pids asked about');
  t.equal(new SocketOwners().ownerOf(fromChild, [other.pid!]), undefined, 'only the given pids are scanned');

  const late = dialler(srv.port);
  t.teardown(() => late.kill());
  const fromLate = ends(await srv.next());
  t.equal(owners.ownerOf(fromLate, [...pids, late.pid!]), late.pid);
  late.kill();
  await exited(late);
  t.equal(owners.ownerOf(fromLate, [...pids, late.pid!]), undefined, 'its dialler is gone: no owner');
  t.equal(owners.ownerOf(fromChild, pids), child.pid, 'the others still found');
});

t.test('lookup: connections asked about together share one table read', async (t) => {
  const srv = await server();
  t.teardown(srv.close);
  const children = [dialler(srv.port, 2), dialler(srv.port, 2), dialler(srv.port, 2)];
  t.teardown(() => children.forEach((c) => c.kill()));
  const conns: AcceptedEnds[] = [];
  for (let i = 0; i < 6; i++) conns.push(ends(await srv.next()));
  const pids = children.map((c) => c.pid!);
  const owners = new SocketOwners({ minIntervalMs: 0 });
  const sync = new SocketOwners().ownersOf(conns, pids);
  const found = await Promise.all(conns.map((c) => owners.lookup(c, pids)));
  t.same(found, sync, 'the same owners as asked one batch at a time');
  t.same(
    pids.map((p) => found.filter((f) => f === p).length),
    [2, 2, 2],
  );
  t.equal(owners.counts.tableReads, 1, 'six lookups, one read of /proc/net/tcp');
  t.same(
    await Promise.all(conns.map((c) => owners.lookup(c, [pids[0]]))),
    sync.map((p) => (p === pids[0] ? p : undefined)),
  );
  t.equal(owners.counts.tableReads, 2);

  const gone = { ...conns[0], remotePort: 1 };
  t.equal(await owners.lookup(gone, pids), undefined, 'nobody dialled from that port');
  t.equal(owners.counts.tableReads, 4, 'a connection in neither table: tcp6 read too');
});

t.test('for real: a dual-stack listener, and IPv6 loopback when there is one', async (t) => {
  const srv = await server('::');
  t.teardown(srv.close);
  const v4 = dialler(srv.port, 1, '127.0.0.1');
  t.teardown(() => v4.kill());
  const s4 = await srv.next();
  t.equal(s4.remoteAddress, '::ffff:127.0.0.1', 'the accepted end is an IPv6 socket, the dialler an IPv4 one');
  t.equal(new SocketOwners().ownerOf(ends(s4), [v4.pid!]), v4.pid);

  const v6 = dialler(srv.port, 1, '::1');
  t.teardown(() => v6.kill());
  const s6 = await Promise.race([srv.next(), exited(v6).then(() => undefined)]);
  if (!s6) return t.skip('no IPv6 loopback here');
  t.equal(s6.remoteAddress, '::1');
  t.equal(new SocketOwners().ownerOf(ends(s6), [v4.pid!, v6.pid!]), v6.pid);
});

t.test('three member-like processes holding 40 connections each: the cost of a lookup', async (t) => {
  const srv = await server();
  t.teardown(srv.close);
  const members = [0, 1, 2].map(() => dialler(srv.port, 40));
  t.teardown(() => members.forEach((m) => m.kill()));
  const accepted: net.Socket[] = [];
  for (let i = 0; i < 120; i++) accepted.push(await srv.next());
  const pids = members.map((m) => m.pid!);
  const owners = new SocketOwners();
  const found = owners.ownersOf(accepted.map(ends), pids);
  t.same(
    pids.map((p) => found.filter((f) => f === p).length),
    [40, 40, 40],
    'every connection to the process that holds it',
  );

  // a miss each time (a fresh cache), the worst case: the connection wanted is in the last fds scanned
  const last = accepted.filter((_, i) => found[i] === pids[2]).map(ends);
  const rounds = 40;
  let t0 = performance.now();
  for (let i = 0; i < rounds; i++) new SocketOwners().ownerOf(last[i % last.length], pids);
  const miss = ((performance.now() - t0) * 1000) / rounds;
  t0 = performance.now();
  for (let i = 0; i < rounds; i++) owners.ownerOf(last[i % last.length], pids);
  const hit = ((performance.now() - t0) * 1000) / rounds;
  const shared = new SocketOwners({ minIntervalMs: 0 });
  t0 = performance.now();
  const batched = await Promise.all(accepted.map((s) => shared.lookup(ends(s), pids)));
  const perBatch = (performance.now() - t0) * 1000;
  t.same(batched, found);
  t.equal(shared.counts.tableReads, 1);
  // a cached lookup is one table read and its parse: the rest of a miss is the fd scan
  t.comment(
    `3 pids × ~60 fds: lookup ${miss.toFixed(0)} µs on a miss, ${hit.toFixed(0)} µs cached (the table read), ` +
      `so the fd scan ${(miss - hit).toFixed(0)} µs; 120 lookups batched into one read: ${perBatch.toFixed(0)} µs`,
  );
});
