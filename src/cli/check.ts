// `etcd-soak check DIR`: re-checks a run's kv history (reports/<runId>/history*.jsonl) offline with the
// streaming linearizability checker the run used live, optionally with the general search too, and
// prints the verdict as the summary does: counts, findings by kind, the first of them.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { checkHistoryDir } from '../loadgen/lin/history-file.js';
import { formatKvRows } from '../loadgen/workloads/kv/summary.js';
import { EXIT } from '../util/exit.js';

export const CHECK_HELP = `Usage: etcd-soak check DIR [--search] [--json]

Re-checks the kv workload's history of a load run (DIR = reports/<runId>/, its history.jsonl and
rotated history.N.jsonl) offline: every read must return the latest write to its key at or below its
header revision, in real-time order, with CAS and delete results that agree with the key's state. The
same checker the run used live; the verdict is printed like the summary's.

Options:
  --search    also run the general linearizability search (Wing–Gong) over the whole history;
              for histories up to 20000 operations (it is exponential in the worst case)
  --json      print the verdict as JSON
  -h, --help  this text

Exit status: 0 no finding, 1 findings, 2 bad usage or DIR is not a run with a kv history.`;

export async function checkCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        search: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    process.stderr.write(`etcd-soak check: ${(err as Error).message}\n\n${CHECK_HELP}\n`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    process.stdout.write(CHECK_HELP + '\n');
    return EXIT.ok;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`etcd-soak check: expected one run folder (DIR)\n\n${CHECK_HELP}\n`);
    return EXIT.usage;
  }
  const dir = parsed.positionals[0];
  if (!fs.existsSync(path.join(dir, 'run.json')) && !fs.existsSync(path.join(dir, 'history.jsonl'))) {
    process.stderr.write(`etcd-soak check: ${dir} is not a load run's report folder\n`);
    return EXIT.usage;
  }
  const r = await checkHistoryDir(dir, { search: !!parsed.values.search });
  if (!r) {
    process.stderr.write(`etcd-soak check: ${dir} has no kv history (history.jsonl): the run had no kv workload\n`);
    return EXIT.usage;
  }
  const { counts, findings } = r.verdict;
  const total = Object.values(counts.findings).reduce((a, b) => a + b, 0);
  const searchFailed = !!r.search && 'linearizable' in r.search && r.search.linearizable === false;
  const { findings: live, cut } = fromSummary(dir);
  if (parsed.values.json) {
    process.stdout.write(JSON.stringify({ ...r, verdict: { counts, findings: findings.slice(0, 100) }, live }) + '\n');
  } else {
    const verdict = total > 0 ? 'violated' : counts.unsettled > 0 ? 'unverified' : 'held';
    const lines = [
      `history of run ${String(r.meta.runId ?? '?')}: ${r.files.map((f) => path.basename(f)).join(', ')} (${r.lines} lines${r.bad ? `, ${r.bad} unreadable` : ''})`,
      ...formatKvRows({ checked: counts, findings: total, first: findings }, verdict),
    ];
    if (r.search) {
      if ('skipped' in r.search) lines.push(`  search: skipped (${r.search.skipped})`);
      else
        lines.push(
          `  search: ${r.search.linearizable === true ? 'linearizable' : r.search.linearizable === false ? `not linearizable (key ${r.search.key})` : 'unknown (gave up)'}, ${r.search.steps} steps`,
        );
    }
    if (cut !== undefined)
      lines.push(
        `  the run cut its history at operation #${cut} (its file bound): a prefix was checked; operations around the cut may be judged without their peers`,
      );
    if (live !== undefined)
      lines.push(`  the run's own verdict (summary.json): ${live} finding(s)${live === total ? ', the same' : ''}`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  return total > 0 || searchFailed ? EXIT.violations : EXIT.ok;
}

/** What the run's summary says: the findings it counted live, where it cut the history (none without one). */
function fromSummary(dir: string): { findings?: number; cut?: number } {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as {
      kv?: { findings?: number; history?: { cutAtOp?: number } };
    };
    return { findings: s.kv?.findings, cut: s.kv?.history?.cutAtOp };
  } catch {
    return {};
  }
}
