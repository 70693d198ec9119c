// Runs the daemon from a config: links (and, for `launch`, a local etcd cluster behind them in the
// Procfile-proxy layout), the HTTP API, the load; a banner, then a status line per interval.
// Before anything starts: clean up after labs whose daemon died (owner.ts), and check every port of the
// layout (a taken port fails at once, naming its role and its holder).
import { createAdaptorServer } from '@hono/node-server';
import { spawnSync } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../api/app.js';
import type { Config } from '../config/schema.js';
import { serveCompatAdmin } from '../api/admin.js';
import { closeServer, Daemon, type LinkSpec } from '../daemon.js';
import { Conflict, DomainError } from '../util/errors.js';
import { printBanner } from './banner.js';
import { formatStatusLine, formatSummaryTable, type LoadSummary, type TimelineLine } from '../loadgen/report.js';
import { Metrics } from '../metrics.js';
import { EnvironmentError, InputError } from '../util/exit.js';
import { silentLogger, type Logger } from '../util/log.js';
import { freePorts, joinHostPort, splitHostPort } from '../util/net.js';
import { assertPortsFree, type PortClaim } from '../util/ports.js';
import { findEtcd, startCluster, type Cluster, type MemberSpec } from '../cluster/launch.js';
import { tailLines } from '../cluster/health.js';
import { clusterParents, reapStaleClusters } from '../cluster/owner.js';
import { Topology, type MemberInit } from '../cluster/topology.js';

export interface LabOptions {
  logger?: Logger;
  /** where the banner, status lines, warnings and summary go (default stderr); null = nowhere */
  out?: ((line: string) => void) | null;
  metrics?: Metrics;
  /** aborts a start in progress (what was started is stopped again, and startLab rejects) */
  signal?: AbortSignal;
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
  if (explicit || process.env.ETCD_BIN)
    throw new EnvironmentError(`etcd binary not found at ${explicit ?? process.env.ETCD_BIN}`);
  const cmd = 'apt-get update && apt-get install -y etcd-server';
  const haveApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  if (process.getuid?.() === 0 && haveApt) {
    out(`etcd is not installed; installing Debian's etcd-server (${cmd})`);
    const r = spawnSync('sh', ['-c', `${cmd} >&2`], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const again = findEtcd();
    if (r.status === 0 && again) return again;
  }
  throw new EnvironmentError(
    `etcd is not installed and could not be installed here; install it with: sudo ${cmd.replace('&& apt-get', '&& sudo apt-get')} (or pass --etcd-bin / ETCD_BIN)`,
  );
}

/** Whether a listen host is reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

export interface Listener {
  /** "API", "link s1-client", "etcd-proxy admin of s1-client" */
  role: string;
  listen: string;
  kind: 'api' | 'link' | 'admin';
}

/**
 * One line per listener reachable from other machines while no token is set, and (token set) one line
 * saying the etcd-proxy admin ports are not covered by it.
 */
export function exposureWarnings(listeners: Listener[], tokenSet: boolean): string[] {
  const lines: string[] = [];
  if (!tokenSet) {
    for (const l of listeners) {
      const { host } = splitHostPort(l.listen);
      if (isLoopbackHost(host)) continue;
      const what =
        l.kind === 'api'
          ? 'anyone who reaches it controls every link, fault and the load'
          : l.kind === 'link'
            ? 'anyone who reaches it talks to etcd through it'
            : 'anyone who reaches it sets faults on its link';
      lines.push(
        `warning: the ${l.role} listens on ${host ? l.listen : `every interface (${l.listen})`} and no --token is set: ${what}`,
      );
    }
  } else if (listeners.some((l) => l.kind === 'admin')) {
    const exposed = listeners.filter((l) => l.kind === 'admin' && !isLoopbackHost(splitHostPort(l.listen).host));
    lines.push(
      `note: the token covers the JSON API only; the etcd-proxy admin ports (N378/N381) are unauthenticated by design (drop-in compatibility) and loopback-only by default${exposed.length ? ` (here ${exposed.map((l) => l.listen).join(', ')} are not loopback)` : ''}; --no-compat-admin turns them off`,
    );
  }
  return lines;
}

function abortError(): Error {
  const e = new Error('start aborted');
  e.name = 'AbortError';
  return e;
}

export async function startLab(config: Config, opts: LabOptions = {}): Promise<Lab> {
  const logger = opts.logger ?? silentLogger;
  const out = opts.out === null ? () => {} : (opts.out ?? ((l: string) => void process.stderr.write(l + '\n')));
  const signal = opts.signal;
  let cluster: Cluster | undefined;
  const launch = config.cluster?.launch;
  const existing = config.cluster?.existing;
  // the members: the launch's layout (ports below) or the existing cluster's list
  const topology = new Topology(
    existing?.members.map((m): MemberInit => ({ name: m.name, clientUrl: m.client, peerUrl: m.peer })) ?? [],
  );
  const daemon = new Daemon({
    topology,
    metrics: opts.metrics ?? new Metrics(),
    logger,
    seed: config.seed,
    reportDir: config.reportDir,
    defaultProfile: config.load,
    serveAdmin: serveCompatAdmin,
  });
  let api: Server | undefined;
  // the links first (their connections closed by us, not reset under us by members going away), then
  // the members (followers first: a leader cut off from its peers stops without a hand-over), the API
  const cleanup = async () => {
    await daemon.close();
    await cluster?.stop();
    await closeServer(api);
  };
  const checkAbort = () => {
    if (signal?.aborted) throw abortError();
  };
  try {
    const apiAddr = splitHostPort(config.api.listen);
    const claims: PortClaim[] = [];
    const listeners: Listener[] = [{ role: 'API', listen: config.api.listen, kind: 'api' }];
    const claim = (listen: string, role: string) => {
      const { host, port } = splitHostPort(listen);
      if (port) claims.push({ host, port, role });
    };
    claim(config.api.listen, 'API');
    const linkSpecs: LinkSpec[] = [];
    let memberSpecs: MemberSpec[] = [];
    let etcdBin: string | undefined;
    if (launch) {
      // a lab whose daemon died left members and data behind: its own record says which
      await reapStaleClusters(clusterParents([launch.dataDir]), { log: out });
      etcdBin = ensureEtcd(launch.etcdBin, out);
      const ports =
        launch.ports === 'ephemeral'
          ? await ephemeralPorts(launch.members)
          : procfilePorts(launch.members, launch.portOffset);
      for (const m of ports) {
        const admin = (p: number) => (launch.compatAdmin ? `127.0.0.1:${p}` : undefined);
        linkSpecs.push({
          name: `${m.name}-client`,
          listen: `127.0.0.1:${m.clientProxy}`,
          upstream: `127.0.0.1:${m.client}`,
          kind: 'client',
          member: m.name,
          compatAdmin: admin(m.clientAdmin),
        });
        linkSpecs.push({
          name: `${m.name}-peer`,
          listen: `127.0.0.1:${m.peerProxy}`,
          upstream: `127.0.0.1:${m.peer}`,
          kind: 'peer',
          member: m.name,
          compatAdmin: admin(m.peerAdmin),
        });
        claims.push(
          { host: '127.0.0.1', port: m.client, role: `${m.name} client` },
          { host: '127.0.0.1', port: m.peer, role: `${m.name} peer` },
        );
      }
      const scheme = launch.peerTls ? 'https' : 'http';
      for (const m of ports)
        topology.add({
          name: m.name,
          clientUrl: `http://127.0.0.1:${m.client}`,
          peerUrl: `${scheme}://127.0.0.1:${m.peer}`,
        });
      memberSpecs = ports.map((m) => ({
        name: m.name,
        clientPort: m.client,
        peerPort: m.peer,
        advertisePeerPort: m.peerProxy,
        advertiseClientPort: m.clientProxy,
      }));
    } else if (existing) {
      for (const m of existing.members) {
        linkSpecs.push({
          name: `${m.name}-client`,
          listen: m.clientProxy ?? '127.0.0.1:0',
          upstream: m.client,
          kind: 'client',
          member: m.name,
          compatAdmin: m.compatAdmin,
        });
        // the member's advertised peer URL: partitions by socket owner classify the dials arriving here
        if (m.peerProxy && m.peer)
          linkSpecs.push({
            name: `${m.name}-peer`,
            listen: m.peerProxy,
            upstream: m.peer,
            kind: 'peer',
            member: m.name,
          });
      }
    }
    const extra = config.links as LinkSpec[];
    for (const l of [...linkSpecs, ...extra]) {
      const role = l.member ? `${l.member} ${l.kind} link` : `link ${l.name}`;
      claim(l.listen, role);
      listeners.push({ role: `link ${l.name}`, listen: l.listen, kind: 'link' });
      if (l.compatAdmin) {
        claim(l.compatAdmin, `${role} admin`);
        listeners.push({ role: `etcd-proxy admin of ${l.name}`, listen: l.compatAdmin, kind: 'admin' });
      }
    }
    // every port of the layout, before anything listens or starts: a taken port fails now, by name
    await assertPortsFree(claims);
    for (const line of exposureWarnings(listeners, !!config.api.token)) out(line);
    checkAbort();

    try {
      for (const l of linkSpecs) {
        await daemon.addLink(l);
        // members dial each other's links while they start: count those failures, do not log them
        if (launch) daemon.getLink(l.name).quiet = true;
      }
    } catch (err) {
      if (err instanceof Conflict) throw new EnvironmentError(err.message);
      throw err;
    }
    if (launch) {
      // each member's egress listener (a free port, taken after the layout's ports were checked and
      // the links listen) before any member starts: its first peer dial goes there
      if (launch.partitions) for (const m of memberSpecs) m.egressPort = await daemon.egressListen(m.name!);
      out(
        `starting ${memberSpecs.length} etcd members (${etcdBin}, peers over ${launch.peerTls ? 'TLS' : 'plain HTTP'}${launch.partitions ? ', each dialling through its egress listener' : ''})...`,
      );
      cluster = await startCluster({
        members: memberSpecs,
        etcdBin,
        baseDir: launch.dataDir,
        keep: launch.keep,
        peerTls: launch.peerTls,
        logger,
        signal,
      });
      for (const m of cluster.members) topology.attachProcess(m.name, m);
      await topology.statuses(2000); // the members' ids, known from the start
      for (const l of linkSpecs) daemon.getLink(l.name).quiet = false;
      const c = cluster;
      c.on('member-exit', (name: string, code: number | null, sig: string | null) => {
        const m = c.member(name);
        const tail = (m.lastLog ?? tailLines(m.logFile, 5)).slice(-5);
        out(
          `!! etcd member ${name} exited unexpectedly (${sig ? `signal ${sig}` : `exit code ${code}`}); last lines of its log:\n${tail.map((l) => `     ${l.slice(0, 300)}`).join('\n')}`,
        );
      });
    }
    checkAbort();
    for (const l of extra) {
      try {
        await daemon.addLink(l);
      } catch (err) {
        if (err instanceof Conflict) throw new EnvironmentError(err.message);
        if (err instanceof DomainError) throw new InputError(`links: ${err.message}`);
        throw err;
      }
    }

    const app = buildApp(daemon, { token: config.api.token });
    api = createAdaptorServer({ fetch: app.fetch }) as Server;
    await new Promise<void>((resolve, reject) => {
      api!.once('error', (err: NodeJS.ErrnoException) =>
        reject(new EnvironmentError(`cannot serve the API on ${config.api.listen}: ${err.code ?? err.message}`)),
      );
      api!.listen(apiAddr.port, apiAddr.host || undefined, () => resolve());
    });
    const apiPort = (api.address() as AddressInfo).port;
    const apiHost = apiAddr.host && apiAddr.host !== '0.0.0.0' && apiAddr.host !== '::' ? apiAddr.host : '127.0.0.1';
    const apiUrl = `http://${joinHostPort(apiHost, apiPort)}`;
    checkAbort();

    if (config.load) await daemon.startLoad(config.load);
    // partitions the config asks for from the start (with a duration they heal by themselves)
    for (const [i, p] of config.partitions.entries()) {
      try {
        await daemon.peers.partitions.add(p);
      } catch (err) {
        throw new InputError(`partitions[${i}]: ${(err as Error).message}`);
      }
    }
    // an existing cluster's members are known by their client URLs: show what each says of itself
    const existingStatus = !cluster && existing ? await daemon.clusterStatus(2000).catch(() => []) : [];
    printBanner(out, daemon, apiUrl, !!config.api.token, existingStatus);
    const launched = topology.list().filter((m) => m.process);
    daemon.on('load-interval', (line: TimelineLine) =>
      out(
        `${formatStatusLine(line)}${launched.length ? ` | members up ${launched.filter((m) => m.process!.running).length}/${launched.length}` : ''}`,
      ),
    );

    let stopping: Promise<LoadSummary | undefined> | undefined;
    return {
      daemon,
      cluster,
      apiUrl,
      stop(reason = 'lab stopping') {
        stopping ??= (async () => {
          let summary: LoadSummary | undefined;
          // a scenario still running is aborted first: its faults removed and its members restored,
          // so the load's last interval and the end-of-run replay see the cluster whole
          await daemon.scenarios.abortAll();
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
    await cleanup().catch((e) => logger.error({ err: e }, 'cleanup after a failed start'));
    throw err;
  }
}
