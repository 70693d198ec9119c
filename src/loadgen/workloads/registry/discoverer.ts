// A discoverer: the view of the registered services a client keeps from its own watch of the prefix
// (key → mod revision and incarnation), resumed from its last revision + 1 on the next connection after
// the stream breaks. Each DELETE is told on with the incarnation it ended (from the event's prev_kv, else
// from the view).
import type { Clock } from '../../../util/clock.js';
import type { ClientPool } from '../../pool.js';
import type { WatchStream } from '../../wire/client.js';
import { prefixEnd, type WatchEvent } from '../../wire/proto.js';

/** pause before a broken watch resumes */
const RESUME_MS = 500;

export interface DiscovererEnv {
  readonly pool: ClientPool;
  readonly clock: Clock;
  /** `<base>services/` */
  readonly prefix: string;
  onDelete(key: string, incarnation: number, revision: number, at: number): void;
  /** false once the run stops: a broken watch stays broken */
  resuming(): boolean;
  error(message: string): void;
}

export interface ViewEntry {
  modRev: number;
  incarnation: number;
}

/** the incarnation a service's value names (0: none) */
export const incarnationOf = (value: Uint8Array | undefined): number => {
  if (!value?.length) return 0;
  try {
    const n = (JSON.parse(Buffer.from(value).toString('utf8')) as { incarnation?: unknown }).incarnation;
    return typeof n === 'number' ? n : 0;
  } catch {
    return 0;
  }
};

export class Discoverer {
  readonly view = new Map<string, ViewEntry>();
  /** the revision of the last event applied (0: none yet) */
  lastRev = 0;
  /** the last revision a view check found equal to etcd's */
  checkedRev = 0;
  resumes = 0;
  private next = 0;
  private stream: WatchStream | undefined;
  private stopped = false;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly idx: number,
    /** its connection (index in the pool) */
    public conn: number,
    private readonly env: DiscovererEnv,
  ) {}

  /** Watches from `fromRev` (the run's start: the prefix is empty before it). */
  start(fromRev: number): void {
    this.next = fromRev;
    this.open();
  }

  /** a copy of the view's key → mod revision, as of lastRev */
  snapshot(): Map<string, number> {
    return new Map([...this.view].map(([k, v]) => [k, v.modRev]));
  }

  private open(): void {
    if (this.stopped) return;
    const { env } = this;
    const ws = env.pool.connections[this.conn].client.watchStream();
    this.stream = ws;
    ws.on('events', (_id: number, events: WatchEvent[]) => {
      if (this.stream === ws) this.apply(events);
    });
    ws.on('canceled', (_id: number, reason: string) => this.broken(ws, `watch canceled: ${reason}`));
    ws.on('error', (err: Error) => this.broken(ws, err.message));
    ws.watch({
      key: env.prefix,
      rangeEnd: prefixEnd(env.prefix),
      startRevision: this.next,
      prevKv: true,
    }).catch((err: Error) => this.broken(ws, err.message));
  }

  private apply(events: WatchEvent[]): void {
    const at = this.env.clock.now();
    for (const e of events) {
      const rev = e.kv.modRevision;
      // a resumed watch may repeat what was applied
      if (rev <= this.lastRev && this.lastRev > 0) continue;
      const key = Buffer.from(e.kv.key).toString('latin1');
      if (e.type === 'put') this.view.set(key, { modRev: rev, incarnation: incarnationOf(e.kv.value) });
      else {
        const inc = incarnationOf(e.prevKv?.value) || this.view.get(key)?.incarnation || 0;
        this.view.delete(key);
        this.env.onDelete(key, inc, rev, at);
      }
      this.lastRev = rev;
      this.next = rev + 1;
    }
  }

  private broken(ws: WatchStream, why: string): void {
    if (ws !== this.stream || this.stopped) return;
    this.stream = undefined;
    ws.close();
    if (!this.env.resuming()) return;
    const conns = this.env.pool.connections;
    this.env.error(`registry discoverer ${this.idx} on ${conns[this.conn].endpoint}: ${why}; resuming`);
    this.conn = (this.conn + 1) % conns.length;
    this.resumes++;
    this.resumeTimer = setTimeout(() => this.open(), RESUME_MS);
  }

  close(): void {
    this.stopped = true;
    clearTimeout(this.resumeTimer);
    this.stream?.close();
    this.stream = undefined;
  }
}
