// Proxy benchmark: direct vs this project's etcd-proxy (and optionally another proxy command, e.g. Go's
// etcd-proxy) in one run, every path through the same loopback server in a process of its own
// (bench/upstream.ts). Interleaved rounds; prints medians with min–max and ratios, and writes JSON.
//   npm run build && npm run bench:proxy -- [--proxy-cmd "/tmp/goproxy/etcd-proxy --from localhost:{from} --to localhost:{to} --http-port {http}"]
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { freePorts } from '../src/util/net.js';
import {
  formatSpread,
  machineLoad,
  medianRatio,
  packageRoot,
  percentile,
  processCpuSeconds,
  roundOrder,
  spread,
  writeResults,
  type Spread,
} from './lib.js';

const HELP = `Usage: npm run bench:proxy -- [options]

Measures, in one run, a direct connection and each proxy, all to the same sink/echo server running in
a process of its own: bulk throughput (64 KiB writes, 1 and N streams) and the proxy's CPU per GiB,
64-byte ping-pong round trip p50/p99 and what each proxy adds to it, and delay accuracy (delay-tx
latency=50ms rv=0). Figures are medians of interleaved rounds, with their min–max.

Options:
  --proxy-cmd CMD   another proxy to measure too; {from} {to} {http} are replaced by ports
                    (repeatable). It must serve etcd-proxy's admin API on {http}.
  --mb N            megabytes per throughput run (default 512)
  --streams N       streams for the parallel throughput run (default 16)
  --pings N         ping-pong round trips (default 20000)
  --delay-pings N   round trips with 50ms delay (default 100)
  --repeat N        interleaved rounds (default 3)
  --out FILE        JSON output (default bench/results/proxy-<time>.json)
  -h, --help        this text`;

const root = packageRoot(import.meta.url);

interface Target {
  name: string;
  port: number;
  http?: number;
  proc?: ChildProcess;
}

/** The sink/echo server (bench/upstream.ts) in a child process; resolves with its port. */
async function startUpstream(): Promise<{ proc: ChildProcess; port: number }> {
  const here = fileURLToPath(import.meta.url);
  const script = path.join(path.dirname(here), `upstream${path.extname(here)}`);
  // built: plain node; under tsx (bench/*.ts): node with tsx's loader
  const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : [script];
  const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    proc.stdout!.on('data', (b: Buffer) => {
      text += b.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n')) resolve((JSON.parse(line) as { port: number }).port);
    });
    proc.once('exit', (code) => reject(new Error(`the upstream server exited (${code}) before listening`)));
  });
  return { proc, port };
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

  const rounds: Record<string, Record<string, number>[]> = {};
  const loadBefore = machineLoad();
  try {
    // rounds interleave the targets (in a rotating order) so machine noise hits them alike
    for (let round = 0; round < repeat; round++) {
      for (const t of roundOrder(targets, round)) {
        process.stderr.write(`round ${round + 1}/${repeat}: measuring ${t.name}...\n`);
        await throughput(t.port, 64 * 1048576, 1); // warm-up
        const r: Record<string, number> = {};
        const cpu0 = t.proc?.pid === undefined ? undefined : processCpuSeconds(t.proc.pid);
        r.mbps1 = await throughput(t.port, bytes, 1);
        r.mbpsN = await throughput(t.port, bytes, streams);
        const cpu1 = t.proc?.pid === undefined ? undefined : processCpuSeconds(t.proc.pid);
        // the proxy's own CPU per GiB it carried in the two throughput runs
        if (cpu0 !== undefined && cpu1 !== undefined) r.cpuSecPerGiB = (cpu1 - cpu0) / ((2 * bytes) / 2 ** 30);
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
      // what each proxy adds to the round trip, against direct in the same round
      const direct = rounds.direct[round].rttP50us;
      for (const t of targets.slice(1)) rounds[t.name][round].addedRttP50us = rounds[t.name][round].rttP50us - direct;
    }
  } finally {
    for (const t of targets) t.proc?.kill('SIGTERM');
    up.proc.stdin!.end();
  }
  const results: Record<string, Record<string, Spread | undefined>> = {};
  for (const [name, rs] of Object.entries(rounds)) {
    const keys = new Set(rs.flatMap((r) => Object.keys(r)));
    results[name] = Object.fromEntries([...keys].map((k) => [k, spread(rs.map((r) => r[k]))]));
  }

  const names = Object.keys(results);
  const rows: [string, string, string][] = [
    ['throughput 1 stream', 'MiB/s', 'mbps1'],
    [`throughput ${streams} streams`, 'MiB/s', 'mbpsN'],
    ['proxy CPU', 's/GiB', 'cpuSecPerGiB'],
    ['ping-pong RTT p50', 'µs', 'rttP50us'],
    ['ping-pong RTT p99', 'µs', 'rttP99us'],
    ['added RTT p50', 'µs', 'addedRttP50us'],
    ['delay 50ms error p50', 'ms', 'delayErrP50ms'],
    ['delay 50ms error p99', 'ms', 'delayErrP99ms'],
  ];
  const ratios: Record<string, Record<string, number>> = {};
  let table = `median (min–max) of ${repeat} interleaved rounds; all paths through the same out-of-process server\n`;
  table += `${'metric'.padEnd(28)}${names.map((n) => n.padStart(24)).join('')}  ratios of medians\n`;
  for (const [label, unit, key] of rows) {
    const digits = unit === 'ms' ? 3 : unit === 's/GiB' ? 2 : 0;
    table += `${`${label} (${unit})`.padEnd(28)}${names.map((n) => formatSpread(results[n][key], digits).padStart(24)).join('')}`;
    const notes: string[] = [];
    const mine = results['etcd-soak'][key];
    for (const n of names.filter((x) => x !== 'etcd-soak')) {
      const ratio = medianRatio(mine, results[n][key]);
      if (ratio === undefined) continue;
      notes.push(`etcd-soak/${n} ${ratio.toFixed(2)}`);
      (ratios[`etcd-soak/${n}`] ??= {})[label] = ratio;
    }
    table += `  ${notes.join(', ')}\n`;
  }
  const loadAfter = machineLoad();
  table += `load average before ${loadBefore.loadavg.join(' ')}, after ${loadAfter.loadavg.join(' ')} (${loadAfter.cpus} cpus)\n`;
  console.log(table);
  const out = writeResults(
    root,
    'proxy',
    {
      when: new Date().toISOString(),
      settings: { bytes, streams, pings, delayPings, repeat, proxyCmds: values['proxy-cmd'] ?? [] },
      load: { before: loadBefore, after: loadAfter },
      results,
      ratios,
      rounds,
    },
    values.out,
  );
  console.log(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
