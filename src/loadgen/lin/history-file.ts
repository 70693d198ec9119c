// Re-checks a run's kv history from its files (history.jsonl, history.1.jsonl, …, as the run wrote
// them): every operation in return order and every settle line, fed to the streaming checker as the run
// fed it live; optionally the general search over the whole history too (small histories only).
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { LinChecker } from './checker.js';
import type { LinOp, LinVerdict } from './history.js';
import { checkLinearizable, type SearchResult } from './search.js';

export const historyFiles = (dir: string): string[] => {
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const f = path.join(dir, i === 0 ? 'history.jsonl' : `history.${i}.jsonl`);
    if (!fs.existsSync(f)) return out;
    out.push(f);
  }
};

export interface OfflineCheck {
  verdict: LinVerdict;
  /** the history's header: run id, settle window */
  meta: Record<string, unknown>;
  files: string[];
  lines: number;
  /** lines that were not JSON of an operation or a settle (a torn last line after a crash) */
  bad: number;
  /** the search's answer, when asked for */
  search?: SearchResult | { skipped: string };
}

export interface OfflineOptions {
  /** also run the general search (up to `searchLimit` operations) */
  search?: boolean;
  searchLimit?: number;
  maxFindings?: number;
}

export async function checkHistoryDir(dir: string, opts: OfflineOptions = {}): Promise<OfflineCheck | undefined> {
  const files = historyFiles(dir);
  if (!files.length) return undefined;
  let checker: LinChecker | undefined;
  let meta: Record<string, unknown> = {};
  let lines = 0;
  let bad = 0;
  const limit = opts.searchLimit ?? 20_000;
  let kept: LinOp[] | undefined = opts.search ? [] : undefined;
  const notApplied = new Set<number>();
  const make = () =>
    (checker ??= new LinChecker({
      settle: typeof meta.settle === 'number' ? Math.max(meta.settle, Number(meta.putTimeout ?? 0) + 1000) : 6000,
      maxFindings: opts.maxFindings ?? 10_000,
    }));
  for (const file of files) {
    const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line) continue;
      lines++;
      let x: Record<string, unknown>;
      try {
        x = JSON.parse(line) as Record<string, unknown>;
      } catch {
        bad++;
        continue;
      }
      if (typeof x.history === 'string') {
        if (!checker) meta = x;
      } else if (typeof x.settle === 'number') {
        const rev = typeof x.rev === 'number' ? x.rev : null;
        make().settle(x.settle, rev);
        if (rev === null) notApplied.add(x.settle);
      } else if (typeof x.id === 'number' && typeof x.type === 'string' && typeof x.key === 'string') {
        const op = x as unknown as LinOp;
        make().add(op);
        if (kept && kept.push(op) > limit) kept = undefined;
      } else bad++;
    }
  }
  const verdict = make().finish();
  const out: OfflineCheck = { verdict, meta, files, lines, bad };
  if (opts.search)
    out.search = kept
      ? checkLinearizable(kept, undefined, { notApplied })
      : { skipped: `more than ${limit} operations: the search is for small histories` };
  return out;
}
