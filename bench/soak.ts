// Soak benchmark: the lab (3 members, the default load) for an hour with one fault a minute applied
// through the HTTP API, as a user would leave it running. Measures what a long run relies on: the daemon's
// resident memory and CPU over time (a sample every 10 s, a row every 5 minutes), whether memory grows
// after warm-up, and whether anything was left unchecked or unsettled at the end. Prints the curve and
// writes JSON.
//   npm run build && npm run bench:soak -- [--minutes 60] [--warmup 10] [--out FILE]
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import { packageRoot, writeResults } from './lib.js';

const HELP = `Usage: npm run bench:soak -- [options]

  --minutes N    run length (default 60)
  --warmup N     minutes of warm-up before memory growth is judged (default 10)
  --fault-every S  seconds between faults (default 60); each lasts a third of that
  --out FILE     JSON output (default bench/results/soak-<time>.json)
  -h, --help     this text`;

/** The faults rotated through, one a minute: what a soak user would inject, each through the API. */
function rotation(seconds: number): { name: string; path: string; body: unknown }[] {
  const d = `${seconds}s`;
  return [
    {
      name: 'delay on every client link',
      path: '/faults',
      body: {
        target: { kind: 'client' },
        fault: { type: 'delay', direction: 'rx', latency: '40ms', jitter: '10ms', duration: d },
      },
    },
    {
      name: 'blackhole a follower’s peer links',
      path: '/faults',
      body: { target: { role: 'follower', kind: 'peer' }, fault: { type: 'blackhole', direction: 'tx', duration: d } },
    },
    { name: 'freeze a follower', path: '/members/follower/freeze', body: { duration: d } },
    {
      name: 'bandwidth on the leader’s client link',
      path: '/faults',
      body: {
        target: { role: 'leader', kind: 'client' },
        fault: { type: 'bandwidth', direction: 'rx', rate: 65536, duration: d },
      },
    },
    { name: 'isolate the leader', path: '/partitions', body: { isolate: 'leader', duration: d } },
    {
      name: 'reset every client link',
      path: '/faults',
      body: { target: { kind: 'client' }, fault: { type: 'reset' } },
    },
  ];
}

interface Sample {
  t: number;
  rssMB: number;
  heapMB: number;
  cpu: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '60' },
      warmup: { type: 'string', default: '10' },
      'fault-every': { type: 'string', default: '60' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const minutes = Number(values.minutes);
  const warmup = Number(values.warmup);
  const every = Number(values['fault-every']);
  if (!(minutes > 0) || !(warmup >= 0) || warmup >= minutes || !(every >= 3))
    throw new Error('expected --minutes > --warmup >= 0 and --fault-every >= 3');
  const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-bench-soak-'));
  const lab = await startLab(
    parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir,
      cluster: { launch: { members: 3, ports: 'ephemeral' } },
      load: {},
    }),
    { out: null },
  );
  const faults = rotation(Math.max(1, Math.round(every / 3)));
  const applied: { at: number; name: string; status: number; error?: string }[] = [];
  const samples: Sample[] = [];
  const t0 = performance.now();
  let cpuLast = process.cpuUsage();
  let wallLast = t0;
  const sample = () => {
    const now = performance.now();
    const c = process.cpuUsage(cpuLast);
    const m = process.memoryUsage();
    samples.push({
      t: Math.round((now - t0) / 1000),
      rssMB: Math.round(m.rss / 1048576),
      heapMB: Math.round(m.heapUsed / 1048576),
      cpu: Math.round(((c.user + c.system) / 1000 / (now - wallLast)) * 1000) / 1000,
    });
    cpuLast = process.cpuUsage();
    wallLast = now;
    const s = samples[samples.length - 1];
    if (s.t % 300 < 10)
      process.stdout.write(
        `[${Math.round(s.t / 60)} min] rss ${s.rssMB} MiB, heap ${s.heapMB} MiB, cpu ${s.cpu} core\n`,
      );
  };
  const sampler = setInterval(sample, 10_000);
  let i = 0;
  const inject = async () => {
    const f = faults[i++ % faults.length];
    try {
      const r = await fetch(lab.apiUrl + f.path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(f.body),
      });
      const text = await r.text();
      applied.push({
        at: Math.round((performance.now() - t0) / 1000),
        name: f.name,
        status: r.status,
        ...(r.status >= 300 && { error: text.slice(0, 200) }),
      });
    } catch (err) {
      applied.push({
        at: Math.round((performance.now() - t0) / 1000),
        name: f.name,
        status: 0,
        error: (err as Error).message,
      });
    }
  };
  const injector = setInterval(() => void inject(), every * 1000);
  await new Promise((r) => setTimeout(r, minutes * 60_000));
  clearInterval(injector);
  clearInterval(sampler);
  sample();
  const summary = await lab.stop('bench done');
  await lab.daemon.close().catch(() => undefined);
  if (!summary) throw new Error('the load left no summary');
  // memory after warm-up: the mean of the first and of the last 5 minutes of samples past it
  const past = samples.filter((s) => s.t >= warmup * 60);
  const mean = (xs: Sample[], k: keyof Sample) => xs.reduce((a, s) => a + s[k], 0) / Math.max(1, xs.length);
  const head = past.filter((s) => s.t < warmup * 60 + 300);
  const tail = past.filter((s) => s.t > minutes * 60 - 300);
  const rssGrowthPct = Math.round(((mean(tail, 'rssMB') - mean(head, 'rssMB')) / mean(head, 'rssMB')) * 1000) / 10;
  const bins: { minute: number; rssMB: number; heapMB: number; cpu: number }[] = [];
  for (let m = 0; m < minutes; m += 5) {
    const xs = samples.filter((s) => s.t >= m * 60 && s.t < (m + 5) * 60);
    if (xs.length)
      bins.push({
        minute: m,
        rssMB: Math.round(mean(xs, 'rssMB')),
        heapMB: Math.round(mean(xs, 'heapMB')),
        cpu: Math.round(mean(xs, 'cpu') * 1000) / 1000,
      });
  }
  const violations = Object.values(summary.violations).reduce((a, b) => a + b, 0);
  const result = {
    minutes,
    warmupMinutes: warmup,
    faultEverySeconds: every,
    faults: {
      applied: applied.filter((a) => a.status >= 200 && a.status < 300).length,
      failed: applied.filter((a) => !(a.status >= 200 && a.status < 300)),
    },
    rssGrowthPct,
    bins,
    samples,
    end: {
      violations,
      unchecked: summary.findings.unchecked,
      behindAtEnd: summary.findings.behindAtEnd,
      unsettled: summary.counts.indeterminate - summary.counts.applied - summary.counts.notApplied,
      overloadedIntervals: summary.generator.overloadedIntervals,
      windows: summary.windows?.length ?? 0,
      puts: summary.counts,
    },
    loadavg: os.loadavg(),
    reportDir: summary.reportDir,
  };
  process.stdout.write(
    [
      `minute   rss MiB  heap MiB  cpu core`,
      ...bins.map(
        (b) =>
          `${String(b.minute).padStart(6)}${String(b.rssMB).padStart(10)}${String(b.heapMB).padStart(10)}${b.cpu.toFixed(3).padStart(10)}`,
      ),
      `rss growth after ${warmup} min warm-up: ${rssGrowthPct}% (mean of the 5 min after warm-up → the last 5 min)`,
      `faults applied ${result.faults.applied}/${applied.length}; windows ${result.end.windows}; violations ${violations}; unchecked ${result.end.unchecked}; behind at end ${result.end.behindAtEnd}; unsettled puts ${result.end.unsettled}; overloaded intervals ${result.end.overloadedIntervals}`,
      `report: ${summary.reportDir}/report.html`,
    ].join('\n') + '\n',
  );
  const out = writeResults(packageRoot(), 'soak', result, values.out);
  process.stdout.write(`results: ${out}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
