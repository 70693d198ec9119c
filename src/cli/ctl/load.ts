// `etcd-soak ctl load`: status (the default), start (a profile file and/or the profile flags of
// `etcd-soak load`), rate N, stop (→ the summary table; exit 1 when a threshold failed or a guarantee was
// violated, as `etcd-soak load` would).
import fs from 'node:fs';
import { parseYamlText } from '../../config/schema.js';
import { formatStatusLine, formatSummaryTable, type LoadStatus, type LoadSummary } from '../../loadgen/report.js';
import { formatThresholdRows } from '../../loadgen/thresholds.js';
import { violationTotal } from '../../loadgen/verdict.js';
import { EXIT } from '../../util/exit.js';
import { PROFILE_FLAGS, profileFromFlags } from '../load.js';
import { Api, COMMON_HELP, CTL_EXIT_HELP, CtlUsage, parse, printJson, runCtl } from './client.js';

export const LOAD_CTL_HELP = `Usage: etcd-soak ctl load [status|start|rate N|stop] [options]

  etcd-soak ctl load                         the running load's status line and thresholds (or the last summary)
  etcd-soak ctl load start --profile p.yaml --rate 300 --threshold "put.p99 < 50ms"
  etcd-soak ctl load rate 500                the put rate, live
  etcd-soak ctl load stop                    stops it and prints the summary table

Options:
  --profile FILE       start: a load profile (YAML/JSON, the fields of the config's "load"); flags override
  --endpoints LIST     start: etcd client endpoints (default: the daemon's)
  --replace            start: stop a running load first
  Every profile flag of "etcd-soak load" (--rate, --watchers, --duration, --threshold EXPR ...) applies to start.
${COMMON_HELP}

${CTL_EXIT_HELP}`;

type Idle = { state: 'idle'; last?: LoadSummary };

/** The human form of GET /load. */
export function formatLoad(st: LoadStatus | Idle): string {
  if (st.state === 'idle') {
    if (!st.last) return 'no load has run\n';
    return `no load running; the last run:\n${formatSummaryTable(st.last)}\n`;
  }
  const head = `load ${st.runId} ${st.state}: target ${st.rates.target}/s, ${st.profile.watchers} watchers, ${st.endpoints.join(', ')}`;
  const passing = st.thresholds?.length ? `  thresholds ${st.passed ? 'pass' : 'FAIL'} so far` : '';
  return [head, formatStatusLine(st), ...(passing ? [passing, ...formatThresholdRows(st.thresholds).slice(1)] : [])]
    .map((l) => l + '\n')
    .join('');
}

/** 1 when the summary says the run failed: a violation or a threshold. */
export function summaryExit(s: LoadSummary): number {
  return violationTotal(s.violations) > 0 || s.passed === false ? EXIT.violations : EXIT.ok;
}

export function loadCtlCommand(argv: string[]): Promise<number> {
  return runCtl('load', LOAD_CTL_HELP, async () => {
    const { values, positionals } = parse(argv, {
      profile: { type: 'string' },
      endpoints: { type: 'string' },
      replace: { type: 'boolean' },
      ...Object.fromEntries(
        PROFILE_FLAGS.map((f) => [f.flag, { type: 'string' as const, multiple: f.repeated ?? false }]),
      ),
    });
    if (values.help) {
      process.stdout.write(LOAD_CTL_HELP + '\n');
      return EXIT.ok;
    }
    const [verb = 'status', arg, extra] = positionals;
    const api = new Api(values);
    const startOnly = ['profile', 'endpoints', 'replace', ...PROFILE_FLAGS.map((f) => f.flag)].filter(
      (f) => values[f] !== undefined,
    );
    if (verb !== 'start' && startOnly.length) throw new CtlUsage(`--${startOnly[0]}: only with start`);
    switch (verb) {
      case 'status': {
        if (arg !== undefined) throw new CtlUsage('status: expected no argument');
        const st = await api.ok<LoadStatus | Idle>('GET', '/load');
        if (values.json) printJson(st);
        else process.stdout.write(formatLoad(st));
        return EXIT.ok;
      }
      case 'start': {
        if (arg !== undefined) throw new CtlUsage('start: expected no argument (--profile FILE)');
        let profile: Record<string, unknown> = {};
        if (typeof values.profile === 'string') {
          try {
            profile = (parseYamlText(fs.readFileSync(values.profile, 'utf8'), values.profile) ?? {}) as Record<
              string,
              unknown
            >;
          } catch (err) {
            throw new CtlUsage(`--profile: ${(err as Error).message}`);
          }
          if (typeof profile !== 'object' || Array.isArray(profile))
            throw new CtlUsage(`${values.profile}: expected a mapping of profile fields`);
        }
        try {
          profile = { ...profile, ...profileFromFlags(values) };
        } catch (err) {
          throw new CtlUsage((err as Error).message);
        }
        const body = {
          profile,
          ...(typeof values.endpoints === 'string'
            ? { endpoints: values.endpoints.split(',').map((e) => e.trim()) }
            : {}),
          ...(values.replace ? { replace: true } : {}),
        };
        const st = await api.ok<LoadStatus>('PUT', '/load', body);
        if (values.json) printJson(st);
        else
          process.stdout.write(
            `started load ${st.runId}: ${st.rates.target} puts/s, ${st.profile.watchers} watchers\n`,
          );
        return EXIT.ok;
      }
      case 'rate': {
        const rate = Number(arg);
        if (arg === undefined || extra !== undefined || arg.trim() === '' || !Number.isFinite(rate))
          throw new CtlUsage(`rate: expected one number, got ${JSON.stringify(arg ?? '')}`);
        const st = await api.ok<LoadStatus>('PATCH', '/load', { rate });
        if (values.json) printJson(st);
        else process.stdout.write(`rate ${st.rates.target}/s\n`);
        return EXIT.ok;
      }
      case 'stop': {
        if (arg !== undefined) throw new CtlUsage('stop: expected no argument');
        const s = await api.ok<LoadSummary>('DELETE', '/load');
        if (values.json) printJson(s);
        else process.stdout.write(formatSummaryTable(s) + '\n');
        return summaryExit(s);
      }
    }
    throw new CtlUsage(`unknown action ${JSON.stringify(verb)}`, true);
  });
}
