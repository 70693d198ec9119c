// The lab end to end on ephemeral ports: a real 3-member cluster behind client and peer links, the load,
// the API, a real Prometheus scrape, faults through the JSON API and through the etcd-proxy admin API.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import { parseConfig } from '../src/config/schema.js';
import { findEtcd } from '../src/cluster/launch.js';
import { startLab } from '../src/lab/lab.js';
import type { TimelineLine } from '../src/loadgen/report.js';
import { freePorts } from '../src/util/net.js';
import { createLogger } from '../src/util/log.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-lab-reports-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));
const slowEtcd = path.join(reportDir, 'slow-etcd');
fs.writeFileSync(slowEtcd, `#!/bin/sh\nsleep 0.5\nexec ${findEtcd()} "$@"\n`, { mode: 0o755 });
const config = parseConfig({
  api: { listen: '127.0.0.1:0' },
  reportDir,
  cluster: { launch: { members: 3, ports: 'ephemeral', peerTls: true, compatAdmin: true, etcdBin: slowEtcd } },
  load: { rate: 100, watchers: 30, keys: 6, connections: 3, settle: '20s', putTimeout: '3s', interval: '1s' },
});
// the daemon's log, kept: dial failures while the members start are counted, not logged. So that there
// are some for sure, etcd starts half a second late (a wrapper), and the test dials every client link as
// soon as the members are spawned.
const logLines: string[] = [];
const clientLinkPorts: number[] = [];
const probes: net.Socket[] = [];
const logger = createLogger({
  level: 'info',
  lines: true,
  format: 'json',
  write: (l) => {
    logLines.push(l);
    const rec = JSON.parse(l) as { msg: string; link?: string; listen?: string };
    if (rec.msg === 'link listening' && rec.link?.endsWith('-client'))
      clientLinkPorts.push(Number(rec.listen!.split(':').pop()));
    if (rec.msg === 'etcd cluster starting')
      for (const port of clientLinkPorts) probes.push(net.connect(port, '127.0.0.1').on('error', () => {}));
  },
});
const lab = await startLab(config, { out: null, logger });
const logAtStart = logLines.slice();
for (const p of probes) p.destroy();
let stopped = false;
t.teardown(async () => {
  if (!stopped) await lab.stop();
});
const api = lab.apiUrl;
const cluster = lab.cluster!;
// before anyone asks /cluster: the lab learns the members' ids as it starts them
const idsAtStart = lab.daemon.members().map((m) => m.id);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function json(method: string, p: string, body?: unknown): Promise<any> {
  const res = await fetch(api + p, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/** sum of every series of `name` whose labels contain each of `labels` */
async function metricValue(name: string, ...labels: string[]): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

function nextInterval(pred: (l: TimelineLine) => boolean, timeoutMs = 20000): Promise<TimelineLine> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      lab.daemon.off('load-interval', on);
      reject(new Error('no matching load interval'));
    }, timeoutMs);
    const on = (l: TimelineLine) => {
      if (pred(l)) {
        clearTimeout(timer);
        lab.daemon.off('load-interval', on);
        resolve(l);
      }
    };
    lab.daemon.on('load-interval', on);
  });
}

t.test('members starting do not flood the log with dial failures; the links log again once healthy', async (t) => {
  t.equal(probes.length, 3, 'the test dialled the client links while the members started');
  const failures = lab.daemon.listLinks().reduce((n, l) => n + l.dialFailures, 0);
  t.ok(failures >= 1, `dial failures during the start were counted (${failures})`, {
    stats: lab.daemon.listLinks().map((l) => [l.name, l.dialFailures, l.connectionsTotal]),
    probes: probes.map((p) => [p.remotePort, p.destroyed]),
  });
  t.same(
    logAtStart.filter((l) => l.includes('upstream dial failed')),
    [],
    'no dial-failure line during the start',
  );
  const links = lab.daemon.listLinks();
  t.ok(
    links.every((l) => !lab.daemon.getLink(l.name).quiet),
    'no link is quiet after the start',
  );
});

t.test('healthy through the links; load runs; counters move', async (t) => {
  const eps = lab.daemon.clientEndpoints();
  t.equal(eps.length, 3);
  const out = await new Promise<string>((r) =>
    execFile(
      'etcdctl',
      ['--endpoints', eps.join(','), 'endpoint', 'health'],
      { env: { ...process.env, ETCDCTL_API: '3' } },
      (_e, so, se) => r(so + se),
    ),
  );
  t.equal(out.match(/is healthy/g)?.length, 3, 'every member healthy through its client link');
  const links = await json('GET', '/links');
  t.same(links.map((l: any) => l.name).sort(), [
    's1-client',
    's1-peer',
    's2-client',
    's2-peer',
    's3-client',
    's3-peer',
  ]);
  t.ok(
    links.filter((l: any) => l.kind === 'peer').every((l: any) => l.connections > 0),
    'peer traffic goes through the peer links',
  );
  await nextInterval((l) => l.counts.ok > 50);
  const a = await metricValue('etcd_soak_puts_total', 'outcome="ok"');
  const peerBytes = () => metricValue('etcd_soak_proxy_bytes_total', '-peer"', 'outcome="forwarded"');
  const b1 = await peerBytes();
  await sleep(1500);
  t.ok((await metricValue('etcd_soak_puts_total', 'outcome="ok"')) > a, 'puts counter rises');
  t.ok((await peerBytes()) > b1, 'peer link byte counters rise while their connections stay open');
  const st = await json('GET', '/load');
  t.equal(st.state, 'running');
  t.same(st.violations, noViolations());
});

t.test('a real Prometheus scrapes /metrics and etcd_soak_puts_total rises', async (t) => {
  const [port] = await freePorts(1);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-prom-'));
  const cfg = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(
    cfg,
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: etcd-soak\n    static_configs:\n      - targets: ['${new URL(api).host}']\n`,
  );
  const prom = spawn(
    'prometheus',
    [
      `--config.file=${cfg}`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  t.teardown(async () => {
    prom.kill('SIGTERM');
    await new Promise((r) => prom.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const seen: number[] = [];
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline && !(seen.length >= 2 && seen[seen.length - 1] > seen[0])) {
    try {
      const res = await fetch(
        `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent('etcd_soak_puts_total{outcome="ok"}')}`,
      );
      const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
      const v = body.data?.result?.[0]?.value?.[1];
      if (v !== undefined) seen.push(Number(v));
    } catch {
      // not up yet
    }
    await sleep(1000);
  }
  t.ok(
    seen.length >= 2 && seen[seen.length - 1] > seen[0],
    `Prometheus query values rise: ${seen.slice(0, 1)} → ${seen.slice(-1)}`,
  );
});

t.test('a delay added through the JSON API shows in put latency', async (t) => {
  const ids: [string, string][] = [];
  for (const m of cluster.members) {
    const f = await json('POST', `/links/${m.name}-client/faults`, {
      type: 'delay',
      direction: 'tx',
      latency: '150ms',
    });
    t.equal(f.type, 'delay');
    ids.push([`${m.name}-client`, f.id]);
  }
  const slow = await nextInterval((l) => l.put.count > 20 && l.put.p50 >= 150);
  t.ok(slow.put.p50 >= 150, `put p50 ${slow.put.p50} ms with 150ms on every client link`);
  t.same(slow.activeFaults.length, 3, 'the timeline records the active faults');
  for (const [link, id] of ids) await fetch(`${api}/links/${link}/faults/${id}`, { method: 'DELETE' });
  const fast = await nextInterval((l) => l.put.count > 20 && l.put.p99 < 150);
  t.ok(fast.put.p99 < 150, `put p99 back to ${fast.put.p99} ms`);
});

t.test(
  "blackholing the leader's peer link through the etcd-proxy admin API elects a new leader; removing it heals",
  async (t) => {
    const members = await json('GET', '/cluster');
    const leader = members.find((m: any) => m.isLeader);
    t.ok(leader, `leader is ${leader?.name}`);
    const peerLink = (await json('GET', '/links')).find((l: any) => l.name === `${leader.name}-peer`);
    const admin = `http://${peerLink.compatAdmin}`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    t.match(
      await (await fetch(`${admin}/blackhole-tx`, { method: 'PUT', headers: form })).text(),
      /^blackholed; dropping packets \[tcp:\/\/.* -> tcp:\/\//,
    );
    t.match(
      await (await fetch(`${admin}/blackhole-rx`, { method: 'PUT', headers: form })).text(),
      /^blackholed; dropping packets \[tcp:\/\/.* <- tcp:\/\//,
    );
    let newLeader: string | undefined;
    const deadline = Date.now() + 45000;
    while (!newLeader && Date.now() < deadline) {
      await sleep(500);
      const st = await json('GET', '/cluster');
      newLeader = st.find((m: any) => m.name !== leader.name && m.isLeader)?.name;
    }
    t.ok(newLeader, `the other two elected ${newLeader}`);
    t.match(
      await (await fetch(`${admin}/blackhole-tx`, { method: 'DELETE' })).text(),
      /^unblackholed; restart forwarding/,
    );
    t.match(
      await (await fetch(`${admin}/blackhole-rx`, { method: 'DELETE' })).text(),
      /^unblackholed; restart forwarding/,
    );
    await cluster.waitHealthy(45000);
    let agreed = false;
    for (let i = 0; i < 60 && !agreed; i++) {
      const st = await json('GET', '/cluster');
      agreed = st.every((m: any) => m.ok && m.leader === st[0].leader && m.leader !== '0');
      if (!agreed) await sleep(500);
    }
    t.ok(agreed, 'all members healthy and agree on one leader');

    const summary = await json('DELETE', '/load');
    t.equal(summary.state, 'stopped');
    t.same(summary.violations, noViolations(), 'no watch violation through faults and a leader change');
    t.equal(
      summary.counts.applied + summary.counts.notApplied,
      summary.counts.indeterminate,
      'every indeterminate put settled',
    );
    let same = false;
    for (let i = 0; i < 40 && !same; i++) {
      const st = await json('GET', '/cluster');
      same = st.every((m: any) => m.ok && m.revision === st[0].revision);
      if (!same) await sleep(250);
    }
    t.ok(same, 'every member at the same revision');
    t.ok(fs.existsSync(path.join(reportDir, summary.runId, 'summary.json')), 'report written');
  },
);

t.test(
  'the topology: the members of the layout, their links and process handles; /cluster addresses them',
  async (t) => {
    const topo = lab.daemon.topology;
    t.same(
      topo.list().map((m) => [m.name, m.clientLink, m.peerLink, m.process]),
      cluster.members.map((p) => [p.name, `${p.name}-client`, `${p.name}-peer`, p]),
    );
    t.same(
      lab.daemon.members().map((m) => [m.name, m.client, m.peer, m.pid, m.state]),
      cluster.members.map((p) => [p.name, `127.0.0.1:${p.clientPort}`, `127.0.0.1:${p.peerPort}`, p.pid, 'running']),
      "the daemon's members: their own addresses, pids and states",
    );
    t.ok(
      idsAtStart.every((id) => /^[0-9a-f]+$/.test(id ?? '')),
      'ids known from the start',
    );
    const st = await json('GET', '/cluster');
    t.ok(
      st.every((m: any) => /^[0-9a-f]+$/.test(m.id) && BigInt(m.memberId).toString(16) === m.id),
      'each row has its id in hex',
    );
    t.same(
      st.map((m: any) => [m.peer, m.state, m.peerLink]),
      cluster.members.map((p) => [`127.0.0.1:${p.peerPort}`, 'running', `${p.name}-peer`]),
    );
    const links = await json('GET', '/links');
    t.same(
      lab.daemon.clientEndpoints(),
      topo.list().map((m) => links.find((l: any) => l.name === m.clientLink).listen),
      "the load's endpoints: the members' client links",
    );
  },
);

t.test('a fault addressed to a target: the leader by role, members by name; one id on every link', async (t) => {
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(api + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const members: { name: string; isLeader: boolean; peerLink: string; clientLink: string }[] = (
    await call('GET', '/cluster')
  ).body;
  const leader = members.find((m) => m.isLeader)!;
  const lead = await call('POST', '/faults', {
    target: { role: 'leader', kind: 'peer' },
    fault: { type: 'delay', direction: 'tx', latency: '1ms', duration: '1m' },
  });
  t.equal(lead.status, 201);
  t.same(lead.body.links, [leader.peerLink], "the leader's peer link, resolved when applied");
  t.match(lead.body.id, /^f\d+$/);
  const follower = members.find((m) => !m.isLeader)!;
  const both = await call('POST', '/faults', {
    target: { members: [follower.name] },
    fault: { type: 'pause', direction: 'rx', duration: '1m' },
  });
  t.same(both.body.links.sort(), [follower.clientLink, follower.peerLink].sort());
  const links: { name: string; faults: { id: string }[] }[] = (await call('GET', '/links')).body;
  for (const l of links) {
    const want = [
      ...(lead.body.links.includes(l.name) ? [lead.body.id] : []),
      ...(both.body.links.includes(l.name) ? [both.body.id] : []),
    ];
    t.same(l.faults.map((f) => f.id).sort(), want.sort(), `${l.name} carries the faults aimed at it, by their one id`);
  }
  const listed = (await call('GET', '/faults')).body as { id: string }[];
  t.same(listed.map((f) => f.id).sort(), [lead.body.id, both.body.id].sort());
  t.equal((await call('DELETE', `/faults/${both.body.id}`)).status, 204);
  t.equal((await call('GET', `/faults/${both.body.id}`)).status, 404, 'gone');
  for (const l of (await call('GET', '/links')).body as { faults: { id: string }[] }[])
    t.notOk(
      l.faults.some((f) => f.id === both.body.id),
      'removed from every link at once',
    );
  const bad = await call('POST', '/faults', { target: {}, fault: { type: 'pause', direction: 'rx' } });
  t.equal(bad.status, 400);
  t.equal(bad.body.details[0].path, 'target');
  const unknown = await call('POST', '/faults', {
    target: { members: ['nobody'] },
    fault: { type: 'pause', direction: 'rx' },
  });
  t.equal(unknown.status, 404);
  t.match(unknown.body.error, /no member named "nobody"/);
  t.same((await call('DELETE', '/faults')).body, { removed: 1 });
});

t.test('shutdown leaves no etcd process and no data dir', async (t) => {
  const pids = cluster.members.map((m) => m.pid!).filter(Boolean);
  const dir = cluster.baseDir;
  await lab.stop();
  stopped = true;
  const alive = pids.filter((p) => {
    try {
      process.kill(p, 0);
      return true;
    } catch {
      return false;
    }
  });
  t.same(alive, [], 'no member process left');
  t.notOk(fs.existsSync(dir), 'data removed');
});
