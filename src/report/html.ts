// reports/<run>/report.html: one self-contained page (uPlot's script and style inlined from the
// installed package at render time; no network): the run's header, charts of the 1-s series with the
// fault windows shaded and the leader changes and violations marked, and the window table.
import type { TimelineMark } from '../loadgen/events.js';
import type { LoadSummary } from '../loadgen/report.js';
import {
  featureRow,
  type SpanFigures,
  type UnattributedViolations,
  type WindowFigures,
} from '../loadgen/window-figures.js';
import { formatSectionRows } from '../loadgen/workloads/section.js';
import { humanMs } from '../util/human.js';
import { uplotAssets } from './chart-script.js';
import { PAGE_SCRIPT } from './page-script.js';
import { secondLatency, type Second } from './series.js';

/** violation markers drawn on the charts at most (the counts stay exact in the table) */
const VIOLATION_MARKERS = 2000;

export interface PageInputs {
  runId: string;
  /** run.json */
  run: Record<string, unknown>;
  /** summary.json (absent for a run that crashed) */
  summary?: LoadSummary;
  seconds: readonly Second[];
  marks: readonly TimelineMark[];
  windows: readonly WindowFigures[];
  unattributed: UnattributedViolations;
}

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
/** JSON safe inside a <script> element */
const scriptJson = (x: unknown) => JSON.stringify(x).replace(/</g, '\\u003c');
const ms = (x: number | null | undefined) => (x === null || x === undefined ? '–' : x === 0 ? '0' : humanMs(x));
const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${x}%`);

/** the page's chart data: one entry per second */
function seriesData(seconds: readonly Second[]) {
  const out = {
    t: [] as number[],
    putP50: [] as (number | null)[],
    putP99: [] as (number | null)[],
    putP999: [] as (number | null)[],
    watchP99: [] as (number | null)[],
    puts: [] as number[],
    notOk: [] as number[],
    events: [] as number[],
  };
  for (const s of seconds) {
    const p = secondLatency(s, 'put');
    const w = secondLatency(s, 'watch');
    out.t.push(s.t);
    out.putP50.push(p.count ? p.p50 : null);
    out.putP99.push(p.count ? p.p99 : null);
    out.putP999.push(p.count ? p.p999 : null);
    out.watchP99.push(w.count ? w.p99 : null);
    out.puts.push(s.ok + s.failed + s.indeterminate);
    out.notOk.push(s.failed + s.indeterminate);
    out.events.push(s.events);
  }
  return out;
}

function span(f: SpanFigures | null): string {
  return f ? ms(f.put.p99) : '–';
}

function windowRows(windows: readonly WindowFigures[]): string {
  return windows
    .map((w) => {
      const leaders = `${esc(w.leaderAtStart ?? '?')} (${w.termAtStart ?? '?'}) → ${esc(w.leaderAtEnd ?? '?')} (${w.termAtEnd ?? '?'})`;
      const v = Object.entries(w.violations.byKind)
        .map(([k, n]) => `${esc(k)} ${n}`)
        .join(', ');
      const g = w.generator;
      const gen = [
        g.stalls && `${g.stalls} stalls`,
        g.streamBreaks && `${g.streamBreaks} stream breaks`,
        g.garbled && `${g.garbled} garbled`,
        g.overloadedIntervals && `${g.overloadedIntervals} overloaded`,
      ]
        .filter(Boolean)
        .join(', ');
      const ind = w.during.indeterminate;
      return `<tr class="window"><td>${esc(w.kind)}</td><td>${esc(w.target)}${w.step !== undefined ? `<br><small>${esc(w.scenario ?? '')} ${esc(w.step)}</small>` : ''}</td><td>${esc(w.start.slice(11, 23))}</td><td>${ms(w.durationMs)}${w.unended ? ' (unended)' : ''}</td><td>${leaders}</td><td>${w.leaderChanges}</td><td>${span(w.baseline)}</td><td>${span(w.during)}</td><td>${span(w.recovery)}</td><td>${ms(w.during.watch.p99)}</td><td>${pct(w.during.putSuccessPct)}</td><td>${ind.total} (${ind.applied}/${ind.notApplied})</td><td>${ms(w.firstOkPutMs)}</td><td>${w.recoverMs === null ? (w.baseline ? '&gt; cap' : '–') : ms(w.recoverMs)}</td><td class="${w.violations.total ? 'bad' : ''}">${w.violations.total}${v ? ` (${v})` : ''}</td><td>${gen || '–'}</td></tr>${Object.entries(
        w.features ?? {},
      )
        .map(
          ([name, f]) =>
            `\n<tr class="feature"><td></td><td colspan="15" style="text-align:left" class="${Object.values(f.violations).some((n) => n) ? 'bad' : ''}">${esc(name)}: ${esc(featureRow(f))}</td></tr>`,
        )
        .join('')}`;
    })
    .join('\n');
}

function header(p: PageInputs): string {
  const s = p.summary;
  if (!s)
    return `<p class="bad">No summary.json: the run did not finish (crashed or still running). Figures below are from its timeline and series.</p>`;
  const c = s.counts;
  const v = s.verdict;
  const features = (['registry', 'lock', 'election', 'config'] as const)
    .filter((k) => v[k])
    .map((k) => `, ${k} <b>${v[k]}</b>`)
    .join('');
  const verdict = `ordered <b>${v.ordered}</b>, unique <b>${v.unique}</b>, reliable <b>${v.reliable}</b>, unexpected events <b>${v.unexpected}</b>${features}`;
  return `<p>${esc(s.reason)} after ${s.elapsed}s against ${esc(s.endpoints.join(', '))} — ${verdict}</p>
<p>puts: ${c.ok} ok, ${c.failed} failed unsent, ${c.indeterminate} indeterminate (${c.applied} applied, ${c.notApplied} not applied), ${c.slips} schedule slips · watch: ${c.events} events, ${c.resumes} resumes · violations: ${Object.entries(
    s.violations,
  )
    .map(([k, n]) => `${esc(k)} ${n}`)
    .join(
      ', ',
    )} · generator: ${s.generator.stalls} stalls, ${s.generator.streamBreaks} stream breaks, ${s.generator.overloadedIntervals} overloaded intervals</p>`;
}

/** The feature workloads' sections (registry, lock, election, config), as the terminal table reads them. */
function featureSections(p: PageInputs): string {
  const f = p.summary?.features;
  if (!f || !Object.keys(f).length) return '';
  return `<h2>Feature workloads</h2>
<pre id="features">${esc(
    Object.entries(f)
      .flatMap(([name, sec]) => formatSectionRows(name, sec))
      .map((l) => l.replace(/^  /, ''))
      .join('\n'),
  )}</pre>`;
}

/** The page, as one string. */
export function renderReportHtml(p: PageInputs): string {
  const { js, css } = uplotAssets();
  const startMs = (w: WindowFigures) => Date.parse(w.start);
  const data = {
    runId: p.runId,
    series: seriesData(p.seconds),
    windows: p.windows.map((w) => ({ kind: w.kind, target: w.target, startMs: startMs(w), endMs: Date.parse(w.end) })),
    leaders: p.marks.flatMap((m) => (m.mark === 'leader' ? [{ at: m.at, leader: m.leader, term: m.term }] : [])),
    violations: p.marks
      .flatMap((m) => (m.mark === 'violation' ? [{ at: m.at, kind: m.kind }] : []))
      .slice(0, VIOLATION_MARKERS),
  };
  const u = p.unattributed;
  const started = typeof p.run.startedAt === 'string' ? p.run.startedAt : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>etcd-soak run ${esc(p.runId)}</title>
<style>${css}</style>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px;margin:0 0 6px} h2{font-size:16px;margin:22px 0 6px}
table{border-collapse:collapse;font-size:12.5px} td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
td:nth-child(-n+3),th{text-align:left} th{background:#f3f3f3} .bad{color:#b22;font-weight:600}
.chart{margin:8px 0 14px}
</style></head>
<body>
<h1>etcd-soak run ${esc(p.runId)}</h1>
<p>started ${esc(started)}${p.summary ? ` · ended ${esc(p.summary.endedAt)}` : ''}</p>
${header(p)}
<div id="latency" class="chart"></div>
<div id="rates" class="chart"></div>
<h2>Fault windows (${p.windows.length})</h2>
<p>p99 of puts before (baseline: up to 30 s with no other window), during, and after (until back within 1.5× the baseline); success and indeterminate puts during the window; violations while it was active or within settle after it.</p>
<table id="windows"><thead><tr><th>kind</th><th>target</th><th>start (UTC)</th><th>duration</th><th>leader (term) start → end</th><th>leader changes</th><th>put p99 before</th><th>during</th><th>after</th><th>watch p99 during</th><th>puts ok</th><th>indeterminate (applied/not)</th><th>first ok put</th><th>recovered after</th><th>violations</th><th>generator (not etcd's)</th></tr></thead>
<tbody>
${windowRows(p.windows)}
</tbody></table>
<p class="${u.total ? 'bad' : ''}">Violations outside every window: ${u.total}${
    u.total
      ? ` (${Object.entries(u.byKind)
          .map(([k, n]) => `${esc(k)} ${n}`)
          .join(', ')})`
      : ''
  }</p>
${featureSections(p)}
<script id="run-data" type="application/json">${scriptJson(data)}</script>
<script>${js}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
