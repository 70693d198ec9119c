// Each launched cluster keeps a record of who owns it in its data dir (`owner.json`: the daemon's pid
// and start time, each member's name, pid, data dir and ports), kept current as members (re)start and
// exit. A new lab reads the records of the clusters it finds and cleans up after owners that died:
// it SIGKILLs member pids that are alive *and* whose command line holds that member's data dir (never
// by process name), then removes the dir.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processAlive, processCmdline, processStartTime, waitGone } from '../util/proc.js';

export const OWNER_FILE = 'owner.json';
export const CLUSTER_DIR_PREFIX = 'etcd-soak-cluster-';

export interface OwnerMember {
  name: string;
  pid: number | null;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  advertiseClientPort: number;
  advertisePeerPort: number;
}

export interface OwnerRecord {
  version: 1;
  daemon: { pid: number; startTime?: string; argv: string[] };
  baseDir: string;
  keep: boolean;
  createdAt: string;
  updatedAt: string;
  members: OwnerMember[];
}

let ownStart: string | undefined;

/** This process as a record's owner. */
export function selfOwner(): OwnerRecord['daemon'] {
  ownStart ??= processStartTime(process.pid);
  return { pid: process.pid, startTime: ownStart, argv: process.argv.slice(0, 4) };
}

/** Writes the record atomically (a reader never sees half a file). */
export function writeOwnerRecord(dir: string, rec: OwnerRecord): void {
  const file = path.join(dir, OWNER_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n');
  fs.renameSync(tmp, file);
}

export function readOwnerRecord(dir: string): OwnerRecord | undefined {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8')) as OwnerRecord;
    if (rec?.version !== 1 || !Number.isInteger(rec.daemon?.pid) || !Array.isArray(rec.members)) return undefined;
    return rec;
  } catch {
    return undefined;
  }
}

export interface ReapedCluster {
  dir: string;
  daemonPid: number;
  /** member pids that were alive and SIGKILLed */
  killed: { name: string; pid: number }[];
  removed: boolean;
  /** one line for the user */
  line: string;
}

/** Where clusters are created: the temp dir and any configured parents. */
export function clusterParents(extra: (string | undefined)[] = []): string[] {
  const all = [os.tmpdir(), ...extra.filter((x): x is string => !!x)].map((d) => path.resolve(d));
  return [...new Set(all)];
}

/**
 * Cleans every `etcd-soak-cluster-*` dir under `parents` whose record names an owner that is dead.
 * Dirs without a readable record are left alone (they may be a cluster being created right now).
 */
export async function reapStaleClusters(
  parents: string[],
  opts: { log?: (line: string) => void } = {},
): Promise<ReapedCluster[]> {
  const out: ReapedCluster[] = [];
  for (const parent of parents) {
    let names: string[];
    try {
      names = fs.readdirSync(parent).filter((n) => n.startsWith(CLUSTER_DIR_PREFIX));
    } catch {
      continue;
    }
    for (const name of names) {
      const dir = path.join(parent, name);
      const rec = readOwnerRecord(dir);
      if (!rec) continue;
      if (processAlive(rec.daemon.pid, rec.daemon.startTime)) continue;
      const killed: ReapedCluster['killed'] = [];
      for (const m of rec.members) {
        if (!m.pid || !m.dataDir || !processAlive(m.pid)) continue;
        // only a process that really is this member: its command line names the member's data dir
        if (!processCmdline(m.pid).includes(m.dataDir)) continue;
        try {
          process.kill(m.pid, 'SIGKILL');
          killed.push({ name: m.name, pid: m.pid });
        } catch {
          // gone meanwhile, or not ours to signal
        }
      }
      await waitGone(
        killed.map((k) => k.pid),
        2000,
      );
      let removed = false;
      if (!rec.keep) {
        try {
          fs.rmSync(dir, { recursive: true, force: true });
          removed = true;
        } catch {
          removed = false;
        }
      }
      if (!killed.length && !removed) continue;
      const what = [
        killed.length
          ? `killed ${killed.map((k) => `${k.name} (pid ${k.pid})`).join(', ')}`
          : 'no member was left running',
        removed ? `removed ${dir}` : `kept ${dir} (it was started with keep)`,
      ].join('; ');
      const line = `cleaned up after a lab whose daemon (pid ${rec.daemon.pid}) died: ${what}`;
      opts.log?.(line);
      out.push({ dir, daemonPid: rec.daemon.pid, killed, removed, line });
    }
  }
  return out;
}
