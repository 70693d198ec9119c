// Starts and stops a local etcd cluster from the etcd binary: members on 127.0.0.1, temporary data dirs,
// stopped by PID (SIGTERM, then SIGKILL: the last member of a cluster can hang on shutdown).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../util/net.js';
import { silentLogger, type Logger } from '../util/log.js';

export interface MemberSpec {
  name?: string;
  clientPort?: number;
  peerPort?: number;
  /** Port advertised to the other members for this member's peer URL (a peer proxy's port). */
  advertisePeerPort?: number;
  /** Port advertised to clients (a client proxy's port); defaults to clientPort. */
  advertiseClientPort?: number;
}

export interface ClusterOptions {
  size?: number;
  members?: MemberSpec[];
  etcdBin?: string;
  /** Parent directory for the data dirs; a fresh temp dir under it is created (and removed on stop). */
  baseDir?: string;
  /** Peers talk TLS with etcd's auto-generated certificates (--peer-auto-tls, https peer URLs). */
  peerTls?: boolean;
  token?: string;
  /** Keep the data dirs on stop. */
  keep?: boolean;
  logger?: Logger;
  /** Extra flags for every member. */
  extraArgs?: string[];
  /** Wait for every member to be healthy before resolving (default true). */
  wait?: boolean;
}

export interface Member {
  name: string;
  clientPort: number;
  peerPort: number;
  advertisePeerPort: number;
  advertiseClientPort: number;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
  pid: number | undefined;
  running: boolean;
}

const STOP_GRACE_MS = 5000;

/** Finds the etcd binary: explicit path, ETCD_BIN, then PATH. Returns undefined when there is none. */
export function findEtcd(explicit?: string): string | undefined {
  const candidates = [explicit, process.env.ETCD_BIN].filter((x): x is string => !!x);
  for (const c of candidates) if (isExecutable(c)) return c;
  if (candidates.length) return undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir || '.', 'etcd');
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export class Cluster extends EventEmitter {
  readonly members: Member[];
  readonly baseDir: string;
  private readonly children = new Map<string, ChildProcess>();
  private readonly stopping = new Set<string>();
  private stopped = false;

  constructor(
    members: Member[],
    baseDir: string,
    private readonly etcdBin: string,
    private readonly opts: ClusterOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.members = members;
    this.baseDir = baseDir;
  }

  clientEndpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member named ${JSON.stringify(name)}`);
    return m;
  }

  private args(m: Member): string[] {
    const scheme = this.opts.peerTls ? 'https' : 'http';
    const initial = this.members.map((x) => `${x.name}=${scheme}://127.0.0.1:${x.advertisePeerPort}`).join(',');
    const a = [
      '--name', m.name,
      '--data-dir', m.dataDir,
      '--listen-client-urls', `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls', `http://127.0.0.1:${m.advertiseClientPort}`,
      '--listen-peer-urls', `${scheme}://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls', `${scheme}://127.0.0.1:${m.advertisePeerPort}`,
      '--initial-cluster', initial,
      '--initial-cluster-token', this.opts.token ?? 'tkn',
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ];
    if (this.opts.peerTls) a.push('--peer-auto-tls');
    return a.concat(this.opts.extraArgs ?? []);
  }

  /** Starts (or restarts) one member with its existing data dir. */
  startMember(name: string): void {
    const m = this.member(name);
    if (this.children.has(name)) throw new Error(`member ${name} is already running`);
    fs.mkdirSync(m.dataDir, { recursive: true });
    const out = fs.openSync(m.logFile, 'a');
    const child = spawn(this.etcdBin, this.args(m), { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.children.set(name, child);
    m.pid = child.pid;
    m.running = true;
    this.stopping.delete(name);
    child.once('exit', (code, signal) => {
      this.children.delete(name);
      m.running = false;
      m.pid = undefined;
      const expected = this.stopping.has(name) || this.stopped;
      this.stopping.delete(name);
      if (!expected) {
        this.logger.warn({ member: name, code, signal, log: m.logFile }, 'etcd member exited unexpectedly');
        this.emit('member-exit', name, code, signal);
      }
    });
    child.once('error', (err) => this.logger.error({ member: name, err }, 'etcd member failed to start'));
  }

  /**
   * Stops one member by PID. SIGTERM escalates to SIGKILL after a grace period; SIGKILL/SIGSTOP etc.
   * are sent as given (SIGSTOP/SIGCONT do not wait).
   */
  async stopMember(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.children.get(name);
    if (!child) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      child.kill(signal);
      return;
    }
    this.stopping.add(name);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    if (signal !== 'SIGKILL') {
      const timer = setTimeout(() => {
        this.logger.warn({ member: name }, 'etcd member ignored SIGTERM; sending SIGKILL');
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    } else {
      await exited;
    }
  }

  /** Resolves when every running member answers /health with health=true (or rejects at the timeout). */
  async waitHealthy(timeoutMs = 30000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const results = await Promise.all(
        this.members.filter((m) => m.running).map((m) => memberHealthy(m.clientPort).then((ok) => [m.name, ok] as const)),
      );
      if (results.length && results.every(([, ok]) => ok)) return;
      last = results.filter(([, ok]) => !ok).map(([n]) => n).join(', ');
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`etcd cluster not healthy after ${timeoutMs} ms (unhealthy: ${last || 'none running'}); logs in ${this.baseDir}`);
  }

  /** Stops every member (in parallel), then removes the data unless `keep`. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.members.map((m) => this.stopMember(m.name)));
    if (!this.opts.keep) fs.rmSync(this.baseDir, { recursive: true, force: true });
  }
}

async function memberHealthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}

/** Starts a cluster and waits until it is healthy. On failure everything started is stopped again. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const logger = opts.logger ?? silentLogger;
  const etcdBin = findEtcd(opts.etcdBin);
  if (!etcdBin) {
    throw new Error(
      'etcd binary not found (looked at --etcd-bin, ETCD_BIN and PATH); install it with: apt-get install -y etcd-server',
    );
  }
  const specs: MemberSpec[] = opts.members ?? Array.from({ length: opts.size ?? 3 }, () => ({}));
  const need = specs.reduce((n: number, s) => n + (s.clientPort ? 0 : 1) + (s.peerPort ? 0 : 1), 0);
  const ports = await freePorts(need);
  fs.mkdirSync(opts.baseDir ?? os.tmpdir(), { recursive: true });
  const baseDir = fs.mkdtempSync(path.join(opts.baseDir ?? os.tmpdir(), 'etcd-soak-cluster-'));
  const scheme = opts.peerTls ? 'https' : 'http';
  const members: Member[] = specs.map((s, i) => {
    const name = s.name ?? `s${i + 1}`;
    const clientPort = s.clientPort ?? ports.shift()!;
    const peerPort = s.peerPort ?? ports.shift()!;
    const advertisePeerPort = s.advertisePeerPort ?? peerPort;
    const advertiseClientPort = s.advertiseClientPort ?? clientPort;
    return {
      name,
      clientPort,
      peerPort,
      advertisePeerPort,
      advertiseClientPort,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      peerUrl: `${scheme}://127.0.0.1:${advertisePeerPort}`,
      dataDir: path.join(baseDir, `${name}.etcd`),
      logFile: path.join(baseDir, `${name}.log`),
      pid: undefined,
      running: false,
    };
  });
  const cluster = new Cluster(members, baseDir, etcdBin, opts, logger);
  try {
    for (const m of members) cluster.startMember(m.name);
    logger.info({ members: members.map((m) => ({ name: m.name, pid: m.pid, client: m.clientPort, peer: m.peerPort })) }, 'etcd cluster starting');
    if (opts.wait !== false) await cluster.waitHealthy(60000);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
