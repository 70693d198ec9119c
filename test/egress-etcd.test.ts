// Three real etcd members with plain-HTTP peers (then TLS peers, through CONNECT), each dialling its peers through its own egress
// listener (HTTP_PROXY, peer URLs advertised as http://localhost.:<port>). The cluster forms through the
// egress, the pair counters move, and cutting the leader off both ways elects a new leader among the
// rest while the cut pairs carry 0 bytes.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { memberStatuses, type MemberStatus } from '../src/etcd/control.js';
import { Egress } from '../src/proxy/egress.js';
import { Metrics } from '../src/metrics.js';
import { freePorts } from '../src/util/net.js';
import { sleep } from './helpers/net.js';
import { pairOf, until } from './helpers/egress.js';

const names = ['s1', 's2', 's3'];

for (const tls of [false, true]) {
  t.test(
    `${tls ? 'TLS' : 'plain'} peers: a cluster over the egress forms, and a leader cut off both ways is replaced`,
    async (t) => {
      const scheme = tls ? 'https' : 'http';
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-etcd-'));
      const ports = await freePorts(names.length * 2);
      const members = names.map((name, i) => ({ name, client: ports[2 * i], peer: ports[2 * i + 1] }));
      const byPeerPort = new Map(members.map((m) => [m.peer, m.name]));
      const egress = new Egress({
        resolveTarget: (host, port) => (host === 'localhost.' ? byPeerPort.get(port) : undefined),
        metrics: new Metrics({ defaultMetrics: false }),
        seed: 11,
      });
      const children: ChildProcess[] = [];
      t.teardown(async () => {
        for (const c of children)
          if (c.pid && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
        await Promise.all(
          children.map((c) =>
            c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : 0,
          ),
        );
        await egress.close();
        fs.rmSync(dir, { recursive: true, force: true });
      });

      let exitedEarly: string | undefined;
      const initial = members.map((m) => `${m.name}=${scheme}://localhost.:${m.peer}`).join(',');
      for (const m of members) {
        const egressPort = await egress.listen(m.name);
        const env = {
          ...process.env,
          // Go picks HTTPS_PROXY for https peer URLs (CONNECT), HTTP_PROXY for http ones
          HTTP_PROXY: `http://127.0.0.1:${egressPort}`,
          http_proxy: `http://127.0.0.1:${egressPort}`,
          HTTPS_PROXY: `http://127.0.0.1:${egressPort}`,
          https_proxy: `http://127.0.0.1:${egressPort}`,
        };
        delete env.NO_PROXY;
        delete env.no_proxy;
        const child = spawn(
          'etcd',
          [
            '--name',
            m.name,
            '--data-dir',
            path.join(dir, m.name),
            '--listen-client-urls',
            `http://127.0.0.1:${m.client}`,
            '--advertise-client-urls',
            `http://127.0.0.1:${m.client}`,
            '--listen-peer-urls',
            `${scheme}://127.0.0.1:${m.peer}`,
            '--initial-advertise-peer-urls',
            // the very string of --initial-cluster: etcd resolves the host only when they differ
            `${scheme}://localhost.:${m.peer}`,
            '--initial-cluster',
            initial,
            '--initial-cluster-state',
            'new',
            '--initial-cluster-token',
            'egress-test',
            '--logger',
            'zap',
            '--log-level',
            'error',
            ...(tls ? ['--peer-auto-tls'] : []),
          ],
          { env, stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let stderr = '';
        child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
        child.once('exit', (code, signal) => {
          if (!stopping) exitedEarly = `etcd ${m.name} exited early (${code ?? signal}): ${stderr}`;
        });
        children.push(child);
      }
      let stopping = false;
      t.teardown(() => {
        stopping = true;
      });

      const endpoints = members.map((m) => `127.0.0.1:${m.client}`);
      /** statuses once every given endpoint answers and all agree on one leader */
      async function agreedLeader(eps: string[], not?: string): Promise<{ leader: string; statuses: MemberStatus[] }> {
        for (;;) {
          if (exitedEarly) throw new Error(exitedEarly);
          const st = await memberStatuses(eps, 1000);
          const leaders = new Set(st.map((s) => s.leader));
          const leader = st[0].leader;
          if (st.every((s) => s.ok) && leaders.size === 1 && leader && leader !== '0' && leader !== not) {
            return { leader, statuses: st };
          }
          await sleep(100);
        }
      }

      const formed = await agreedLeader(endpoints);
      const leaderIdx = formed.statuses.findIndex((s) => s.isLeader);
      const leader = members[leaderIdx].name;
      const others = names.filter((n) => n !== leader);
      t.pass(`the cluster formed through the egress; ${leader} leads`);
      for (const o of others) {
        t.ok(pairOf(egress, leader, o)!.bytes > 0, `bytes ${leader}→${o} counted`);
        t.ok(pairOf(egress, o, leader)!.bytes > 0, `bytes ${o}→${leader} counted`);
      }

      for (const o of others) {
        egress.setEffect(leader, o, { kind: 'cut', established: 'blackhole' });
        egress.setEffect(o, leader, { kind: 'cut', established: 'blackhole' });
      }
      const cutPairs = others.flatMap((o) => [
        [leader, o],
        [o, leader],
      ]);
      const atCut = cutPairs.map(([a, b]) => pairOf(egress, a, b)!.bytes);
      const rest = endpoints.filter((_, i) => i !== leaderIdx);
      const after = await agreedLeader(rest, formed.leader);
      t.not(after.leader, formed.leader, 'the majority elected a new leader');
      // blackholed streams time out (etcd's peer read timeout is 5 s under TLS) and the redials are refused
      await until(() => cutPairs.some(([a, b]) => pairOf(egress, a, b)!.refused > 0));
      t.pass('redials on cut pairs were refused');
      t.same(
        cutPairs.map(([a, b]) => pairOf(egress, a, b)!.bytes),
        atCut,
        '0 bytes delivered on every cut pair during the window',
      );
      const [o1, o2] = others;
      const kept = pairOf(egress, o1, o2)!.bytes + pairOf(egress, o2, o1)!.bytes;
      await sleep(300);
      t.ok(pairOf(egress, o1, o2)!.bytes + pairOf(egress, o2, o1)!.bytes > kept, 'the majority still talks');

      for (const [a, b] of cutPairs) egress.setEffect(a, b, undefined);
      const healed = await agreedLeader(endpoints);
      t.ok(
        healed.statuses.every((s) => s.ok),
        'after the heal every member answers and all agree on one leader',
      );
    },
  );
}
