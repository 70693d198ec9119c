// The kv workload's history on disk, so a run can be re-checked offline (`etcd-soak check DIR`):
// reports/<run>/history.jsonl, a header line, then one LinOp per line in return order and a settle line
// `{"settle":id,"rev":n|null}` when an indeterminate write's fate is learnt. Bounded: at `maxFileBytes`
// the next file begins (history.1.jsonl, history.2.jsonl, …); after `maxFiles` files nothing more is
// written and the summary says where the history was cut. Buffered and written synchronously in
// chunks, so the hot path does not wait on the disk.
import fs from 'node:fs';
import path from 'node:path';
import type { Observer, OpEvent } from '../events.js';
import type { LoadSummary } from '../report.js';

export const HISTORY_MAX_FILE_BYTES = 64 << 20;
export const HISTORY_MAX_FILES = 8;
/** a buffer is written once it holds this much (and at the end) */
const CHUNK = 256 << 10;

export interface HistoryFileInfo {
  files: string[];
  bytes: number;
  lines: number;
  maxFileBytes: number;
  maxFiles: number;
  /** ops and settle lines not written because the last file was full (0: the history is whole) */
  dropped: number;
  /** the id of the first operation not written (the history is a prefix up to it) */
  cutAtOp?: number;
  error?: string;
}

export const historyFileName = (i: number) => (i === 0 ? 'history.jsonl' : `history.${i}.jsonl`);

export class KvHistoryWriter implements Observer {
  readonly name = 'kv-history';
  private fd: number | undefined;
  private file = 0;
  private fileBytes = 0;
  private buf: string[] = [];
  private bufBytes = 0;
  private readonly info: HistoryFileInfo;
  private meta: Record<string, unknown> = {};

  constructor(
    private readonly dir: string,
    opts: { maxFileBytes?: number; maxFiles?: number } = {},
  ) {
    this.info = {
      files: [],
      bytes: 0,
      lines: 0,
      maxFileBytes: opts.maxFileBytes ?? HISTORY_MAX_FILE_BYTES,
      maxFiles: opts.maxFiles ?? HISTORY_MAX_FILES,
      dropped: 0,
    };
  }

  onStart(meta: Record<string, unknown>): void {
    const p = meta.profile as { settle?: number; putTimeout?: number; workloads?: string[] } | undefined;
    this.meta = { runId: meta.runId, settle: p?.settle, putTimeout: p?.putTimeout };
  }

  onOp(e: OpEvent): void {
    if (e.workload !== 'kv') return;
    if (e.lin) this.line(JSON.stringify(e.lin), e.lin.id);
    else if (e.type === 'settled') this.line(`{"settle":${e.seq},"rev":${e.applied ? e.revision : null}}`, e.seq);
  }

  private line(s: string, id: number): void {
    if (this.info.error) return;
    const n = Buffer.byteLength(s) + 1;
    if (this.fd === undefined || this.fileBytes + n > this.info.maxFileBytes) {
      if (this.fd !== undefined && this.file + 1 >= this.info.maxFiles) {
        this.info.cutAtOp ??= id;
        this.info.dropped++;
        return;
      }
      this.next();
      if (this.info.error) return;
    }
    this.buf.push(s);
    this.bufBytes += n;
    this.fileBytes += n;
    this.info.bytes += n;
    this.info.lines++;
    if (this.bufBytes >= CHUNK) this.flush();
  }

  /** Begins the next file (the first one with a header line naming the run and its window). */
  private next(): void {
    try {
      if (this.fd !== undefined) {
        this.flush();
        fs.closeSync(this.fd);
        this.file++;
      } else fs.mkdirSync(this.dir, { recursive: true });
      const name = historyFileName(this.file);
      this.fd = fs.openSync(path.join(this.dir, name), 'w');
      this.info.files.push(name);
      this.fileBytes = 0;
      const header = JSON.stringify({ history: 'kv', file: this.file, ...this.meta });
      this.buf.push(header);
      this.fileBytes += header.length + 1;
      this.info.bytes += header.length + 1;
    } catch (err) {
      // a full disk must not stop the load; the summary says the history is missing
      this.info.error = (err as Error).message;
    }
  }

  private flush(): void {
    if (this.fd === undefined || !this.buf.length) return;
    try {
      fs.writeSync(this.fd, this.buf.join('\n') + '\n');
    } catch (err) {
      this.info.error = (err as Error).message;
    }
    this.buf = [];
    this.bufBytes = 0;
  }

  onDone(summary: LoadSummary): void {
    this.flush();
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    if (summary.kv) summary.kv.history = { ...this.info };
  }
}
