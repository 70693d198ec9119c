// `etcd-soak report DIR`: (re)renders a run's report.html from its files (run.json, timeline.jsonl,
// series.jsonl, summary.json), also for a run that crashed before writing its summary.
import { parseArgs } from 'node:util';
import { renderRunReport } from '../report/run-files.js';
import { Invalid } from '../util/errors.js';
import { EXIT } from '../util/exit.js';

export const REPORT_HELP = `Usage: etcd-soak report DIR

(Re)renders DIR/report.html, one self-contained page (no network), from a load run's report folder
(reports/<runId>/: run.json, timeline.jsonl, series.jsonl, and summary.json when the run finished):
latency and rate charts with the fault windows shaded, leader changes and violations marked, and the
table of what each window cost. A run without summary.json (crashed, or still running) is rendered
from its timeline and series. summary.json is not changed.

Options:
  -h, --help  this text

Exit status: 0 written, 2 bad usage or DIR is not a run's report folder, 3 the page cannot be written.`;

export function reportCommand(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
  } catch (err) {
    process.stderr.write(`etcd-soak report: ${(err as Error).message}\n\n${REPORT_HELP}\n`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    process.stdout.write(REPORT_HELP + '\n');
    return EXIT.ok;
  }
  if (parsed.positionals.length !== 1) {
    process.stderr.write(`etcd-soak report: expected one run folder (DIR)\n\n${REPORT_HELP}\n`);
    return EXIT.usage;
  }
  try {
    const r = renderRunReport(parsed.positionals[0]);
    process.stdout.write(
      `${r.file}: ${r.windows} fault window(s)${r.finished ? '' : '; no summary.json: the run did not finish'}\n`,
    );
    return EXIT.ok;
  } catch (err) {
    process.stderr.write(`etcd-soak report: ${(err as Error).message}\n`);
    return err instanceof Invalid ? EXIT.usage : EXIT.environment;
  }
}
