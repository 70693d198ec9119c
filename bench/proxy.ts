// Proxy benchmark: direct vs this project's etcd-proxy (and optionally another proxy command, e.g. Go's
// etcd-proxy) in one run, against the same loopback server. Prints ratios and writes JSON.
//   npm run build && npm run bench:proxy -- [--proxy-cmd "/tmp/goproxy/etcd-proxy --from localhost:{from} --to localhost:{to} --http-port {http}"]
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { freePorts } from '../src/util/net.js';
import { packageRoot, percentile, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:proxy -- [options]

Measures, in one run, a direct connection and each proxy: bulk throughput (64 KiB writes, 1 and N
streams), 64-byte ping-pong round trip p50/p99, and delay accuracy (delay-tx latency=50ms rv=0).

Options:
  --proxy-cmd CMD   another proxy to measure too; {from} {to} {http} are replaced by ports
                    (repeatable). It must serve etcd-proxy's admin API on {http}.
  --mb N            megabytes per throughput run (default 512)
  --streams N       streams for the parallel throughput run (default 16)
  --pings N         ping-pong round trips (default 20000)
  --delay-pings N   round trips with 50ms delay (default 100)
  --repeat N        interleaved rounds; each metric is the median (default 3)
  --out FILE        JSON output (default bench/results/proxy-<time>.json)
  -h, --help        this text`;

const root = packageRoot(import.meta.url);

interface Target {
  name: string;
  port: number;
  http?: number;
  proc?: ChildProcess;
}

// One upstream for every test: the first byte picks the mode. 'S' + 8-byte length = sink (answers "ok"
// once that many bytes arrived; no half-close needed, Go's proxy closes both sides on FIN), 'E' = echo.
async function startUpstream(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.setNoDelay(true);
    s.once('data', (first: Buffer) => {
      if (first[0] === 0x45) {
        if (first.length > 1) s.write(first.subarray(1));
        s.pipe(s);
        return;
      }
      const want = Number(first.readBigUInt64BE(1));
      let n = first.length - 9;
      const check = () => {
        if (n >= want) s.end('ok');
      };
      s.on('data', (b: Buffer) => {
        n += b.length;
        check();
      });
      check();
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as net.AddressInfo).port };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}

async function streamOnce(port: number, bytes: number): Promise<void> {
  const s = await connect(port);
  const block = Buffer.alloc(65536, 7);
  const reply = new Promise<string>((r) => {
    let text = '';
    s.on('data', (b) => (text += b));
    s.on('end', () => r(text));
    s.on('close', () => r(text));
  });
  const head = Buffer.alloc(9);
  head[0] = 0x53;
  head.writeBigUInt64BE(BigInt(bytes), 1);
  s.write(head);
  for (let sent = 0; sent < bytes; sent += block.length) {
    if (!s.write(block)) await new Promise((r) => s.once('drain', r));
  }
  const got = await reply;
  s.destroy();
  if (got !== 'ok') throw new Error(`the sink did not confirm ${bytes} bytes`);
}

async function throughput(port: number, totalBytes: number, streams: number): Promise<number> {
  const per = Math.ceil(totalBytes / streams / 65536) * 65536;
  const start = performance.now();
  await Promise.all(Array.from({ length: streams }, () => streamOnce(port, per)));
  const secs = (performance.now() - start) / 1000;
  return (per * streams) / 1048576 / secs;
}

async function pingPong(port: number, rounds: number): Promise<number[]> {
  const s = await connect(port);
  s.write('E');
  const msg = Buffer.alloc(64, 1);
  const rtts: number[] = [];
  let need = 0;
  let wake: (() => void) | undefined;
  s.on('data', (b: Buffer) => {
    need -= b.length;
    if (need <= 0 && wake) {
      const w = wake;
      wake = undefined;
      w();
    }
  });
  for (let i = 0; i < rounds; i++) {
    need = 64;
    const t0 = performance.now();
    await new Promise<void>((r) => {
      wake = r;
      s.write(msg);
    });
    rtts.push(performance.now() - t0);
  }
  s.destroy();
  return rtts;
}

async function admin(http: number, method: string, route: string, body?: string): Promise<string> {
  const res = await request(`http://127.0.0.1:${http}${route}`, {
    method: method as 'GET',
    body,
    headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
  });
  return res.body.text();
}

async function startProxy(name: string, cmd: string, upstream: number): Promise<Target> {
  const [from, http] = await freePorts(2);
  const line = cmd
    .replaceAll('{from}', String(from))
    .replaceAll('{to}', String(upstream))
    .replaceAll('{http}', String(http));
  const proc = spawn('sh', ['-c', `exec ${line}`], { stdio: ['ignore', 'ignore', 'ignore'] });
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      await admin(http, 'GET', '/delay-tx');
      const s = await connect(from);
      s.destroy();
      break;
    } catch {
      if (Date.now() > deadline || proc.exitCode !== null) throw new Error(`${name} did not start: ${line}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { name, port: from, http, proc };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'proxy-cmd': { type: 'string', multiple: true },
      mb: { type: 'string', default: '512' },
      streams: { type: 'string', default: '16' },
      pings: { type: 'string', default: '20000' },
      'delay-pings': { type: 'string', default: '100' },
      repeat: { type: 'string', default: '3' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const num = (k: 'mb' | 'streams' | 'pings' | 'delay-pings' | 'repeat') => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v <= 0) throw new Error(`--${k}: expected a positive integer, got ${values[k]}`);
    return v;
  };
  const bytes = num('mb') * 1048576;
  const streams = num('streams');
  const pings = num('pings');
  const delayPings = num('delay-pings');
  const repeat = num('repeat');

  const up = await startUpstream();
  const targets: Target[] = [{ name: 'direct', port: up.port }];
  const ours = `${process.execPath} ${path.join(root, 'bin/etcd-proxy.js')} --from 127.0.0.1:{from} --to 127.0.0.1:{to} --http-port {http}`;
  targets.push(await startProxy('etcd-soak', ours, up.port));
  for (const [i, cmd] of (values['proxy-cmd'] ?? []).entries())
    targets.push(await startProxy(`other${i + 1}`, cmd, up.port));

  const results: Record<string, Record<string, number>> = {};
  try {
    // rounds interleave the targets so machine noise hits them alike; each metric is the median
    const rounds: Record<string, Record<string, number>[]> = {};
    for (let round = 1; round <= repeat; round++) {
      for (const t of targets) {
        process.stderr.write(`round ${round}/${repeat}: measuring ${t.name}...\n`);
        await throughput(t.port, 64 * 1048576, 1); // warm-up
        const r: Record<string, number> = {};
        r.mbps1 = await throughput(t.port, bytes, 1);
        r.mbpsN = await throughput(t.port, bytes, streams);
        const rtts = await pingPong(t.port, pings);
        r.rttP50us = percentile(rtts, 50) * 1000;
        r.rttP99us = percentile(rtts, 99) * 1000;
        if (t.http) {
          await admin(t.http, 'PUT', '/delay-tx', 'latency=50ms&random-variable=0s');
          const d = await pingPong(t.port, delayPings);
          await admin(t.http, 'DELETE', '/delay-tx');
          const base = percentile(rtts, 50);
          const err = d.map((x) => Math.abs(x - base - 50));
          r.delayErrP50ms = percentile(err, 50);
          r.delayErrP99ms = percentile(err, 99);
        }
        (rounds[t.name] ??= []).push(r);
      }
    }
    for (const [name, rs] of Object.entries(rounds)) {
      results[name] = Object.fromEntries(
        Object.keys(rs[0]).map((k) => [
          k,
          percentile(
            rs.map((r) => r[k]),
            50,
          ),
        ]),
      );
    }
  } finally {
    for (const t of targets) t.proc?.kill('SIGTERM');
    up.server.close();
  }

  const names = Object.keys(results);
  const rows: [string, string, (r: Record<string, number>) => number | undefined][] = [
    ['throughput 1 stream', 'MiB/s', (r) => r.mbps1],
    [`throughput ${streams} streams`, 'MiB/s', (r) => r.mbpsN],
    ['ping-pong RTT p50', 'µs', (r) => r.rttP50us],
    ['ping-pong RTT p99', 'µs', (r) => r.rttP99us],
    ['delay 50ms error p50', 'ms', (r) => r.delayErrP50ms],
    ['delay 50ms error p99', 'ms', (r) => r.delayErrP99ms],
  ];
  const ratios: Record<string, Record<string, number>> = {};
  let table = `${'metric'.padEnd(28)}${names.map((n) => n.padStart(14)).join('')}  ratios\n`;
  for (const [label, unit, get] of rows) {
    table += `${`${label} (${unit})`.padEnd(28)}${names.map((n) => (get(results[n])?.toFixed(unit === 'ms' ? 3 : 0) ?? '-').padStart(14)).join('')}`;
    const notes: string[] = [];
    const direct = get(results.direct);
    const mine = get(results['etcd-soak']);
    if (direct !== undefined && mine !== undefined) {
      const ratio = mine / direct;
      notes.push(`etcd-soak/direct ${ratio.toFixed(2)}`);
      (ratios['etcd-soak/direct'] ??= {})[label] = ratio;
    }
    for (const n of names.filter((x) => x.startsWith('other'))) {
      const other = get(results[n]);
      if (other !== undefined && mine !== undefined) {
        const ratio = mine / other;
        notes.push(`etcd-soak/${n} ${ratio.toFixed(2)}`);
        (ratios[`etcd-soak/${n}`] ??= {})[label] = ratio;
      }
    }
    table += `  ${notes.join(', ')}\n`;
  }
  // added RTT vs direct (the proxy's own cost)
  for (const n of names.filter((x) => x !== 'direct')) {
    table += `added RTT p50 ${n}: ${(results[n].rttP50us - results.direct.rttP50us).toFixed(0)} µs\n`;
  }
  console.log(table);
  const out = writeResults(
    root,
    'proxy',
    {
      when: new Date().toISOString(),
      settings: { bytes, streams, pings, delayPings, repeat, proxyCmds: values['proxy-cmd'] ?? [] },
      results,
      ratios,
    },
    values.out,
  );
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
