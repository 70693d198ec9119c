// The end of a run: every member's HashKV at one revision must agree (etcd's consistency of the stored
// key space). Asked of each endpoint of the load through a fresh connection; a member that cannot answer
// (down, behind that revision for too long, compacted past it) leaves the check incomplete, never a
// violation, and so do hashes over different compact revisions (not comparable).
import type { Logger } from '../util/log.js';
import { EtcdWireClient } from './wire/client.js';

export interface HashKvAnswer {
  endpoint: string;
  hash?: number;
  compactRevision?: number;
  error?: string;
}

export interface HashKvResult {
  /** the revision every member hashed (0: none could be chosen) */
  revision: number;
  members: HashKvAnswer[];
  /** 'agreed': every answer the same; 'differ': two comparable answers differ (etcd's violation);
   * 'incomplete': fewer than two comparable answers, or an endpoint did not answer */
  outcome: 'agreed' | 'differ' | 'incomplete';
}

/** how long a member behind the chosen revision is waited for */
const CATCH_UP_MS = 5000;

async function hashOne(client: EtcdWireClient, revision: number, deadline: number): Promise<HashKvAnswer> {
  for (;;) {
    try {
      const r = await client.hashKV(revision, { timeoutMs: 8000 });
      return { endpoint: client.endpoint, hash: r.hash, compactRevision: r.compactRevision };
    } catch (err) {
      const message = (err as Error).message;
      // a member that has not applied the revision yet answers "future revision": wait for it a while
      if (/future revision/i.test(message) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      return { endpoint: client.endpoint, error: message };
    }
  }
}

/** HashKV of every endpoint at the current revision of the first that answers. */
export async function compareHashKV(endpoints: readonly string[], logger: Logger): Promise<HashKvResult> {
  const clients = [...new Set(endpoints)].map((e) => new EtcdWireClient(e, { logger }));
  try {
    let revision = 0;
    for (const c of clients) {
      try {
        // any Range answers with the store's current revision in its header
        revision = (await c.range('\0', { limit: 1, timeoutMs: 5000 })).revision;
        break;
      } catch (err) {
        logger.debug(
          { endpoint: c.endpoint, err: (err as Error).message },
          'no revision for HashKV from this endpoint',
        );
      }
    }
    if (!revision) return { revision: 0, members: [], outcome: 'incomplete' };
    const deadline = Date.now() + CATCH_UP_MS;
    const members = await Promise.all(clients.map((c) => hashOne(c, revision, deadline)));
    return { revision, members, outcome: judge(members) };
  } finally {
    for (const c of clients) c.close();
  }
}

/** The outcome of a set of answers at one revision. */
export function judge(members: HashKvAnswer[]): HashKvResult['outcome'] {
  const answered = members.filter((m) => m.hash !== undefined);
  const compacts = new Set(answered.map((m) => m.compactRevision));
  if (compacts.size === 1 && new Set(answered.map((m) => m.hash)).size > 1) return 'differ';
  if (answered.length < 2 || answered.length < members.length || compacts.size > 1) return 'incomplete';
  return 'agreed';
}
