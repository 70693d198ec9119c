// The daemon's chaos side wired together: the window log (every fault, partition and member fault as
// applied, the leader changes), the member book (process faults on launched members) and the scenario
// runner that drives faults, partitions, members and the load's rate through the daemon's own books.
import type { Topology } from '../cluster/topology.js';
import type { Metrics } from '../metrics.js';
import type { FaultTarget } from '../schema/target.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { randomSeed, Rng } from '../util/rng.js';
import { checkCondition, leaderView } from './conditions.js';
import type { FaultBook } from './faults.js';
import { MemberBook, type MemberAction, type MemberWindowEdge } from './members.js';
import type { PartitionBook } from './partitions.js';
import { ScenarioBook, type ScenarioDeps } from './scenarios.js';
import { WindowLog, type WindowMark, type WindowRecord } from './windows.js';

export interface ChaosHost {
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  topology: Topology;
  seed?: number;
  /** the running load's timeline (marks go nowhere while no load runs) */
  mark(m: WindowMark | Parameters<ScenarioDeps['mark']>[0]): void;
  loadRunning(): boolean;
  faults(): FaultBook;
  partitions(): PartitionBook;
  setRate(rate: number): void;
}

export interface Chaos {
  windows: WindowLog;
  memberBook: MemberBook;
  scenarios: ScenarioBook;
}

export function wireChaos(h: ChaosHost): Chaos {
  const windows = new WindowLog({
    clock: h.clock,
    logger: h.logger,
    leader: () => leaderView(h.topology),
    sink: (m) => {
      if (m.mark === 'leader' && m.previous !== null) h.metrics.leaderChanges.inc();
      h.mark(m);
    },
    tracking: () => h.topology.size > 0 && (h.loadRunning() || scenarios.running),
  });
  const memberBook = new MemberBook({
    topology: h.topology,
    clock: h.clock,
    logger: h.logger,
    // the run's seed, a stream of its own (the links' streams step by 0x9e3779b9)
    rng: new Rng(h.seed !== undefined ? (h.seed ^ 0x6d656d62) >>> 0 : randomSeed()),
  });
  windows.on('start', (w: WindowRecord) => {
    h.metrics.faultWindows.inc({ kind: w.kind });
    h.metrics.faultWindowsActive.inc({ kind: w.kind });
  });
  windows.on('end', (w: WindowRecord) => h.metrics.faultWindowsActive.dec({ kind: w.kind }));
  memberBook.on('window', (w: MemberWindowEdge) =>
    w.edge === 'start' ? windows.start(w.id, w.kind, `member ${w.member}`, w.at) : windows.end(w.id, w.at),
  );
  const scenarios: ScenarioBook = new ScenarioBook({
    clock: h.clock,
    logger: h.logger,
    windows,
    addFault: (spec, target) => h.faults().add(spec, target),
    roles: async () => {
      const r = await h.topology.roles(1000);
      const names = (ms: { name: string }[]) => ms.map((m) => m.name);
      return { leader: r.leader?.name, followers: names(r.followers), others: names(r.unreachable) };
    },
    removeFault: (id) => h.faults().remove(id),
    addPartition: (spec) => h.partitions().add(spec),
    removePartition: (id) => h.partitions().remove(id),
    member: (target, action, avoid) => memberBook.act(target, action as MemberAction, { avoid }),
    setRate: (rate) => h.setRate(rate),
    check: (c) => checkCondition(h.topology, c),
    mark: (m) => h.mark(m),
    stepDone: (s) => {
      h.metrics.scenarioSteps.inc({ result: s.error ? 'failed' : 'applied' });
      if (s.skewMs !== undefined) h.metrics.scenarioSkew.observe(s.skewMs / 1000);
    },
  });
  return { windows, memberBook, scenarios };
}

/** "member s1 peer links (s1-peer)": what a targeted fault's window is on */
export function describeTarget(t: FaultTarget, links: string[]): string {
  const who = [
    t.members && `member ${t.members.join(',')}`,
    t.role,
    t.kind && `${t.kind} links`,
    t.links && !t.members && !t.role && !t.kind && `link ${t.links.join(',')}`,
  ].filter(Boolean);
  return `${who.join(' ')}${t.links && (t.members || t.role || t.kind) ? ` + link ${t.links.join(',')}` : ''} (${links.join(', ')})`;
}
