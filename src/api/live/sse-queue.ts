// One live page's Server-Sent Events, queued between the daemon (which pushes as things happen) and the
// socket (which takes them as fast as the browser reads). The queue is bounded in events and bytes: a
// slow or paused tab can never grow the daemon's memory. On overflow everything queued is dropped and
// the next thing the client reads is a `resync` event (it fetches GET /live again); events pushed after
// the overflow queue up behind it as usual.

export interface SseLimits {
  /** events queued at most */
  maxEvents: number;
  /** bytes queued at most (the events as written on the wire) */
  maxBytes: number;
}

export const DEFAULT_SSE_LIMITS: SseLimits = { maxEvents: 1000, maxBytes: 512 * 1024 };

/** One event as written on the wire: `event: <name>` and one `data:` line of JSON. */
export function sseChunk(event: string, data: unknown): string {
  // JSON.stringify escapes newlines inside strings, so the data is one line
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class SseQueue {
  private chunks: string[] = [];
  private head = 0;
  private bytes = 0;
  /** events dropped since the client last read a resync */
  private dropped = 0;
  private behind = false;
  private waiter: ((chunk: string | undefined) => void) | undefined;
  private closed = false;
  /** events dropped over the queue's life */
  droppedTotal = 0;

  constructor(private readonly limits: SseLimits = DEFAULT_SSE_LIMITS) {}

  get pendingEvents(): number {
    return this.chunks.length - this.head;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  /** Queues an event (or hands it to a waiting reader); drops the queue and owes a resync when full. */
  push(event: string, data: unknown): void {
    this.pushChunk(sseChunk(event, data));
  }

  /** A comment line: keeps idle connections open through proxies and finds closed ones. */
  ping(): void {
    this.pushChunk(': ping\n\n');
  }

  private pushChunk(chunk: string): void {
    if (this.closed) return;
    if (this.waiter && !this.behind) {
      const w = this.waiter;
      this.waiter = undefined;
      return w(chunk);
    }
    const n = this.pendingEvents;
    if (n + 1 > this.limits.maxEvents || this.bytes + chunk.length > this.limits.maxBytes) {
      this.dropped += n + 1;
      this.droppedTotal += n + 1;
      this.chunks = [];
      this.head = 0;
      this.bytes = 0;
      this.behind = true;
      return;
    }
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** The next chunk to write, waiting for one; undefined once closed. */
  next(): Promise<string | undefined> {
    if (this.behind) {
      this.behind = false;
      const dropped = this.dropped;
      this.dropped = 0;
      return Promise.resolve(sseChunk('resync', { dropped }));
    }
    if (this.head < this.chunks.length) {
      const chunk = this.chunks[this.head++];
      this.bytes -= chunk.length;
      // compact now and then so the taken head does not keep the array long
      if (this.head > 64 && this.head * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve(chunk);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  close(): void {
    this.closed = true;
    this.chunks = [];
    this.head = 0;
    this.bytes = 0;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
  }
}
