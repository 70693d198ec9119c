// Go's time.ParseDuration and Duration.String(), byte for byte, including the error texts: the
// etcd-proxy compat layer echoes them, and config files and the API use the same syntax.
// Work is done on UTF-8 bytes because Go's parser is byte-oriented (units "µs" and "μs" are 2 bytes).

export class GoDurationError extends Error {
  override name = 'GoDurationError';
}

const MAX_U = 1n << 63n; // Go keeps the magnitude in a uint64 and allows 1<<63 only when negative
const MAX_I64 = MAX_U - 1n;

/** Go's largest time.Duration (math.MaxInt64 ns, "2562047h47m16.854775807s"). */
export const MAX_GO_DURATION_NS = MAX_I64;
/** The same in milliseconds, as `durationToMs` returns it for that duration. */
export const MAX_GO_DURATION_MS = Number(MAX_I64) / 1e6;

const UNITS: Record<string, bigint> = {
  ns: 1n,
  us: 1000n,
  µs: 1000n, // U+00B5 micro sign
  μs: 1000n, // U+03BC Greek small letter mu
  ms: 1000000n,
  s: 1000000000n,
  m: 60000000000n,
  h: 3600000000000n,
};

const hex = '0123456789abcdef';

/** Go's time.quote: ASCII printable kept (with \" and \\ escaped), everything else as \xNN bytes. */
export function timeQuote(s: string): string {
  // Go decodes runes first, but escapes a non-ASCII rune byte by byte: the same as escaping bytes.
  return timeQuoteBytes(Buffer.from(s, 'utf8'));
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** Parses a Go duration ("1h2m3.5s", "-1.5ms", "0") into nanoseconds. Throws GoDurationError. */
export function parseGoDuration(input: string): bigint {
  const s = Buffer.from(input, 'utf8');
  const invalid = () => new GoDurationError('time: invalid duration ' + timeQuote(input));
  let i = 0;
  let neg = false;
  if (s.length > 0 && (s[0] === 0x2d || s[0] === 0x2b)) {
    neg = s[0] === 0x2d;
    i = 1;
  }
  if (s.length - i === 1 && s[i] === 0x30) return 0n;
  if (i === s.length) throw invalid();
  let d = 0n;
  while (i < s.length) {
    if (!(s[i] === 0x2e || isDigit(s[i]))) throw invalid();
    // leading integer
    const startInt = i;
    let v = 0n;
    while (isDigit(s[i])) {
      if (v > MAX_U / 10n) throw invalid();
      v = v * 10n + BigInt(s[i] - 0x30);
      if (v > MAX_U) throw invalid();
      i++;
    }
    const pre = i !== startInt;
    // fraction: digits past int64 precision are ignored, as Go does
    let f = 0n;
    let scale = 1;
    let post = false;
    if (s[i] === 0x2e) {
      i++;
      const startFrac = i;
      let overflow = false;
      while (isDigit(s[i])) {
        if (!overflow) {
          if (f > MAX_I64 / 10n) overflow = true;
          else {
            const y = f * 10n + BigInt(s[i] - 0x30);
            if (y > MAX_U) overflow = true;
            else {
              f = y;
              scale *= 10;
            }
          }
        }
        i++;
      }
      post = i !== startFrac;
    }
    if (!pre && !post) throw invalid();
    const startUnit = i;
    while (i < s.length && !(s[i] === 0x2e || isDigit(s[i]))) i++;
    if (i === startUnit) throw new GoDurationError('time: missing unit in duration ' + timeQuote(input));
    // invalid UTF-8 decodes to U+FFFD, which is no unit, so the lookup is exact on bytes
    const unit = UNITS[s.subarray(startUnit, i).toString('utf8')];
    if (unit === undefined) {
      throw new GoDurationError(
        'time: unknown unit ' + timeQuoteBytes(s.subarray(startUnit, i)) + ' in duration ' + timeQuote(input),
      );
    }
    if (v > MAX_U / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // float64 arithmetic, as in Go: v += uint64(float64(f) * (float64(unit) / scale))
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX_U) throw invalid();
    }
    d += v;
    if (d > MAX_U) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX_I64) throw invalid();
  return d;
}

function timeQuoteBytes(b: Buffer): string {
  let out = '"';
  for (const c of b) {
    if (c >= 0x80 || c < 0x20) out += '\\x' + hex[c >> 4] + hex[c & 15];
    else if (c === 0x22 || c === 0x5c) out += '\\' + String.fromCharCode(c);
    else out += String.fromCharCode(c);
  }
  return out + '"';
}

/** fraction of v / 10^prec without trailing zeros (and without the dot when it is zero) */
function fmtFrac(v: bigint, prec: number): [string, bigint] {
  let digits = '';
  let print = false;
  for (let i = 0; i < prec; i++) {
    const digit = v % 10n;
    print = print || digit !== 0n;
    if (print) digits = digit.toString() + digits;
    v /= 10n;
  }
  return [print ? '.' + digits : '', v];
}

/** Go's Duration.String(): "1h30m0s", "1.5ms", "5ns", "0s", "-1s". */
export function formatGoDuration(ns: bigint | number): string {
  const d = typeof ns === 'bigint' ? ns : BigInt(Math.trunc(ns));
  if (d === 0n) return '0s';
  const neg = d < 0n;
  let u = neg ? -d : d;
  let out: string;
  if (u < 1000000000n) {
    let prec: number;
    let unit: string;
    if (u < 1000n) {
      prec = 0;
      unit = 'ns';
    } else if (u < 1000000n) {
      prec = 3;
      unit = 'µs';
    } else {
      prec = 6;
      unit = 'ms';
    }
    const [frac, whole] = fmtFrac(u, prec);
    out = whole.toString() + frac + unit;
  } else {
    const [frac, secs] = fmtFrac(u, 9);
    u = secs;
    out = (u % 60n).toString() + frac + 's';
    u /= 60n;
    if (u > 0n) {
      out = (u % 60n).toString() + 'm' + out;
      u /= 60n;
      if (u > 0n) out = u.toString() + 'h' + out;
    }
  }
  return neg ? '-' + out : out;
}

/** Formats milliseconds (possibly fractional) as a Go duration string. */
export function formatMs(ms: number): string {
  return formatGoDuration(BigInt(Math.round(ms * 1e6)));
}

/**
 * A duration from a config file, API body or flag: a Go duration string, or a number of milliseconds.
 * Returns milliseconds. Negative values are rejected unless allowed.
 */
export function durationToMs(input: string | number, opts: { allowNegative?: boolean } = {}): number {
  let ms: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new GoDurationError(`expected a finite number of milliseconds, got ${input}`);
    ms = input;
  } else {
    ms = Number(parseGoDuration(input)) / 1e6;
  }
  if (ms < 0 && !opts.allowNegative) {
    throw new GoDurationError(
      `expected a duration >= 0, got ${typeof input === 'string' ? JSON.stringify(input) : input}`,
    );
  }
  return ms;
}
