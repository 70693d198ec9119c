// `etcd-soak ctl` against a lab, as a user types it (the built command): the commands the issue names,
// their --json, targeted faults, wait, load stop with the run's thresholds, and the error paths (the API's
// message and field, exit 2; unreachable, exit 3; a wait that times out, exit 1). And `etcd-soak load`
// with thresholds: one run where one fails (exit 1, summary.json says so) and one where all pass.
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import { freePorts } from '../src/util/net.js';
import { api } from './helpers/partition.js';
import { run } from './helpers/proc.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-ctl-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));

async function soak(args: string[], env: NodeJS.ProcessEnv = {}) {
  const p = run('etcd-soak', args, env);
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

t.test('etcd-soak ctl on a lab', async (t) => {
  const lab = await startLab(
    parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir,
      cluster: { launch: { members: 3, ports: 'ephemeral' } },
      load: { rate: 20, watchers: 3, thresholds: ['violations == 0', 'put.p99 < 0.001ms', 'window.put.p99 < 10m'] },
    }),
    { out: null },
  );
  t.teardown(() => lab.stop());
  // the variable, as a script would set it once
  const ctl = (...args: string[]) => soak(['ctl', ...args], { ETCD_SOAK_API: lab.apiUrl });

  const healthy = await ctl('wait', 'healthy', '--timeout', '30s');
  t.equal(healthy.code, 0, healthy.stderr);
  t.match(healthy.stdout, /^healthy: 3 members up, one leader\n$/);

  const links = await ctl('links');
  t.equal(links.code, 0, links.stderr);
  const rows = links.stdout.trimEnd().split('\n');
  t.match(rows[0], /^NAME +KIND +MEMBER +LISTEN +UPSTREAM +CONN +TX +RX +FAULTS$/);
  t.equal(rows.length, 7, 'a header and six links');
  t.match(
    links.stdout,
    /^s1-client +client +s1 +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +\d+ +[\d.]+ (B|KiB|MiB) +[\d.]+ (B|KiB|MiB) +-$/m,
  );
  const json = await ctl('links', '--json');
  t.equal(json.code, 0);
  t.same(
    JSON.parse(json.stdout).map((l: { name: string }) => l.name),
    (await api(lab, 'GET', '/links')).body.map((l: { name: string }) => l.name),
  );

  const added = await ctl(
    'fault',
    'add',
    's1-client',
    'delay',
    '--direction',
    'tx',
    '--latency',
    '200ms',
    '--duration',
    '30s',
  );
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /^added s1-client-\d+: delay tx on s1-client until \S+Z\n$/);
  const faults = (await api(lab, 'GET', '/links/s1-client')).body.faults;
  t.equal(faults.length, 1);
  t.match(faults[0].spec, { type: 'delay', direction: 'tx', latency: 200, duration: 30000 });
  const shown = await ctl('links', 'show', 's1-client');
  t.match(shown.stdout, new RegExp(`^ {4}${faults[0].id} +delay tx +duration=30s latency=200ms`, 'm'));

  const load = await ctl('load');
  t.equal(load.code, 0, load.stderr);
  t.match(load.stdout, /^load \w{8} running: target 20\/s, 3 watchers, /);
  t.match(load.stdout, /^\[[^\]]+\] puts [\d.]+\/s p99 /m);
  t.match(load.stdout, /^ {4}✓ violations == 0 +0$/m);
  t.match(load.stdout, /^ {4}… window\.put\.p99 < 10m +at the end$/m);
  const loadJson = JSON.parse((await ctl('load', '--json')).stdout);
  t.equal(loadJson.state, 'running');
  t.equal(loadJson.thresholds.length, 3);

  // a fault on targets: the leader's peer link, one id
  const targeted = await ctl(
    'fault',
    'add',
    '--target-role',
    'leader',
    '--target-kind',
    'peer',
    'drop',
    '--direction',
    'rx',
    '--probability',
    '0.05',
    '--json',
  );
  t.equal(targeted.code, 0, targeted.stderr);
  const tf = JSON.parse(targeted.stdout);
  t.match(tf, { type: 'drop', target: { role: 'leader', kind: 'peer' } });
  t.match((await ctl('fault', 'list')).stdout, new RegExp(`^${tf.id} +drop +rx +s\\d-peer +probability=0\\.05`, 'm'));
  t.equal((await ctl('fault', 'remove', tf.id)).code, 0);
  t.equal((await api(lab, 'GET', `/faults/${tf.id}`)).status, 404);

  // mistakes: named by flag before anything is sent, or the API's message and field; exit 2
  const badLatency = await ctl('fault', 'add', 's1-client', 'delay', '--direction', 'tx', '--latency', 'soon');
  t.equal(badLatency.code, 2);
  t.match(badLatency.stderr, /^etcd-soak ctl fault: --latency: time: invalid duration "soon"/);
  t.notMatch(badLatency.stderr, /at .*\.js/, 'no stack');
  const wrongParam = await ctl(
    'fault',
    'add',
    's1-client',
    'delay',
    '--direction',
    'tx',
    '--latency',
    '1s',
    '--probability',
    '0.5',
  );
  t.equal(wrongParam.code, 2);
  t.match(wrongParam.stderr, /--probability: not a parameter of delay/);
  const noLink = await ctl('fault', 'add', 'nope', 'delay', '--direction', 'tx', '--latency', '1s');
  t.equal(noLink.code, 2);
  t.match(noLink.stderr, /^etcd-soak ctl fault: 404 no link named "nope"\n$/);
  // (the delay added above may have expired by now on a slow machine: only it may be there)
  t.ok(
    (await api(lab, 'GET', '/links/s1-client')).body.faults.every((f: { id: string }) => f.id === faults[0].id),
    'no mistake added a fault',
  );
  const badThreshold = await ctl('load', 'start', '--replace', '--threshold', 'put.p98 < 1ms');
  t.equal(badThreshold.code, 2);
  t.match(badThreshold.stderr, /400 invalid request body \(profile\.thresholds\[0\]: unknown metric "put\.p98"/);
  const badVerb = await ctl('links', 'bogus');
  t.equal(badVerb.code, 2);
  t.match(badVerb.stderr, /unknown action "bogus"\n\nUsage: etcd-soak ctl links/);
  const [port] = await freePorts(1);
  const away = await soak(['ctl', 'links', '--api', `http://127.0.0.1:${port}`]);
  t.equal(away.code, 3);
  t.match(away.stderr, /^etcd-soak ctl links: cannot reach the daemon at http:\/\/127\.0\.0\.1:\d+: /);
  const timedOut = await ctl('wait', 'load-stopped', '--timeout', '1s', '--interval', '200ms');
  t.equal(timedOut.code, 1);
  t.match(timedOut.stderr, /load-stopped did not hold within 1s: load \w+ running/);

  // stop: the summary table with the thresholds; the window one judged on the delay's window
  const stopped = await ctl('load', 'stop');
  t.equal(stopped.code, 1, 'a threshold failed');
  t.match(stopped.stdout, /^ {2}thresholds: FAILED$/m);
  t.match(stopped.stdout, /^ {4}✓ violations == 0 +0$/m);
  t.match(stopped.stdout, /^ {4}✗ put\.p99 < 0\.001ms +\S+$/m);
  t.match(stopped.stdout, /^ {4}✓ window\.put\.p99 < 10m +\S+ \(window \S+\)$/m);
  const after = (await api(lab, 'GET', '/load')).body;
  t.equal(after.last.passed, false);
  const waited = await ctl('wait', 'load-stopped', '--timeout', '10s');
  t.equal(waited.code, 0, waited.stderr);
  t.equal((await ctl('fault', 'clear')).code, 0);
  t.same((await api(lab, 'GET', '/faults')).body, []);

  // `etcd-soak load` against the lab's members: a failed threshold exits 1, all passing exit 0
  const endpoints = loadJson.endpoints.join(',');
  const common = [
    'load',
    '--endpoints',
    endpoints,
    '--duration',
    '3s',
    '--rate',
    '20',
    '--watchers',
    '2',
    '--report-dir',
    reportDir,
  ];
  const failing = await soak([
    ...common,
    '--run-id',
    'thrfail1',
    '--threshold',
    'violations == 0',
    '--threshold',
    'put.p50 < 0.001ms',
  ]);
  t.equal(failing.code, 1, failing.stderr);
  t.match(failing.stdout, /✗ put\.p50 < 0\.001ms/);
  const summary = JSON.parse(fs.readFileSync(path.join(reportDir, 'thrfail1', 'summary.json'), 'utf8'));
  t.equal(summary.passed, false);
  t.match(summary.thresholds, [
    { expr: 'violations == 0', value: 0, ok: true },
    { expr: 'put.p50 < 0.001ms', ok: false },
  ]);
  t.ok(summary.thresholds[1].value > 0.001);
  const passing = await soak([
    ...common,
    '--run-id',
    'thrpass1',
    '--threshold',
    'violations == 0',
    '--threshold',
    'availability > 50%',
    '--threshold',
    'put.p99 < 1m',
    '--threshold',
    'events.rate > 0',
  ]);
  t.equal(passing.code, 0, passing.stderr);
  t.match(passing.stdout, /^ {2}thresholds: passed$/m);
  t.equal(JSON.parse(fs.readFileSync(path.join(reportDir, 'thrpass1', 'summary.json'), 'utf8')).passed, true);
  const badFlag = await soak([...common, '--threshold', 'put.p99 < 5%']);
  t.equal(badFlag.code, 2);
  t.match(badFlag.stderr, /--threshold #1: put\.p99 takes a duration/);
});

t.test('help: every ctl command has one, and the top level lists ctl', async (t) => {
  for (const cmd of ['links', 'fault', 'scenario', 'load', 'watch', 'wait']) {
    const h = await soak(['ctl', cmd, '--help']);
    t.equal(h.code, 0, cmd);
    t.match(h.stdout, new RegExp(`^Usage: etcd-soak ctl ${cmd}`), cmd);
    t.match(h.stdout, /^ {2}3 {2}the daemon cannot be reached$/m, `${cmd}: exit codes`);
  }
  const top = await soak(['ctl', '--help']);
  t.match(top.stdout, /^ {2}wait +healthy \| load-stopped/m);
  t.match((await soak(['--help'])).stdout, /^ {2}ctl +a client of a running daemon/m);
  t.match((await soak(['lab', '--help'])).stdout, /^ {2}--threshold EXPR /m);
});
