// Starts and stops a local etcd cluster from the etcd binary: members on 127.0.0.1, temporary data dirs,
// stopped by PID (SIGTERM, then SIGKILL: the last member of a cluster can hang on shutdown).
// Members never outlive the daemon (tie.ts), run in their own process groups (a terminal's Ctrl-C
// reaches only the daemon, which stops them in order), and the cluster keeps a record of its owner in
// its data dir (owner.ts) so a later lab can clean up after a daemon that died.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError } from '../util/exit.js';
import { freePorts } from '../util/net.js';
import { silentLogger, type Logger } from '../util/log.js';
import { NotFound, Unprocessable } from '../util/errors.js';
import { indentLines, memberGatewayStatus, memberHealthy, tailLines } from './health.js';
import { CLUSTER_DIR_PREFIX, selfOwner, writeOwnerRecord, type OwnerRecord } from './owner.js';
import { MemberProcess, type KillSignal, type MemberLayout } from './process.js';
import { MemberTie, type TieMode } from './tie.js';
import { EGRESS_PEER_HOST, egressEnv } from './egress-env.js';

export interface MemberSpec {
  name?: string;
  clientPort?: number;
  peerPort?: number;
  /** Port advertised to the other members for this member's peer URL (a peer proxy's port). */
  advertisePeerPort?: number;
  /** Port advertised to clients (a client proxy's port); defaults to clientPort. */
  advertiseClientPort?: number;
  /**
   * Port of this member's egress listener (a forward proxy on 127.0.0.1): the member dials every peer
   * through it. When any member has one, every peer URL of the cluster names `localhost.`.
   */
  egressPort?: number;
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
  /** How members are tied to this process (default auto: setpriv's PDEATHSIG when on PATH, else a watchdog). */
  tie?: TieMode;
  /** Aborts the start (stops what was started and rejects). */
  signal?: AbortSignal;
}

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

/** A launched cluster: its members' process handles, its data dir and owner record. Emits 'member-exit'(name, code, signal) for an unexpected exit. */
export class Cluster extends EventEmitter {
  /** each launched member's process handle */
  readonly members: MemberProcess[];
  readonly baseDir: string;
  readonly tie: MemberTie;
  /** the host of every advertised peer URL: 127.0.0.1, or `localhost.` when members dial through egress listeners */
  readonly peerHost: string;
  private readonly exitWatchers = new Set<(m: MemberProcess, code: number | null, signal: string | null) => void>();
  private stopped = false;
  private stopPromise: Promise<void> | undefined;
  private readonly record: OwnerRecord;

  constructor(
    layouts: MemberLayout[],
    baseDir: string,
    etcdBin: string,
    private readonly opts: ClusterOptions,
    private readonly logger: Logger,
  ) {
    super();
    this.baseDir = baseDir;
    this.tie = new MemberTie(opts.tie ?? 'auto', baseDir);
    // members with egress listeners reach their peers by a name Go does not exempt from the proxy
    this.peerHost = layouts.some((x) => x.egressPort !== undefined) ? EGRESS_PEER_HOST : '127.0.0.1';
    const initial = layouts.map((x) => `${x.name}=${this.scheme}://${this.peerHost}:${x.advertisePeerPort}`).join(',');
    this.members = layouts.map((layout) => {
      const env =
        layout.egressPort === undefined ? undefined : egressEnv(process.env, !!opts.peerTls, layout.egressPort);
      const m = new MemberProcess(layout, { etcdBin, args: this.args(layout, initial), env, tie: this.tie, logger });
      m.on('spawn', () => this.writeRecord());
      m.on('exit', (e: { code: number | null; signal: NodeJS.Signals | null; expected: boolean }) =>
        this.memberExited(m, e.code, e.signal, e.expected),
      );
      return m;
    });
    const now = new Date().toISOString();
    this.record = {
      version: 1,
      daemon: selfOwner(),
      baseDir,
      keep: !!opts.keep,
      createdAt: now,
      updatedAt: now,
      members: [],
    };
    this.writeRecord();
  }

  private get scheme(): string {
    return this.opts.peerTls ? 'https' : 'http';
  }

  clientEndpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  member(name: string): MemberProcess {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new NotFound(`no member named ${JSON.stringify(name)}`);
    return m;
  }

  private memberExited(m: MemberProcess, code: number | null, signal: string | null, expected: boolean): void {
    this.writeRecord();
    if (expected || this.stopped) return;
    this.logger.warn(
      {
        member: m.name,
        code,
        signal,
        lastLog: (m.lastLog ?? []).slice(-5),
        log: this.opts.keep ? m.logFile : undefined,
      },
      'etcd member exited unexpectedly',
    );
    for (const w of [...this.exitWatchers]) w(m, code, signal);
    this.emit('member-exit', m.name, code, signal);
  }

  /** Keeps `owner.json` and the watchdog's pid list current. */
  private writeRecord(): void {
    const pids = this.members.filter((m) => m.pid).map((m) => m.pid!);
    this.tie.track(pids);
    if (this.stopped && !this.opts.keep) return; // the dir is going away
    this.record.updatedAt = new Date().toISOString();
    this.record.members = this.members.map((m) => ({
      name: m.name,
      pid: m.pid ?? null,
      dataDir: m.dataDir,
      clientPort: m.clientPort,
      peerPort: m.peerPort,
      advertiseClientPort: m.advertiseClientPort,
      advertisePeerPort: m.advertisePeerPort,
    }));
    try {
      writeOwnerRecord(this.baseDir, this.record);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, dir: this.baseDir }, 'could not write the cluster owner record');
    }
  }

  private args(m: MemberLayout, initial: string): string[] {
    const a = [
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      `http://127.0.0.1:${m.clientPort}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${m.advertiseClientPort}`,
      '--listen-peer-urls',
      `${this.scheme}://127.0.0.1:${m.peerPort}`,
      '--initial-advertise-peer-urls',
      `${this.scheme}://${this.peerHost}:${m.advertisePeerPort}`,
      '--initial-cluster',
      initial,
      '--initial-cluster-token',
      this.opts.token ?? 'tkn',
      '--initial-cluster-state',
      'new',
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
    ];
    if (this.opts.peerTls) a.push('--peer-auto-tls');
    return a.concat(this.opts.extraArgs ?? []);
  }

  /** Starts (or restarts) one member with its existing data dir; does not wait for it to serve. */
  startMember(name: string): void {
    if (this.stopped) throw new Unprocessable('the cluster is stopped');
    this.member(name).start();
  }

  /**
   * Signals one member: SIGSTOP/SIGCONT freeze and thaw it (no wait for health); any other signal ends
   * it (SIGTERM escalates to SIGKILL after a grace period) and resolves once it has exited.
   */
  async stopMember(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const m = this.member(name);
    if (signal === 'SIGSTOP') return m.running ? m.freeze() : undefined;
    if (signal === 'SIGCONT') return m.running ? m.thaw() : undefined;
    await m.terminate(signal as KillSignal);
  }

  /**
   * Resolves when every running member answers /health with health=true. Rejects at the timeout (with
   * the unhealthy members' last log lines), at once when a member exits unexpectedly meanwhile (with
   * the last lines of its log: the data dir may be removed afterwards), or when `signal` aborts.
   */
  async waitHealthy(timeoutMs = 30000, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const onExit = (m: MemberProcess, code: number | null, sig: string | null) => {
      const lines = m.lastLog?.length ? m.lastLog : ['(its log is empty)'];
      failure = new EnvironmentError(
        `etcd member ${m.name} exited before the cluster was healthy (${sig ? `signal ${sig}` : `exit code ${code}`}); last lines of its log:\n${indentLines(lines)}`,
      );
      wake?.();
    };
    const onAbort = () => {
      failure = new Error('start aborted');
      failure.name = 'AbortError';
      wake?.();
    };
    this.exitWatchers.add(onExit);
    signal?.addEventListener('abort', onAbort);
    try {
      if (signal?.aborted) onAbort();
      let unhealthy: MemberProcess[] = [];
      while (!failure && Date.now() < deadline) {
        const running = this.members.filter((m) => m.running);
        const results = await Promise.all(running.map((m) => memberHealthy(m.clientPort)));
        if (failure) break;
        if (running.length && results.every((ok) => ok)) return;
        unhealthy = running.filter((_, i) => !results[i]);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 200);
        });
        wake = undefined;
      }
      if (failure) throw failure;
      const detail = unhealthy.length
        ? unhealthy
            .map((m) => `  ${m.name} (pid ${m.pid}), last lines of its log:\n${indentLines(tailLines(m.logFile, 8))}`)
            .join('\n')
        : '  no member is running';
      throw new EnvironmentError(
        `etcd cluster not healthy after ${timeoutMs} ms:\n${detail}${this.opts.keep ? `\n  logs in ${this.baseDir}` : ''}`,
      );
    } finally {
      this.exitWatchers.delete(onExit);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The running member that leads, asked through each member's own client port (undefined if unknown). */
  async leader(timeoutMs = 1000): Promise<MemberProcess | undefined> {
    const running = this.members.filter((m) => m.state === 'running');
    const st = await Promise.all(running.map((m) => memberGatewayStatus(m.clientPort, timeoutMs)));
    const i = st.findIndex((s) => s && s.leader !== '0' && s.leader === s.memberId);
    return i >= 0 ? running[i] : undefined;
  }

  /**
   * Stops every member, the leader last: a leader stopped while its followers run first hands its
   * leadership over (and waits for that, up to seconds, when the followers are stopping too); once the
   * followers are gone it stops at once. Then removes the data unless `keep`. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    const leader = this.members.some((m) => m.running) ? await this.leader().catch(() => undefined) : undefined;
    this.stopped = true;
    for (const m of this.members) m.retire();
    await Promise.all(this.members.filter((m) => m !== leader).map((m) => m.terminate('SIGTERM')));
    if (leader) await leader.terminate('SIGTERM');
    this.tie.close();
    if (!this.opts.keep) fs.rmSync(this.baseDir, { recursive: true, force: true });
    else this.writeRecordFinal();
  }

  private writeRecordFinal(): void {
    this.record.members.forEach((m) => (m.pid = null));
    this.record.updatedAt = new Date().toISOString();
    try {
      writeOwnerRecord(this.baseDir, this.record);
    } catch {
      // best effort: the members are stopped
    }
  }
}

/** Starts a cluster and waits until it is healthy. On failure everything started is stopped again. */
export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const logger = opts.logger ?? silentLogger;
  const etcdBin = findEtcd(opts.etcdBin);
  if (!etcdBin) {
    throw new EnvironmentError(
      'etcd binary not found (looked at --etcd-bin, ETCD_BIN and PATH); install it with: apt-get install -y etcd-server',
    );
  }
  const specs: MemberSpec[] = opts.members ?? Array.from({ length: opts.size ?? 3 }, () => ({}));
  // a member without one would dial `localhost.` itself, which Go's resolver sends to DNS (not /etc/hosts)
  const withEgress = specs.filter((s) => s.egressPort !== undefined).length;
  if (withEgress && withEgress < specs.length)
    throw new Unprocessable('either every member of a cluster has an egress listener or none has');
  const need = specs.reduce((n: number, s) => n + (s.clientPort ? 0 : 1) + (s.peerPort ? 0 : 1), 0);
  const ports = await freePorts(need);
  const parent = opts.baseDir ?? os.tmpdir();
  let baseDir: string;
  try {
    fs.mkdirSync(parent, { recursive: true });
    baseDir = fs.mkdtempSync(path.join(parent, CLUSTER_DIR_PREFIX));
  } catch (err) {
    throw new EnvironmentError(`cannot create the members' data dir under ${parent}: ${(err as Error).message}`);
  }
  const scheme = opts.peerTls ? 'https' : 'http';
  const layouts: MemberLayout[] = specs.map((s, i) => {
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
      egressPort: s.egressPort,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      peerUrl: `${scheme}://127.0.0.1:${peerPort}`,
      dataDir: path.join(baseDir, `${name}.etcd`),
      logFile: path.join(baseDir, `${name}.log`),
    };
  });
  let cluster: Cluster;
  try {
    cluster = new Cluster(layouts, baseDir, etcdBin, opts, logger);
  } catch (err) {
    fs.rmSync(baseDir, { recursive: true, force: true });
    throw new EnvironmentError((err as Error).message);
  }
  try {
    for (const m of cluster.members) m.start();
    logger.info(
      {
        members: cluster.members.map((m) => ({
          name: m.name,
          pid: m.pid,
          client: m.clientPort,
          peer: m.peerPort,
          egress: m.egressPort,
        })),
        tie: cluster.tie.mode,
      },
      'etcd cluster starting',
    );
    if (opts.wait !== false) await cluster.waitHealthy(60000, opts.signal);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
