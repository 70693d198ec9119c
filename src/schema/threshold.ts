// Pass/fail thresholds of a load run, k6-style: "put.p99 < 50ms", "violations == 0",
// "availability > 99.5%". One small grammar, parsed here (the profile schema rejects a bad one, naming
// thresholds[i] and what was expected); evaluated against a status or summary in loadgen/thresholds.ts.
//
//   threshold := metric op value
//   op        := "<" | "<=" | ">" | ">=" | "==" | "!="
//   value     := number [unit]     a duration metric: ms (the default), s, m; a percentage: % (optional);
//                                  a count: no unit; a rate: no unit or "/s"
//   metric    := see METRICS below; "window.<m>" applies <m> to every fault window's `during` figures

/** how a metric's value is written and held */
export type MetricUnit = 'duration' | 'percent' | 'count' | 'rate';

const PCTS = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const;

/** The violation kinds a threshold can name (schema sits below the load generator that defines them). */
export const THRESHOLD_VIOLATION_KINDS = [
  'ordered',
  'unique',
  'reliable',
  'unexpected',
  'atomic',
  'bookmarkable',
  'resumable',
  'created',
  'hashkv',
  'linearizability',
  'registry',
  'lock',
  'election',
  'config',
] as const;

/** The run-wide metrics a threshold can name, with their unit and meaning. */
export const METRICS: Readonly<Record<string, { unit: MetricUnit; help: string }>> = {
  ...Object.fromEntries(
    (['put', 'watch', 'putError', 'putSend'] as const).flatMap((h) =>
      PCTS.map((p) => [`${h}.${p}`, { unit: 'duration' as const, help: `${p} of the ${h} latency` }]),
    ),
  ),
  availability: { unit: 'percent', help: 'ok puts / puts due (ok + failed + indeterminate), %' },
  violations: { unit: 'count', help: "violations of etcd's watch guarantees, every kind" },
  // one per violation kind (the loadgen's VIOLATION_KINDS; a test keeps the two lists equal)
  ...Object.fromEntries(
    THRESHOLD_VIOLATION_KINDS.map((k) => [`violations.${k}`, { unit: 'count' as const, help: `${k} violations` }]),
  ),
  'puts.ok': { unit: 'count', help: 'puts answered ok' },
  'puts.failed': { unit: 'count', help: 'puts that failed unsent' },
  indeterminate: { unit: 'count', help: 'puts whose outcome was not known in time' },
  slips: { unit: 'count', help: 'puts due beyond maxInFlight' },
  events: { unit: 'count', help: 'watch events checked' },
  late: { unit: 'count', help: 'events delivered more than settle after their put' },
  'puts.rate': { unit: 'rate', help: 'average puts per second' },
  'events.rate': { unit: 'rate', help: 'average events per second' },
  'generator.overloadedIntervals': { unit: 'count', help: 'intervals the generator could not keep up' },
  'generator.stalls': { unit: 'count', help: 'watch streams reset after a stall' },
  'generator.streamBreaks': { unit: 'count', help: 'watch streams that broke and were resumed' },
  'generator.garbled': { unit: 'count', help: 'events re-read because a fault may have garbled them' },
};

/** The per-window metrics ("window." + name): the worst window decides. */
export const WINDOW_METRICS: Readonly<Record<string, { unit: MetricUnit; help: string }>> = {
  'put.p50': { unit: 'duration', help: 'put p50 during the window' },
  'put.p99': { unit: 'duration', help: 'put p99 during the window' },
  'put.p999': { unit: 'duration', help: 'put p99.9 during the window' },
  'watch.p99': { unit: 'duration', help: 'watch p99 during the window' },
  availability: { unit: 'percent', help: 'ok puts / puts due during the window, %' },
  violations: { unit: 'count', help: 'violations while it was active (or within settle after)' },
  indeterminate: { unit: 'count', help: 'indeterminate puts during the window' },
  slips: { unit: 'count', help: 'slips during the window' },
  firstOkPut: { unit: 'duration', help: 'from its start to the first ok put (none: infinite)' },
  recover: { unit: 'duration', help: 'from its end until put p99 is back near the baseline (never: infinite)' },
};

export const OPS = ['<=', '>=', '==', '!=', '<', '>'] as const;
export type ThresholdOp = (typeof OPS)[number];

export interface Threshold {
  /** the text as written */
  expr: string;
  /** the metric without "window." */
  metric: string;
  /** applies to every fault window */
  window: boolean;
  op: ThresholdOp;
  /** in the metric's unit: ms, %, a count or per second */
  value: number;
  unit: MetricUnit;
}

export class ThresholdError extends Error {}

const SHAPE =
  /^\s*([A-Za-z][\w.]*)\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(ms|s|m|%|\/s)?\s*$/i;

const UNIT_SUFFIXES: Record<MetricUnit, Record<string, number>> = {
  duration: { '': 1, ms: 1, s: 1000, m: 60_000 },
  percent: { '': 1, '%': 1 },
  count: { '': 1 },
  rate: { '': 1, '/s': 1 },
};

const UNIT_WORDS: Record<MetricUnit, string> = {
  duration: 'a duration (ms, s or m; no unit: ms)',
  percent: 'a percentage (e.g. 99.5%)',
  count: 'a plain number',
  rate: 'a number per second (e.g. 100 or 100/s)',
};

/** Parses one threshold; a ThresholdError says what was expected. */
export function parseThreshold(text: string): Threshold {
  if (typeof text !== 'string') throw new ThresholdError('expected a string such as "put.p99 < 50ms"');
  const m = SHAPE.exec(text);
  if (!m)
    throw new ThresholdError(
      `expected "METRIC OP VALUE" (e.g. "put.p99 < 50ms", "violations == 0", "availability > 99.5%"), got ${JSON.stringify(text)}`,
    );
  const [, name, op, num, suffix = ''] = m;
  const window = name.startsWith('window.');
  const metric = window ? name.slice('window.'.length) : name;
  const def = (window ? WINDOW_METRICS : METRICS)[metric];
  if (!def) {
    const known = window
      ? Object.keys(WINDOW_METRICS).map((k) => `window.${k}`)
      : [
          `{put,watch,putError,putSend}.{${PCTS.join(',')}}`,
          ...Object.keys(METRICS).filter(
            (k) => !/^(put|watch|putError|putSend)\.p?[a-z0-9]+$/.test(k) || k.startsWith('puts.'),
          ),
        ];
    throw new ThresholdError(`unknown metric ${JSON.stringify(name)} (known: ${known.join(', ')})`);
  }
  const factor = UNIT_SUFFIXES[def.unit][suffix.toLowerCase()];
  if (factor === undefined)
    throw new ThresholdError(`${name} takes ${UNIT_WORDS[def.unit]}, got ${JSON.stringify(num + suffix)}`);
  const value = Number(num) * factor;
  if (!Number.isFinite(value)) throw new ThresholdError(`expected a finite number, got ${JSON.stringify(num)}`);
  return { expr: text.trim(), metric, window, op: op as ThresholdOp, value, unit: def.unit };
}

/** measured OP limit */
export function compare(measured: number, op: ThresholdOp, limit: number): boolean {
  switch (op) {
    case '<':
      return measured < limit;
    case '<=':
      return measured <= limit;
    case '>':
      return measured > limit;
    case '>=':
      return measured >= limit;
    case '==':
      return measured === limit;
    case '!=':
      return measured !== limit;
  }
}

/** The grammar for --help and the API's description. */
export const THRESHOLD_HELP =
  'pass/fail thresholds "METRIC OP VALUE" (e.g. "put.p99 < 50ms", "violations == 0", "availability > 99.5%", "window.put.p99 < 2s"); a failed one fails the run';
