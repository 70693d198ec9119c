// The workloads a load can run, by the name a profile's `workloads` gives. A new workload is a folder
// next to these (its Workload and its own events) plus one line here.
import { ConfigWorkload } from './config/index.js';
import { ElectionWorkload } from './election/index.js';
import { KvWorkload } from './kv/index.js';
import { LockWorkload } from './lock/index.js';
import { PutWorkload } from './put/index.js';
import { RegistryWorkload } from './registry/index.js';
import type { WorkloadFactory } from './types.js';
import { WatchWorkload } from './watch/index.js';

export const WORKLOADS: Readonly<Record<string, WorkloadFactory>> = {
  put: (ctx) => new PutWorkload(ctx),
  watch: (ctx) => new WatchWorkload(ctx),
  kv: (ctx) => new KvWorkload(ctx),
  config: (ctx) => new ConfigWorkload(ctx),
  election: (ctx) => new ElectionWorkload(ctx),
  registry: (ctx) => new RegistryWorkload(ctx),
  lock: (ctx) => new LockWorkload(ctx),
};

export type { Workload, WorkloadContext, WorkloadFactory, KeySpace, GeneratorFault } from './types.js';
export { PutWorkload } from './put/index.js';
export { ElectionWorkload } from './election/index.js';
export { KvWorkload, type KvLine, type KvStatus } from './kv/index.js';
export { ConfigWorkload } from './config/index.js';
export { LockWorkload } from './lock/index.js';
export { WatchWorkload, type Watcher, type WatcherStatus } from './watch/index.js';
export { RegistryWorkload } from './registry/index.js';
