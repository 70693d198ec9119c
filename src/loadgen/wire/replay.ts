// Reading etcd's history of a prefix up to a known revision on a fresh watch stream: the end-of-run
// replays (the put/watch run's record, the kv workload's settle) use this one loop. The stream is
// closed however it ends: the target reached, a timeout, a cancel (a compaction), or an error.
import type { EtcdWireClient, WatchEvent, WatchStream } from './client.js';
import { prefixEnd } from './proto.js';

export interface ReplayOptions {
  prefix: string;
  startRevision: number;
  /** one response's events; true once the target revision has been read */
  onEvents(events: WatchEvent[]): boolean;
  timeoutMs: number;
  /** the error a timeout rejects with */
  timeoutError(): Error;
  /** the error a cancel rejects with (compactRev > 0: the history before it is gone) */
  canceledError(compactRev: number): Error;
}

export function replayPrefix(stream: WatchStream, o: ReplayOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.close();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(o.timeoutError()), o.timeoutMs);
    stream.on('events', (_id: number, events: WatchEvent[]) => {
      if (o.onEvents(events)) finish();
    });
    stream.on('canceled', (_id: number, _reason: string, compactRev: number) => finish(o.canceledError(compactRev)));
    stream.on('error', (err: Error) => finish(err));
    stream
      .watch({ key: o.prefix, rangeEnd: prefixEnd(o.prefix), startRevision: o.startRevision })
      .catch((err: Error) => finish(err));
  });
}

/**
 * The end of a prefix's record: a sentinel put under it, then its history read up to the sentinel's
 * revision (`readTo`, from where the live watcher got to), on the first connection that can do both.
 */
export async function readToSentinel(
  connections: readonly { endpoint: string; client: EtcdWireClient }[],
  sentinel: string,
  lastRev: () => number,
  readTo: (stream: WatchStream, target: number) => Promise<void>,
): Promise<{ complete: boolean; error?: string }> {
  const errors: string[] = [];
  for (const c of connections) {
    try {
      const { revision: target } = await c.client.put(sentinel, Buffer.from('end'), { timeoutMs: 5000 });
      if (lastRev() < target) await readTo(c.client.watchStream(), target);
      return { complete: true };
    } catch (err) {
      errors.push(`${c.endpoint}: ${(err as Error).message}`);
    }
  }
  return { complete: false, error: errors.join('; ') };
}
