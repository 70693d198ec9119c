// A launched cluster for one test file: stopped at teardown, and then every member process it ever
// started (restarts included) that is still alive is SIGKILLed by pid, also when the test failed.
import { startCluster, type Cluster, type ClusterOptions } from '../../src/cluster/launch.js';
import { processAlive, processCmdline } from '../../src/util/proc.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function launchForTest(t: Teardown, opts: ClusterOptions = {}): Promise<Cluster> {
  const cluster = await startCluster(opts);
  const pids = new Set<number>();
  for (const m of cluster.members) {
    if (m.pid) pids.add(m.pid);
    m.on('spawn', (pid: number) => pids.add(pid));
  }
  t.teardown(async () => {
    await cluster.stop().catch(() => undefined);
    for (const pid of pids) {
      // only a process that still is one of these members (its command line names the cluster's dir)
      if (!processAlive(pid) || !processCmdline(pid).includes(cluster.baseDir)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  });
  return cluster;
}
