// Runs the daemon from a config: links (and, for `launch`, a local etcd cluster behind them in the
// Procfile-proxy layout), the HTTP API, the load; a banner, then a status line per interval.
import { createAdaptorServer } from '@hono/node-server';
import { spawnSync } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../api/app.js';
import type { Config } from '../config/schema.js';
import { ApiError, closeServer, Daemon, type LinkSpec } from '../daemon.js';
import { formatStatusLine, formatSummaryTable, type LoadSummary, type TimelineLine } from '../loadgen/report.js';
import { Metrics } from '../metrics.js';
import { silentLogger, type Logger } from '../util/log.js';
import { freePorts, splitHostPort } from '../util/net.js';
import { findEtcd, startCluster, type Cluster, type MemberSpec } from './cluster.js';

export interface LabOptions {
  logger?: Logger;
  /** where the banner, status lines and summary go (default stderr); null = nowhere */
  out?: ((line: string) => void) | null;
  metrics?: Metrics;
}

export interface Lab {
  daemon: Daemon;
  cluster: Cluster | undefined;
  apiUrl: string;
  stop(reason?: string): Promise<LoadSummary | undefined>;
}

interface MemberPorts {
  name: string;
  client: number;
  clientProxy: number;
  peer: number;
  peerProxy: number;
  clientAdmin: number;
  peerAdmin: number;
}

/** Member N (1-based): client N379, client proxy N3790, peer N380, peer proxy N3800, admin N378 / N381. */
export function procfilePorts(members: number, offset = 0): MemberPorts[] {
  return Array.from({ length: members }, (_, i) => {
    const n = i + 1;
    return {
      name: `s${n}`,
      client: n * 1000 + 379 + offset,
      clientProxy: n * 10000 + 3790 + offset,
      peer: n * 1000 + 380 + offset,
      peerProxy: n * 10000 + 3800 + offset,
      clientAdmin: n * 1000 + 378 + offset,
      peerAdmin: n * 1000 + 381 + offset,
    };
  });
}

async function ephemeralPorts(members: number): Promise<MemberPorts[]> {
  const p = await freePorts(members * 6);
  return Array.from({ length: members }, (_, i) => {
    const [client, clientProxy, peer, peerProxy, clientAdmin, peerAdmin] = p.slice(i * 6, i * 6 + 6);
    return { name: `s${i + 1}`, client, clientProxy, peer, peerProxy, clientAdmin, peerAdmin };
  });
}

/** The etcd binary, installing Debian's etcd-server when it is missing and we may (root + apt-get). */
export function ensureEtcd(explicit: string | undefined, out: (line: string) => void): string {
  const found = findEtcd(explicit);
  if (found) return found;
  if (explicit || process.env.ETCD_BIN) throw new Error(`etcd binary not found at ${explicit ?? process.env.ETCD_BIN}`);
  const cmd = 'apt-get update && apt-get install -y etcd-server';
  const haveApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (process.getuid?.() === 0 && haveApt) {
    out(`etcd is not installed; installing Debian's etcd-server (${cmd})`);
    const r = spawnSync('sh', ['-c', `${cmd} >&2`], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    const again = findEtcd();
    if (r.status === 0 && again) return again;
  }
  throw new Error(`etcd is not installed and could not be installed here; install it with: sudo ${cmd.replace('&& apt-get', '&& sudo apt-get')} (or pass --etcd-bin / ETCD_BIN)`);
}

export async function startLab(config: Config, opts: LabOptions = {}): Promise<Lab> {
  const logger = opts.logger ?? silentLogger;
  const out = opts.out === null ? () => {} : (opts.out ?? ((l: string) => process.stderr.write(l + '\n')));
  let cluster: Cluster | undefined;
  const daemon = new Daemon({ metrics: opts.metrics ?? new Metrics(), logger, seed: config.seed, reportDir: config.reportDir });
  let api: Server | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  const cleanup = async () => {
    clearInterval(statusTimer);
    await closeServer(api);
    await daemon.close();
    await cluster?.stop();
  };
  try {
    const launch = config.cluster?.launch;
    const existing = config.cluster?.existing;
    if (launch) {
      const etcdBin = ensureEtcd(launch.etcdBin, out);
      const ports = launch.ports === 'ephemeral' ? await ephemeralPorts(launch.members) : procfilePorts(launch.members, launch.portOffset);
      for (const m of ports) {
        await daemon.addLink({ name: `${m.name}-client`, listen: `127.0.0.1:${m.clientProxy}`, upstream: `127.0.0.1:${m.client}`, kind: 'client', member: m.name, compatAdmin: launch.compatAdmin ? `127.0.0.1:${m.clientAdmin}` : undefined });
        await daemon.addLink({ name: `${m.name}-peer`, listen: `127.0.0.1:${m.peerProxy}`, upstream: `127.0.0.1:${m.peer}`, kind: 'peer', member: m.name, compatAdmin: launch.compatAdmin ? `127.0.0.1:${m.peerAdmin}` : undefined });
      }
      const members: MemberSpec[] = ports.map((m) => ({ name: m.name, clientPort: m.client, peerPort: m.peer, advertisePeerPort: m.peerProxy, advertiseClientPort: m.clientProxy }));
      out(`starting ${members.length} etcd members (${etcdBin}, peers over ${launch.peerTls ? 'TLS' : 'plain HTTP'})...`);
      cluster = await startCluster({ members, etcdBin, baseDir: launch.dataDir, keep: launch.keep, peerTls: launch.peerTls, logger });
      daemon.cluster = cluster;
      cluster.on('member-exit', (name: string, code: number | null, signal: string | null) => out(`!! etcd member ${name} exited unexpectedly (code ${code}, signal ${signal}); see ${cluster!.member(name).logFile}`));
    } else if (existing) {
      for (const m of existing.members) {
        await daemon.addLink({ name: `${m.name}-client`, listen: m.clientProxy ?? '127.0.0.1:0', upstream: m.client, kind: 'client', member: m.name });
      }
    }
    for (const l of config.links) await daemon.addLink(l as LinkSpec);

    const app = buildApp(daemon, { token: config.api.token });
    api = createAdaptorServer({ fetch: app.fetch }) as Server;
    const { host, port } = splitHostPort(config.api.listen);
    await new Promise<void>((resolve, reject) => {
      api!.once('error', (err: NodeJS.ErrnoException) => reject(new ApiError(409, `cannot serve the API on ${config.api.listen}: ${err.code ?? err.message}`)));
      api!.listen(port, host || undefined, () => resolve());
    });
    const apiPort = (api.address() as AddressInfo).port;
    const apiUrl = `http://${host && host !== '0.0.0.0' ? host : '127.0.0.1'}:${apiPort}`;

    if (config.load) await daemon.startLoad(config.load);
    printBanner(out, daemon, cluster, apiUrl, !!config.api.token);
    daemon.on('load-interval', (line: TimelineLine) => out(`${formatStatusLine(line)} | faults ${daemon.activeFaults().length}${cluster ? ` | members up ${cluster.members.filter((m) => m.running).length}/${cluster.members.length}` : ''}`));

    let stopping: Promise<LoadSummary | undefined> | undefined;
    return {
      daemon,
      cluster,
      apiUrl,
      stop(reason = 'lab stopping') {
        stopping ??= (async () => {
          let summary: LoadSummary | undefined;
          if (daemon.loadRunner) {
            summary = await daemon.stopLoad(reason).catch(() => undefined);
            if (summary) out(formatSummaryTable(summary));
          }
          await cleanup();
          return summary;
        })();
        return stopping;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function printBanner(out: (l: string) => void, daemon: Daemon, cluster: Cluster | undefined, apiUrl: string, token: boolean): void {
  const lines = ['', 'etcd-soak is running', ''];
  if (cluster) {
    lines.push('  member  client          client link (proxy)  peer            peer link (advertised)  pid');
    for (const m of cluster.members) {
      lines.push(`  ${m.name.padEnd(8)}127.0.0.1:${String(m.clientPort).padEnd(6)}127.0.0.1:${String(m.advertiseClientPort).padEnd(11)}127.0.0.1:${String(m.peerPort).padEnd(6)}127.0.0.1:${String(m.advertisePeerPort).padEnd(14)}${m.pid}`);
    }
  }
  const links = daemon.listLinks();
  const eps = daemon.clientEndpoints();
  lines.push('', `  endpoints (through the links): ${eps.join(',')}`);
  lines.push(`  API: ${apiUrl}   metrics: ${apiUrl}/metrics   OpenAPI: ${apiUrl}/openapi.json${token ? '   (bearer token required)' : ''}`);
  const admin = links.find((l) => l.kind === 'client' && l.compatAdmin);
  const peerLink = links.find((l) => l.kind === 'peer');
  lines.push('', '  try:');
  lines.push(`    ETCDCTL_API=3 etcdctl --endpoints ${eps[0] ?? '127.0.0.1:23790'} put foo bar`);
  if (admin?.compatAdmin) lines.push(`    curl -L http://localhost:${admin.compatAdmin.split(':').pop()}/delay-tx -X PUT -d "latency=5s&random-variable=100ms"`);
  if (peerLink) lines.push(`    curl -X POST ${apiUrl}/links/${peerLink.name}/faults -d '{"type":"blackhole","direction":"tx","duration":"10s"}'`);
  lines.push(`    curl ${apiUrl}/load`, '');
  out(lines.join('\n'));
}
