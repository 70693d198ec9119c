// The npm etcd3 client for control work (member status, leader, revision, cleanup), configured the
// safe way: no retries and no circuit breaker (a retried write can apply twice), and a deadline on
// every call (etcd3 sets none by default).
import { Etcd3 } from 'etcd3';
import { noop } from 'cockatiel';

export function controlClient(endpoints: string[], opts: { deadlineMs?: number } = {}): Etcd3 {
  const deadlineMs = opts.deadlineMs ?? 5000;
  return new Etcd3({
    hosts: endpoints.map((e) => (e.includes('://') ? e : `http://${e}`)),
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: () => ({ deadline: new Date(Date.now() + deadlineMs) }),
  });
}

export interface MemberStatus {
  endpoint: string;
  ok: boolean;
  memberId?: string;
  leader?: string;
  isLeader?: boolean;
  revision?: number;
  raftIndex?: number;
  /** the raft term the member is in (a higher term's view of the leader is the newer one) */
  raftTerm?: number;
  error?: string;
}

/** Status of each endpoint (one client per endpoint, so each answer is that member's own view). */
export async function memberStatuses(endpoints: string[], deadlineMs = 3000): Promise<MemberStatus[]> {
  return Promise.all(
    endpoints.map(async (endpoint) => {
      const c = controlClient([endpoint], { deadlineMs });
      try {
        const s = await c.maintenance.status();
        return {
          endpoint,
          ok: true,
          memberId: s.header.member_id,
          leader: s.leader,
          isLeader: s.leader === s.header.member_id,
          revision: Number(s.header.revision),
          raftIndex: Number(s.raftIndex),
          raftTerm: Number(s.raftTerm),
        };
      } catch (err) {
        return { endpoint, ok: false, error: (err as Error).message };
      } finally {
        c.close();
      }
    }),
  );
}
