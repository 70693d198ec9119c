// The end of a run, after its operations drained: every open question settled against etcd's record
// (its history of the run's keys), the watchers that had not reached the last revision of their keys
// found, and every member's HashKV compared at one revision.
import type { Logger } from '../util/log.js';
import type { Checker } from './checker.js';
import { compareHashKV, type HashKvResult } from './hashkv.js';
import type { EtcdRecord, ReplayResult } from './record.js';

export interface BehindWatcher {
  watcher: number;
  connection: number;
  key: string;
  seen: number;
  last: number;
}

export interface RunEnd {
  replay: ReplayResult;
  /** how many watchers were behind, and the first 20 of them */
  behindAtEnd: number;
  behind: BehindWatcher[];
  hashKv?: HashKvResult;
}

export interface RunEndInputs {
  checker: Checker;
  record: EtcdRecord;
  now: () => number;
  replayTimeout: number;
  logger: Logger;
  /** the load's endpoints (HashKV is compared when there are two or more) */
  endpoints: readonly string[];
  /** a drop/corrupt fault may garble answers now: no HashKV (a garbled hash must not be etcd's violation) */
  transitSuspect: boolean;
  /** what the watch workload can say of the connections of watchers that fell behind (for the log) */
  diagnostics?: (connections: number[]) => unknown;
}

export async function settleRunEnd(i: RunEndInputs): Promise<RunEnd> {
  const c = i.checker;
  const r = await i.record.settle(c, i.now, i.replayTimeout);
  if (r.error)
    i.logger.warn(
      { err: r.error, from: r.from },
      "could not read etcd's record of the run; open questions stay unverified",
    );
  // etcd's record says where each key ended; without it, the last revision the run knows
  const behind = c.behind((k) => (r.replayedTo ? (r.lastOnKey.get(k) ?? 0) : c.lastKnownOnKey(k)));
  if (behind.length)
    i.logger.warn(
      {
        behind: behind.slice(0, 10),
        count: behind.length,
        connections: i.diagnostics?.([...new Set(behind.map((b) => b.connection))]),
      },
      'watchers had not reached the last revision of their keys at the end of the run',
    );
  const end: RunEnd = { replay: r, behindAtEnd: behind.length, behind: behind.slice(0, 20) };
  if (new Set(i.endpoints).size >= 2 && !i.transitSuspect) {
    const h = await compareHashKV([...i.endpoints], i.logger);
    end.hashKv = h;
    if (h.outcome === 'differ') c.hashKvDiffers(h.revision, h.members);
    else if (h.outcome === 'incomplete')
      i.logger.warn({ revision: h.revision, members: h.members }, 'HashKV could not be compared on every member');
  }
  return end;
}
