// The lab with member-aware partitions enabled (the default): each member gets an egress listener in
// the daemon before it starts, and every peer dial it makes goes there, then on to the peer's link;
// the load runs clean, /cluster answers, and a restarted member keeps dialling through its listener.
import t from 'tap';
import { noViolations } from '../src/loadgen/verdict.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { parseConfig } from '../src/config/schema.js';
import { startLab } from '../src/lab/lab.js';
import type { EgressDial } from '../src/proxy/egress.js';

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-egress-lab-'));
t.teardown(() => fs.rmSync(reportDir, { recursive: true, force: true }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pids owning the dialling end of each established connection to `port` on this machine */
function dialerPids(port: number): number[] {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( dport = :${port} )`]).toString();
  return [...new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))];
}

async function waitFor(what: string, ok: () => boolean, ms = 30000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

t.test('partitions default to on in a launched cluster', async (t) => {
  const config = parseConfig({ cluster: { launch: {} } });
  t.equal(config.cluster?.launch?.partitions, true);
});

for (const peerTls of [true, false]) {
  const scheme = peerTls ? 'https' : 'http';
  t.test(`a lab with ${scheme} peers dials every peer through the members' egress listeners`, async (t) => {
    const config = parseConfig({
      api: { listen: '127.0.0.1:0' },
      reportDir,
      cluster: { launch: { members: 3, ports: 'ephemeral', peerTls } },
      load: { rate: 50, watchers: 12, keys: 4, connections: 2, settle: '10s', putTimeout: '3s', interval: '1s' },
    });
    const lines: string[] = [];
    const lab = await startLab(config, { out: (l) => lines.push(l) });
    t.teardown(() => lab.stop());
    const dials: EgressDial[] = [];
    lab.daemon.on('egress-dial', (d: EgressDial) => dials.push(d));
    const cluster = lab.cluster!;
    t.match(lines.join('\n'), /each dialling through its egress listener/, 'the start line says so');
    const peerLinkPort = (name: string) => lab.daemon.getLink(`${name}-peer`).address().port;

    // the advertised peer URLs are the peer links' ports, on host localhost.
    const eps = cluster.clientEndpoints().join(',');
    const { stdout } = await promisify(execFile)('etcdctl', ['--endpoints', eps, 'member', 'list'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    for (const m of cluster.members)
      t.match(stdout, `${m.name}, ${scheme}://localhost.:${peerLinkPort(m.name)},`, `${m.name} advertises its link`);
    // no member dials a peer link itself: every connection into one comes from this process (egress)
    for (const m of cluster.members)
      t.same(dialerPids(peerLinkPort(m.name)), [process.pid], `${m.name}-peer: dialled only by egress listeners`);

    const status = await (await fetch(`${lab.apiUrl}/cluster`)).json();
    t.same(
      status.map((m: { name: string; ok: boolean }) => [m.name, m.ok]),
      [
        ['s1', true],
        ['s2', true],
        ['s3', true],
      ],
      'GET /cluster: every member answers',
    );

    // a restart: s1 dials both peers through its listener again, and they redial it through theirs
    const s1 = cluster.member('s1');
    await s1.restart();
    const kind = peerTls ? 'connect' : 'request';
    const saw = (from: string, to: string) =>
      dials.some((d) => d.member === from && d.kind === kind && d.target === `localhost.:${peerLinkPort(to)}`);
    await waitFor(
      'dials after the restart',
      () => saw('s1', 's2') && saw('s1', 's3') && saw('s2', 's1') && saw('s3', 's1'),
    );
    t.ok(
      dials.every((d) => d.target.startsWith('localhost.:')),
      'every dial names a peer by localhost.',
    );
    t.ok(
      dials.every((d) => d.kind === kind),
      `only ${kind} dials`,
    );
    await cluster.waitHealthy(30000);
    t.same(dialerPids(peerLinkPort('s1')), [process.pid], 's1-peer after the restart: only egress listeners');
    t.ok(
      fs
        .readFileSync(`/proc/${s1.pid}/environ`, 'utf8')
        .split('\0')
        .includes(`${peerTls ? 'HTTPS' : 'HTTP'}_PROXY=http://127.0.0.1:${s1.egressPort}`),
      'the restarted member has its proxy',
    );

    // a few more intervals of load after the restart, then the verdict
    const until = Date.now() + 3000;
    while (Date.now() < until) await sleep(200);
    const summary = await lab.daemon.stopLoad('test done');
    t.ok(summary.counts.ok > 0, `${summary.counts.ok} puts acknowledged`);
    t.same(summary.violations, noViolations(), 'no watch violation');
  });
}
