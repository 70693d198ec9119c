// Members launched with egress listeners (real etcd on loopback): every peer dial a member makes
// arrives at its own forward proxy (CONNECT for TLS peers, absolute-form requests for plain peers),
// nothing bypasses it (not even with NO_PROXY naming localhost. in our environment), client traffic
// does not go through it, and a restarted member keeps dialling through it.
import t from 'tap';
import fs from 'node:fs';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startCluster, type Cluster } from '../src/cluster/launch.js';
import { Egress, type EgressDial } from '../src/proxy/egress.js';
import { freePorts } from '../src/util/net.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** pids owning the dialling end of each established connection to `port` on this machine */
function dialerPids(port: number): number[] {
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( dport = :${port} )`]).toString();
  return [...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

function environ(pid: number): Map<string, string> {
  const env = new Map<string, string>();
  for (const kv of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)) {
    const i = kv.indexOf('=');
    env.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return env;
}

async function waitFor(what: string, ok: () => boolean, ms = 30000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

for (const peerTls of [true, false]) {
  const scheme = peerTls ? 'https' : 'http';
  t.test(`${scheme} peers: every peer dial goes through the dialler's egress listener`, async (t) => {
    // a parent environment that would send the members' dials around the proxy if it leaked into them
    const saved = { NO_PROXY: process.env.NO_PROXY, no_proxy: process.env.no_proxy };
    process.env.NO_PROXY = 'localhost.,localhost,127.0.0.1';
    process.env.no_proxy = 'localhost.';
    t.teardown(() => {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    });
    const names = ['s1', 's2', 's3'];
    const peerPorts = await freePorts(3);
    // the daemon's egress (one listener per member); targets resolve to members by peer port
    const proxy = new Egress({ resolveTarget: (_h, port) => names[peerPorts.indexOf(port)] });
    t.teardown(() => proxy.close());
    const dials: EgressDial[] = [];
    proxy.on('dial', (d: EgressDial) => dials.push(d));
    const egress: number[] = [];
    for (const n of names) egress.push(await proxy.listen(n));
    const cluster: Cluster = await startCluster({
      peerTls,
      members: names.map((name, i) => ({ name, peerPort: peerPorts[i], egressPort: egress[i] })),
    });
    t.teardown(() => cluster.stop());
    t.equal(cluster.peerHost, 'localhost.');
    const target = (i: number) => `localhost.:${peerPorts[i]}`;
    const pairs = (from: string) => new Set(dials.filter((d) => d.member === from).map((d) => `${d.kind} ${d.target}`));
    // every member has dialled both others, through its own listener, with the right kind of dial
    const kind = peerTls ? 'connect' : 'request';
    await waitFor('every pair dialled', () =>
      names.every((n, i) => names.every((_, j) => i === j || pairs(n).has(`${kind} ${target(j)}`))),
    );
    t.notOk(
      names.some((n, i) => pairs(n).has(`${kind} ${target(i)}`)),
      'no member dials itself through its listener',
    );
    t.ok(
      dials.every((d) => d.kind === kind),
      `only ${kind} dials`,
    );
    // nothing bypasses the proxies: every established connection into a member's peer port was dialled
    // by this process (the proxies), none by an etcd member itself
    for (const p of peerPorts) {
      const pids = dialerPids(p);
      t.ok(pids.length > 0, `connections into peer port ${p}`);
      t.same([...new Set(pids)], [process.pid], `peer port ${p}: every connection comes from an egress listener`);
    }
    for (const m of cluster.members) {
      const env = environ(m.pid!);
      t.equal(env.get(peerTls ? 'HTTPS_PROXY' : 'HTTP_PROXY'), `http://127.0.0.1:${m.egressPort}`, `${m.name}: proxy`);
      t.notOk(
        [...env.keys()].some((k) => k.toUpperCase() === 'NO_PROXY'),
        `${m.name}: no NO_PROXY`,
      );
    }

    // client traffic goes straight to the members, even with proxy variables in the client's environment
    const eps = cluster.clientEndpoints().join(',');
    const before = dials.length;
    // asynchronously: the egress listeners run in this process, and raft needs them to commit
    const etcdctl = async (...args: string[]) => {
      const env = {
        ...process.env,
        ETCDCTL_API: '3',
        HTTPS_PROXY: 'http://127.0.0.1:1',
        HTTP_PROXY: 'http://127.0.0.1:1',
      };
      const r = await promisify(execFile)('etcdctl', ['--endpoints', eps, ...args], { env });
      return r.stdout + r.stderr; // endpoint health answers on stderr
    };
    t.match(await etcdctl('endpoint', 'health'), /is healthy/);
    await etcdctl('put', 'egress-key', 'v');
    t.match(await etcdctl('get', 'egress-key', '--print-value-only'), /^v$/m);
    t.match(await etcdctl('member', 'list'), new RegExp(`${scheme}://localhost\\.:${peerPorts[0]}`));
    t.ok(
      dials
        .slice(before)
        .every((d) => d.target.startsWith('localhost.:') && peerPorts.includes(Number(d.target.split(':')[1]))),
      'no client request reached an egress listener',
    );

    // a restarted member starts with the same environment and dials through its listener again
    const m = cluster.members[1];
    const oldPid = m.pid;
    const mark = dials.length;
    await m.restart();
    t.not(m.pid, oldPid);
    t.equal(environ(m.pid!).get(peerTls ? 'HTTPS_PROXY' : 'HTTP_PROXY'), `http://127.0.0.1:${egress[1]}`);
    await waitFor('the restarted member dials both others', () => {
      const again = new Set(
        dials
          .slice(mark)
          .filter((d) => d.member === 's2')
          .map((d) => d.target),
      );
      return again.has(target(0)) && again.has(target(2));
    });
    await cluster.waitHealthy(30000);
    t.same([...new Set(dialerPids(peerPorts[1]))], [process.pid], 'after the restart, still only via egress');
  });
}

t.test('egress listeners for some members but not all is refused before anything starts', async (t) => {
  await t.rejects(startCluster({ members: [{ egressPort: 1 }, {}, {}] }), {
    message: 'either every member of a cluster has an egress listener or none has',
  });
});
