// Partition benchmark: leader isolations in a row on the lab (3 members, TLS peers, the default load):
// how many elect a majority leader, time to the new leader, time to heal, the term change on rejoin
// (etcd 3.4 has pre-vote off by default: the isolated member's campaigns raise its term), and the bytes
// that passed a cut pair. Prints a table and writes JSON.
//   npm run build && npm run bench:partition -- [--rounds 20] [--plain]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/schema.js';
import { startLab, type Lab } from '../src/lab/lab.js';
import { packageRoot, percentile, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:partition -- [options]

  --rounds N     leader isolations in a row (default 20)
  --hold MS      how long each isolation stays once a new leader is elected (default 5000)
  --plain        plain-HTTP peers instead of TLS
  --no-load      no load while isolating (default: the lab's default load)
  --out FILE     JSON output (default bench/results/partition-<time>.json)
  -h, --help     this text`;

interface Row {
  name: string;
  ok: boolean;
  isLeader?: boolean;
  leader?: string;
  raftTerm?: number;
  revision?: number;
}
interface Round {
  oldLeader: string;
  newLeader?: string;
  electMs?: number;
  healMs?: number;
  termBefore: number;
  /** the majority's term while the old leader is cut off */
  termDuring?: number;
  /** the isolated member's own term just before the heal (its campaigns raise it) */
  termIsolated?: number;
  /** the cluster's term 2 s after the heal */
  termAfter?: number;
  cutBytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function api(lab: Lab, method: string, p: string, body?: unknown): Promise<any> {
  const res = await fetch(lab.apiUrl + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const cluster = (lab: Lab): Promise<Row[]> => api(lab, 'GET', '/cluster');
const maxTerm = (rows: Row[]) => Math.max(0, ...rows.map((r) => r.raftTerm ?? 0));

async function until<T>(f: () => Promise<T | undefined>, ms: number): Promise<T | undefined> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(50);
  }
  return undefined;
}

async function round(lab: Lab, hold: number): Promise<Round> {
  const before = await cluster(lab);
  const old = before.find((r) => r.isLeader)!;
  const start = performance.now();
  const p = await api(lab, 'POST', '/partitions', { isolate: 'leader' });
  const r: Round = { oldLeader: old.name, termBefore: maxTerm(before), cutBytes: 0 };
  const elected = await until(async () => {
    const rows = await cluster(lab);
    return rows.find((x) => x.name !== old.name && x.ok && x.isLeader);
  }, 15000);
  if (elected) {
    r.newLeader = elected.name;
    r.electMs = performance.now() - start;
  }
  const pairs = async () =>
    ((await api(lab, 'GET', '/peers')) as { from: string; to: string; bytes: number }[]).filter((x) =>
      (p.cut as { from: string; to: string }[]).some((c) => c.from === x.from && c.to === x.to),
    );
  const b1 = await pairs();
  await sleep(hold);
  const b2 = await pairs();
  r.cutBytes = b2.reduce((s, x) => s + x.bytes, 0) - b1.reduce((s, x) => s + x.bytes, 0);
  const during = await cluster(lab);
  r.termDuring = maxTerm(during.filter((x) => x.name !== old.name));
  r.termIsolated = during.find((x) => x.name === old.name)?.raftTerm;
  const healStart = performance.now();
  await api(lab, 'DELETE', `/partitions/${p.id}`);
  const healed = await until(async () => {
    const rows = await cluster(lab);
    const leaders = new Set(rows.map((x) => x.leader));
    return rows.every((x) => x.ok) && leaders.size === 1 && rows.some((x) => x.isLeader) ? rows : undefined;
  }, 30000);
  if (healed) {
    r.healMs = performance.now() - healStart;
    await sleep(2000); // a rejoining member with a higher term forces an election: let it settle
    r.termAfter = maxTerm(await cluster(lab));
  }
  return r;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '20' },
      hold: { type: 'string', default: '5000' },
      plain: { type: 'boolean' },
      'no-load': { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const rounds = Number(values.rounds);
  const config = parseConfig({
    api: { listen: '127.0.0.1:0' },
    reportDir: fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-bench-partition-')),
    cluster: { launch: { members: 3, ports: 'ephemeral', peerTls: !values.plain } },
    ...(values['no-load'] ? {} : { load: {} }),
  });
  const lab = await startLab(config, { out: null });
  const results: Round[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const r = await round(lab, Number(values.hold));
      results.push(r);
      process.stdout.write(
        `round ${i + 1}/${rounds}: ${r.oldLeader} isolated → ${r.newLeader ?? 'NO LEADER'} in ${r.electMs?.toFixed(0) ?? '-'} ms, healed in ${r.healMs?.toFixed(0) ?? '-'} ms, term ${r.termBefore} → ${r.termDuring} (isolated ${r.termIsolated ?? '-'}) → ${r.termAfter}, cut bytes ${r.cutBytes}\n`,
      );
      await sleep(500);
    }
  } finally {
    const summary = values['no-load'] ? undefined : await api(lab, 'DELETE', '/load').catch(() => undefined);
    await lab.stop();
    const elect = results.flatMap((r) => (r.electMs === undefined ? [] : [r.electMs])).sort((a, b) => a - b);
    const heal = results.flatMap((r) => (r.healMs === undefined ? [] : [r.healMs])).sort((a, b) => a - b);
    const jumps = results.flatMap((r) =>
      r.termAfter === undefined || r.termDuring === undefined ? [] : [r.termAfter - r.termDuring],
    );
    const out = {
      rounds: results.length,
      peers: values.plain ? 'http' : 'https',
      elected: elect.length,
      newLeaderMs: { p50: percentile(elect, 50), p99: percentile(elect, 99), min: elect[0], max: elect.at(-1) },
      healMs: { p50: percentile(heal, 50), p99: percentile(heal, 99), min: heal[0], max: heal.at(-1) },
      termJumpOnRejoin: {
        min: Math.min(...jumps),
        max: Math.max(...jumps),
        mean: jumps.reduce((a, b) => a + b, 0) / (jumps.length || 1),
      },
      cutBytesTotal: results.reduce((s, r) => s + r.cutBytes, 0),
      loadViolations: summary?.violations,
      results,
    };
    process.stdout.write(
      `\nleader isolations: ${out.elected}/${out.rounds} elected a majority leader\n` +
        `  new leader p50 ${out.newLeaderMs.p50?.toFixed(0)} ms, p99 ${out.newLeaderMs.p99?.toFixed(0)} ms (min–max ${out.newLeaderMs.min?.toFixed(0)}–${out.newLeaderMs.max?.toFixed(0)})\n` +
        `  heal p50 ${out.healMs.p50?.toFixed(0)} ms, p99 ${out.healMs.p99?.toFixed(0)} ms (min–max ${out.healMs.min?.toFixed(0)}–${out.healMs.max?.toFixed(0)})\n` +
        `  term jump on rejoin: ${out.termJumpOnRejoin.min}..${out.termJumpOnRejoin.max} (mean ${out.termJumpOnRejoin.mean.toFixed(1)})\n` +
        `  bytes on cut pairs during the windows: ${out.cutBytesTotal}\n` +
        (summary ? `  load violations: ${JSON.stringify(summary.violations)}\n` : ''),
    );
    process.stdout.write(`wrote ${writeResults(packageRoot(import.meta.url), 'partition', out, values.out)}\n`);
  }
}

await main();
