// slice: each chunk goes out as small writes of size ± sizeVariation bytes with a delay between them.
// Lossless and in order, composed with the other faults in the pipe's order, bounded memory, and etcd
// still answers through a link sliced both ways.
import t from 'tap';
import pino from 'pino';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseFaultSpec as fault } from '../src/proxy/faults/registry.js';
import { freePorts } from '../src/util/net.js';
import {
  close,
  connect,
  echoServer,
  listen,
  pattern,
  readAll,
  sha,
  sinkServer,
  sleep,
  startLink,
} from './helpers/net.js';

/** A server that records each read separately. */
async function readsServer() {
  const reads: Buffer[] = [];
  let ended: () => void = () => {};
  const done = new Promise<void>((r) => (ended = r));
  const server = net.createServer((s) => {
    s.on('data', (b) => reads.push(b));
    s.on('error', () => {});
    s.on('end', () => {
      s.end();
      ended();
    });
  });
  return { server, port: await listen(server), reads, done };
}

/** A debug logger that keeps the size of every write the link makes, per direction. */
function writeLog() {
  const sizes: Record<string, number[]> = { transmitted: [], received: [] };
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) {
          if (!l) continue;
          const line = JSON.parse(l);
          if (line['data-size'] !== undefined) sizes[line.msg]?.push(line['data-size']);
        }
        cb();
      },
    }),
  );
  return { logger, sizes };
}

t.test('a chunk goes out as many small writes, intact and in order', async (t) => {
  const up = await readsServer();
  const { logger, sizes } = writeLog();
  const link = await startLink({ upstreamPort: up.port, logger });
  t.teardown(async () => {
    await link.close();
    await close(up.server);
  });
  link.addFault(fault({ type: 'slice', direction: 'tx', size: 1000, sizeVariation: 300, delay: '2ms' }));
  const data = pattern(30000, 7);
  const sock = await connect(link.address().port);
  sock.end(data);
  await up.done;
  t.equal(sha(up.reads), sha(data), 'every byte, in order');
  const writes = sizes.transmitted;
  t.equal(
    writes.reduce((a, b) => a + b, 0),
    data.length,
  );
  t.ok(writes.length >= Math.ceil(data.length / 1300), `${writes.length} writes`);
  t.ok(
    writes.every((n) => n >= 1 && n <= 1300),
    `every write is 1000 ± 300 bytes or a chunk's rest (${Math.min(...writes)}..${Math.max(...writes)})`,
  );
  t.ok(new Set(writes).size > 3, 'sizes vary');
  // the link waits between writes, so the receiver sees them apart (not merged back by the kernel)
  t.ok(up.reads.length >= writes.length / 2, `${up.reads.length} reads for ${writes.length} writes`);
  t.equal(link.stats().tx.forwarded, data.length);
});

t.test('slice composes with delay, bandwidth and pause, both directions, lossless', async (t) => {
  const echo = await echoServer();
  const link = await startLink({ upstreamPort: echo.port });
  t.teardown(async () => {
    await link.close();
    await close(echo.server);
  });
  link.addFault(fault({ type: 'slice', direction: 'tx', size: 512, sizeVariation: 256 }));
  link.addFault(fault({ type: 'slice', direction: 'rx', size: 100, delay: 0 }));
  link.addFault(fault({ type: 'delay', direction: 'tx', latency: '2ms', jitter: '2ms' }));
  link.addFault(fault({ type: 'bandwidth', direction: 'rx', rate: 4 * 1024 * 1024 }));
  const sock = await connect(link.address().port, { allowHalfOpen: true });
  const got = readAll(sock);
  const data = pattern(256 * 1024, 11);
  for (let off = 0; off < data.length; off += 8192) {
    sock.write(data.subarray(off, off + 8192));
    if (off === 64 * 1024) link.addFault(fault({ type: 'pause', direction: 'rx' }));
    if (off === 128 * 1024) link.removeFault(link.findFault('pause', 'rx')!.id);
    if (off % 32768 === 0) await sleep(1);
  }
  sock.end();
  const back = await got;
  t.equal(back.length, data.length);
  t.equal(sha(back), sha(data), 'echoed intact and in order');
});

t.test('a slow slice backs the sender up: memory stays bounded, nothing is lost', async (t) => {
  const sink = await sinkServer();
  const link = await startLink({ upstreamPort: sink.port });
  t.teardown(async () => {
    await link.close();
    await close(sink.server);
  });
  const f = link.addFault(fault({ type: 'slice', direction: 'tx', size: 100, delay: '10ms' })); // ~10 KB/s
  const data = pattern(8 * 1024 * 1024, 5);
  const sock = await connect(link.address().port);
  const received = sink.next();
  let blocked = false;
  const writing = (async () => {
    for (let off = 0; off < data.length; off += 65536) {
      if (!sock.write(data.subarray(off, off + 65536))) {
        blocked = true;
        await new Promise((r) => sock.once('drain', r));
      }
    }
    sock.end();
  })();
  let maxQueued = 0;
  for (let i = 0; i < 40; i++) {
    await sleep(25);
    const s = link.stats().tx;
    maxQueued = Math.max(maxQueued, s.read - s.forwarded);
  }
  t.ok(blocked, 'the sender saw backpressure');
  t.ok(maxQueued <= 512 * 1024 + 65536, `at most ${maxQueued} bytes queued in the link`);
  t.ok(link.stats().tx.read < data.length / 2, 'the link did not read everything ahead');
  link.removeFault(f.id);
  await writing;
  const r = await received;
  t.equal(r.bytes, data.length);
  t.equal(sha(r.data), sha(data), 'intact once the slice is removed');
});

function etcdctl(endpoint: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'etcdctl',
      ['--endpoints', endpoint, '--dial-timeout=2s', '--command-timeout=5s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 20000 },
      (err, stdout, stderr) => resolve({ ok: !err, out: stdout + stderr }),
    );
  });
}

t.test('etcd put, get and delete through a link sliced both ways', async (t) => {
  const [client, peer] = await freePorts(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-slice-'));
  const etcd = spawn(
    'etcd',
    [
      '--name=s1',
      `--data-dir=${dir}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=s1=http://127.0.0.1:${peer}`,
    ],
    { stdio: 'ignore' },
  );
  t.teardown(async () => {
    const exited = new Promise((r) => etcd.once('exit', r));
    etcd.kill('SIGKILL');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; !(await etcdctl(`127.0.0.1:${client}`, ['endpoint', 'health'])).ok; i++) {
    if (i > 60) throw new Error('etcd did not become healthy');
    await sleep(250);
  }
  const { logger, sizes } = writeLog();
  const link = await startLink({ upstreamPort: client, logger });
  t.teardown(() => link.close());
  link.addFault(fault({ type: 'slice', direction: 'tx', size: 3, sizeVariation: 2 }));
  link.addFault(fault({ type: 'slice', direction: 'rx', size: 5, sizeVariation: 4, delay: '100us' }));
  const ep = `127.0.0.1:${link.address().port}`;
  const value = pattern(3000, 9).toString('base64');
  let r = await etcdctl(ep, ['put', 'sliced', value]);
  t.ok(r.ok, `put through the sliced link: ${r.out.trim().slice(0, 200)}`);
  r = await etcdctl(ep, ['get', 'sliced', '--print-value-only']);
  t.equal(r.out.trim(), value, 'get through the sliced link');
  r = await etcdctl(ep, ['del', 'sliced']);
  t.equal(r.out.trim(), '1', 'delete through the sliced link');
  t.ok(sizes.transmitted.every((n) => n <= 5) && sizes.transmitted.length > 100, 'tx went out in ≤ 5-byte writes');
  t.ok(sizes.received.every((n) => n <= 9) && sizes.received.length > 100, 'rx went out in ≤ 9-byte writes');
  t.equal(link.stats().tx.dropped + link.stats().rx.dropped, 0);
});
