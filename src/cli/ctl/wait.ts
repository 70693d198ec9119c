// `etcd-soak ctl watch` (a live status line from GET /load) and `etcd-soak ctl wait` (block until a
// condition holds: the cluster healthy, the load stopped, a scenario done), so CI scripts need no sleeps.
import { formatStatusLine, type LoadStatus, type LoadSummary } from '../../loadgen/report.js';
import { durationToMs } from '../../util/duration.js';
import { EXIT } from '../../util/exit.js';
import {
  Api,
  ApiRefused,
  COMMON_HELP,
  CTL_EXIT_HELP,
  CtlUsage,
  parse,
  printJson,
  runCtl,
  Unreachable,
} from './client.js';

export const WATCH_HELP = `Usage: etcd-soak ctl watch [--interval D] [--count N]

A live status line of the load from GET /load, every interval, until Ctrl-C or the load stops (then the
thresholds' verdict). In a terminal the line is rewritten in place; piped, one line each.

Options:
  --interval D       between two polls (Go duration, default 2s)
  --count N          stop after N lines
${COMMON_HELP}

${CTL_EXIT_HELP}`;

export const WAIT_HELP = `Usage: etcd-soak ctl wait <healthy|load-stopped|scenario-done [ID]> [--timeout D]

Polls the daemon until the condition holds (exit 0) or the timeout passes (exit 1). A daemon that
cannot be reached yet is polled again (still unreachable at the timeout: exit 3).

  healthy          every member answers, and all agree on one leader (GET /cluster)
  load-stopped     no load is running (GET /load)
  scenario-done    the scenario ID (or every scenario) is done or aborted (GET /scenarios)

  etcd-soak ctl wait healthy --timeout 30s && etcd-soak ctl fault add s1-client delay --direction tx --latency 200ms

Options:
  --timeout D        give up after D (Go duration, default 60s)
  --interval D       between two polls (Go duration, default 500ms)
${COMMON_HELP}

${CTL_EXIT_HELP}`;

function durationFlag(name: string, raw: unknown, fallback: number): number {
  if (raw === undefined) return fallback;
  try {
    const ms = durationToMs(String(raw));
    if (ms <= 0) throw new Error('expected a duration > 0');
    return ms;
  } catch (err) {
    throw new CtlUsage(`--${name}: ${(err as Error).message}`);
  }
}

type LoadAnswer = LoadStatus | { state: 'idle'; last?: LoadSummary };

export function watchCommand(argv: string[]): Promise<number> {
  return runCtl('watch', WATCH_HELP, async () => {
    const { values, positionals } = parse(argv, { interval: { type: 'string' }, count: { type: 'string' } });
    if (values.help) {
      process.stdout.write(WATCH_HELP + '\n');
      return EXIT.ok;
    }
    if (positionals.length) throw new CtlUsage(`expected no argument, got ${positionals.join(' ')}`);
    const interval = durationFlag('interval', values.interval, 2000);
    const count = values.count === undefined ? Infinity : Number(values.count);
    if (!Number.isSafeInteger(count) && count !== Infinity) throw new CtlUsage('--count: expected a whole number');
    if (count < 1) throw new CtlUsage('--count: expected at least 1');
    const api = new Api(values);
    const tty = process.stdout.isTTY && !values.json;
    let stop = false;
    const onSignal = () => (stop = true);
    process.once('SIGINT', onSignal);
    try {
      for (let n = 0; n < count && !stop; n++) {
        if (n) await new Promise((r) => setTimeout(r, interval));
        const st = await api.ok<LoadAnswer>('GET', '/load');
        if (values.json) {
          process.stdout.write(JSON.stringify(st) + '\n');
        } else if (st.state === 'idle' || st.state === 'stopped') {
          const last = st.state === 'idle' ? st.last : st;
          process.stdout.write(
            `${tty ? '\n' : ''}load stopped${last ? ` (run ${last.runId}${last.thresholds?.length ? `, thresholds ${last.passed ? 'passed' : 'FAILED'}` : ''})` : ''}\n`,
          );
        } else {
          const line = `${formatStatusLine(st)}${st.thresholds?.length ? ` | thresholds ${st.passed ? 'pass' : 'FAIL'}` : ''}`;
          process.stdout.write(tty ? `\r\x1b[K${line}` : line + '\n');
        }
        if (st.state === 'idle' || st.state === 'stopped') return EXIT.ok;
      }
      if (tty) process.stdout.write('\n');
      return EXIT.ok;
    } finally {
      process.off('SIGINT', onSignal);
    }
  });
}

interface ClusterMember {
  name: string;
  ok?: boolean;
  leader?: string;
  state?: string;
  error?: string;
}

/** Whether the condition holds now, and why not. */
async function check(api: Api, what: string, id: string | undefined): Promise<{ holds: boolean; why: string }> {
  if (what === 'healthy') {
    const members = await api.ok<ClusterMember[]>('GET', '/cluster');
    const down = members.filter((m) => !m.ok);
    if (!members.length) return { holds: false, why: 'no members' };
    if (down.length) return { holds: false, why: `not answering: ${down.map((m) => m.name).join(', ')}` };
    const leaders = new Set(members.map((m) => m.leader));
    if (leaders.size !== 1 || [...leaders][0] === undefined || [...leaders][0] === '0')
      return { holds: false, why: 'no agreed leader' };
    return { holds: true, why: `${members.length} members up, one leader` };
  }
  if (what === 'load-stopped') {
    const st = await api.ok<LoadAnswer>('GET', '/load');
    const stopped = st.state === 'idle' || st.state === 'stopped';
    return { holds: stopped, why: stopped ? 'no load running' : `load ${st.runId} ${st.state}` };
  }
  const runs = id
    ? [await api.ok<{ id: string; state: string }>('GET', `/scenarios/${encodeURIComponent(id)}`)]
    : await api.ok<{ id: string; state: string }[]>('GET', '/scenarios');
  const running = runs.filter((r) => r.state === 'running');
  return running.length
    ? { holds: false, why: `running: ${running.map((r) => r.id).join(', ')}` }
    : { holds: true, why: runs.length ? runs.map((r) => `${r.id} ${r.state}`).join(', ') : 'no scenario' };
}

export function waitCommand(argv: string[]): Promise<number> {
  return runCtl('wait', WAIT_HELP, async () => {
    const { values, positionals } = parse(argv, { timeout: { type: 'string' }, interval: { type: 'string' } });
    if (values.help) {
      process.stdout.write(WAIT_HELP + '\n');
      return EXIT.ok;
    }
    const [what, id, extra] = positionals;
    if (what === undefined) throw new CtlUsage('expected a condition: healthy, load-stopped or scenario-done');
    if (!['healthy', 'load-stopped', 'scenario-done'].includes(what))
      throw new CtlUsage(`unknown condition ${JSON.stringify(what)} (expected healthy, load-stopped or scenario-done)`);
    if (extra !== undefined || (id !== undefined && what !== 'scenario-done'))
      throw new CtlUsage(`${what}: unexpected argument ${JSON.stringify(extra ?? id)}`);
    const timeout = durationFlag('timeout', values.timeout, 60_000);
    const interval = durationFlag('interval', values.interval, 500);
    const api = new Api(values);
    const deadline = Date.now() + timeout;
    let last: { holds: boolean; why: string } | undefined;
    let unreachable: Unreachable | undefined;
    for (;;) {
      try {
        last = await check(api, what, id);
        unreachable = undefined;
      } catch (err) {
        // not up yet: poll again; a refusal (a 404 scenario id, a bad token) will not change
        if (!(err instanceof Unreachable) || err instanceof ApiRefused) throw err;
        unreachable = err;
      }
      if (last?.holds && !unreachable) {
        if (values.json) printJson({ condition: what, holds: true, detail: last.why });
        else process.stdout.write(`${what}: ${last.why}\n`);
        return EXIT.ok;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(interval, left)));
    }
    if (unreachable && !last) throw unreachable;
    const why = unreachable ? unreachable.message : (last?.why ?? 'not yet');
    if (values.json) printJson({ condition: what, holds: false, detail: why });
    process.stderr.write(`etcd-soak ctl wait: ${what} did not hold within ${values.timeout ?? '60s'}: ${why}\n`);
    return EXIT.violations;
  });
}
