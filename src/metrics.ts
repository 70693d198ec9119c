// One prom-client registry per daemon (tests create their own). Every metric named in design.md lives
// here so the proxy, the load generator and the API agree on names and labels.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { guardCounts } from './util/guard.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30];

export class Metrics {
  readonly registry: Registry;
  // proxy
  readonly proxyBytes: Counter<'link' | 'direction' | 'outcome'>;
  readonly proxyConnections: Gauge<'link'>;
  readonly proxyConnectionsTotal: Counter<'link'>;
  readonly proxyDialFailures: Counter<'link'>;
  readonly faultActive: Gauge<'link' | 'direction' | 'type'>;
  readonly proxyDelay: Histogram<'link' | 'direction'>;
  // partitions (egress)
  readonly peerBytes: Counter<'from' | 'to'>;
  readonly partitionActive: Gauge;
  // fault windows and scenarios
  readonly faultWindows: Counter<'kind'>;
  readonly faultWindowsActive: Gauge<'kind'>;
  readonly leaderChanges: Counter;
  readonly scenarioSteps: Counter<'result'>;
  readonly scenarioSkew: Histogram;
  // load
  readonly puts: Counter<'outcome'>;
  readonly putLatency: Histogram<'outcome'>;
  readonly putSendLateness: Histogram;
  readonly putScheduleSlips: Counter;
  readonly watchEvents: Counter;
  readonly watchLatency: Histogram;
  readonly watchViolations: Counter<'kind'>;
  readonly watchers: Gauge<'state'>;
  readonly watchResumes: Counter;
  readonly loadTargetRate: Gauge;
  readonly generatorFaults: Counter<'kind'>;
  // the feature workloads (registry, lock, election, config): one family each, labelled by workload
  readonly workloadOps: Counter<'workload' | 'op' | 'result'>;
  readonly workloadLatency: Histogram<'workload' | 'name'>;
  readonly workloadViolations: Counter<'workload' | 'check'>;
  readonly workloadAnomalies: Counter<'workload' | 'kind'>;
  readonly workloadValue: Gauge<'workload' | 'name'>;
  readonly generatorLag: Gauge;
  readonly generatorReceiveBuffered: Gauge;

  constructor(opts: { registry?: Registry; defaultMetrics?: boolean } = {}) {
    const registers = [(this.registry = opts.registry ?? new Registry())];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.proxyBytes = new Counter({
      name: 'etcd_soak_proxy_bytes_total',
      help: 'Bytes read by a link, by direction (tx: client to upstream, rx: upstream to client) and outcome (forwarded, dropped, corrupted, blackholed).',
      labelNames: ['link', 'direction', 'outcome'],
      registers,
    });
    this.proxyConnections = new Gauge({
      name: 'etcd_soak_proxy_connections',
      help: 'Live proxied connections per link.',
      labelNames: ['link'],
      registers,
    });
    this.proxyConnectionsTotal = new Counter({
      name: 'etcd_soak_proxy_connections_total',
      help: 'Connections accepted per link.',
      labelNames: ['link'],
      registers,
    });
    this.proxyDialFailures = new Counter({
      name: 'etcd_soak_proxy_dial_failures_total',
      help: 'Upstream dials that failed per link (the client connection is closed at once).',
      labelNames: ['link'],
      registers,
    });
    this.faultActive = new Gauge({
      name: 'etcd_soak_fault_active',
      help: 'Number of active faults per link, direction (tx, rx, link, accept) and type.',
      labelNames: ['link', 'direction', 'type'],
      registers,
    });
    this.proxyDelay = new Histogram({
      name: 'etcd_soak_proxy_delay_seconds',
      help: 'Delay added to chunks by the delay fault (actual hold time).',
      labelNames: ['link', 'direction'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.peerBytes = new Counter({
      name: 'etcd_soak_peer_bytes_total',
      help: 'Peer bytes delivered from one member to another through the egress listeners, by (from, to) member pair; to="?" for targets that are no known member.',
      labelNames: ['from', 'to'],
      registers,
    });
    this.partitionActive = new Gauge({
      name: 'etcd_soak_partition_active',
      help: '1 while any partition is active, else 0.',
      registers,
    });
    this.faultWindows = new Counter({
      name: 'etcd_soak_fault_windows_total',
      help: 'Fault windows opened, by kind: a link fault type, partition, or a member fault (kill, stop, freeze, restart); whoever applied them.',
      labelNames: ['kind'],
      registers,
    });
    this.faultWindowsActive = new Gauge({
      name: 'etcd_soak_fault_windows_active',
      help: 'Fault windows in force now, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.leaderChanges = new Counter({
      name: 'etcd_soak_leader_changes_total',
      help: "Leader changes the daemon's once-a-second status round saw while a load or a scenario ran.",
      registers,
    });
    this.scenarioSteps = new Counter({
      name: 'etcd_soak_scenario_steps_total',
      help: 'Scenario steps by result: applied, failed.',
      labelNames: ['result'],
      registers,
    });
    this.scenarioSkew = new Histogram({
      name: 'etcd_soak_scenario_skew_seconds',
      help: 'How long after it was due a scenario step took effect (steps due at a known time).',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.puts = new Counter({
      name: 'etcd_soak_puts_total',
      help: "Puts by outcome: ok, failed (never sent: no connection), indeterminate (error or timeout after sending), and how indeterminate ones settled: applied, not_applied (per etcd's record).",
      labelNames: ['outcome'],
      registers,
    });
    this.putLatency = new Histogram({
      name: 'etcd_soak_put_latency_seconds',
      help: 'Put latency from the scheduled instant to the answer (open loop, no coordinated omission).',
      labelNames: ['outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.putSendLateness = new Histogram({
      name: 'etcd_soak_put_send_lateness_seconds',
      help: "How late the generator sent each put after its scheduled instant: the generator's own share of the put latency (timer granularity, a busy event loop).",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.putScheduleSlips = new Counter({
      name: 'etcd_soak_put_schedule_slips_total',
      help: 'Puts that could not be sent at their scheduled instant (in-flight cap reached or event loop late).',
      registers,
    });
    this.watchEvents = new Counter({
      name: 'etcd_soak_watch_events_total',
      help: 'Watch events received and checked, over all watchers.',
      registers,
    });
    this.watchLatency = new Histogram({
      name: 'etcd_soak_watch_latency_seconds',
      help: "Watch delivery latency from the put's scheduled instant to the event.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.watchViolations = new Counter({
      name: 'etcd_soak_watch_violations_total',
      help: 'Violations by kind: watch guarantees (ordered, unique, reliable, unexpected, atomic, bookmarkable, resumable, created), hashkv, linearizability, and the feature workloads (registry, lock, election, config).',
      labelNames: ['kind'],
      registers,
    });
    this.watchers = new Gauge({
      name: 'etcd_soak_watchers',
      help: 'Watchers by state (watching, resuming, stopped).',
      labelNames: ['state'],
      registers,
    });
    this.watchResumes = new Counter({
      name: 'etcd_soak_watch_resumes_total',
      help: 'Watch streams resumed from the last seen mod_revision + 1.',
      registers,
    });
    this.loadTargetRate = new Gauge({
      name: 'etcd_soak_load_target_rate',
      help: 'Target put rate of the load generator (puts per second).',
      registers,
    });
    this.generatorFaults = new Counter({
      name: 'etcd_soak_generator_faults_total',
      help: "The generator's own trouble, never counted as etcd's: stall (a silent watch stream reset), garbled (an event re-read after a drop/corrupt fault), streamBroken (a watch stream resumed).",
      labelNames: ['kind'],
      registers,
    });
    this.workloadOps = new Counter({
      name: 'etcd_soak_workload_ops_total',
      help: 'Operations of the feature workloads (registry, lock, election, config) by operation and result (ok, failed, indeterminate).',
      labelNames: ['workload', 'op', 'result'],
      registers,
    });
    this.workloadLatency = new Histogram({
      name: 'etcd_soak_workload_latency_seconds',
      help: "Latencies of the feature workloads: each operation's, and the figures they judge (expiry, convergence, lock wait).",
      labelNames: ['workload', 'name'],
      buckets: [...LATENCY_BUCKETS, 60],
      registers,
    });
    this.workloadViolations = new Counter({
      name: 'etcd_soak_workload_violations_total',
      help: "Violations found by a feature workload's checker, by check (e.g. lock fencing, config skipped).",
      labelNames: ['workload', 'check'],
      registers,
    });
    this.workloadAnomalies = new Counter({
      name: 'etcd_soak_workload_anomalies_total',
      help: 'Anomalies a fault is expected to cause and that are not etcd violations (e.g. an unsafe lock: holds that overlap in wall-clock time), by kind.',
      labelNames: ['workload', 'kind'],
      registers,
    });
    this.workloadValue = new Gauge({
      name: 'etcd_soak_workload_value',
      help: "A feature workload's status figures at the last interval (e.g. live services, lock holders, config version).",
      labelNames: ['workload', 'name'],
      registers,
    });
    this.generatorLag = new Gauge({
      name: 'etcd_soak_generator_lag_seconds',
      help: "Age of the oldest event known to the run that a watcher has not processed yet (etcd's delivery and the generator's own backlog together).",
      registers,
    });
    this.generatorReceiveBuffered = new Gauge({
      name: 'etcd_soak_generator_receive_buffered_bytes',
      help: "Bytes etcd already sent that wait unread in the generator's receive queues: its own backlog.",
      registers,
    });
    new Gauge({
      name: 'etcd_soak_escaped_errors',
      help: 'Errors that escaped every handler and were logged instead of ending the daemon, by source.',
      labelNames: ['source'],
      registers,
      collect() {
        for (const [source, n] of Object.entries(guardCounts())) this.set({ source }, n);
      },
    });
  }
}
