import t from 'tap';
import { durationToMs, formatGoDuration, parseGoDuration } from '../src/util/duration.js';

t.test('parses like Go time.ParseDuration', async (t) => {
  const cases: [string, bigint][] = [
    ['0', 0n],
    ['-0', 0n],
    ['+0', 0n],
    ['5s', 5_000_000_000n],
    ['30s', 30_000_000_000n],
    ['1478s', 1_478_000_000_000n],
    ['-5s', -5_000_000_000n],
    ['+5s', 5_000_000_000n],
    ['-0s', 0n],
    ['5.0s', 5_000_000_000n],
    ['5.6s', 5_600_000_000n],
    ['5.s', 5_000_000_000n],
    ['.5s', 500_000_000n],
    ['1.0s', 1_000_000_000n],
    ['1.00s', 1_000_000_000n],
    ['1.004s', 1_004_000_000n],
    ['100.00100s', 100_001_000_000n],
    ['10ns', 10n],
    ['11us', 11_000n],
    ['12µs', 12_000n],
    ['12μs', 12_000n],
    ['13ms', 13_000_000n],
    ['14s', 14_000_000_000n],
    ['15m', 900_000_000_000n],
    ['16h', 57_600_000_000_000n],
    ['3h30m', 12_600_000_000_000n],
    ['10.5s4m', 250_500_000_000n],
    ['-2m3.4s', -123_400_000_000n],
    ['1h2m3s4ms5us6ns', 3_723_004_005_006n],
    ['39h9m14.425s', 140_954_425_000_000n],
    ['1h2m3.5s', 3_723_500_000_000n],
    ['52763797000ns', 52_763_797_000n],
    ['0.3333333333333333333h', 1_200_000_000_000n],
    ['9007199254740993ns', 9_007_199_254_740_993n],
    ['9223372036854775807ns', 9223372036854775807n],
    ['9223372036854775.807us', 9223372036854775807n],
    ['-9223372036854775808ns', -9223372036854775808n],
    ['0.100000000000000000000h', 360_000_000_000n],
  ];
  for (const [s, ns] of cases) t.equal(parseGoDuration(s), ns, s);
});

t.test('errors carry Go texts', async (t) => {
  const cases: [string, string][] = [
    ['', 'time: invalid duration ""'],
    ['3', 'time: missing unit in duration "3"'],
    ['5', 'time: missing unit in duration "5"'],
    ['-', 'time: invalid duration "-"'],
    ['s', 'time: invalid duration "s"'],
    ['.', 'time: invalid duration "."'],
    ['-.', 'time: invalid duration "-."'],
    ['.s', 'time: invalid duration ".s"'],
    ['+.s', 'time: invalid duration "+.s"'],
    ['abc', 'time: invalid duration "abc"'],
    ['1d', 'time: unknown unit "d" in duration "1d"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['3000000h', 'time: invalid duration "3000000h"'],
    ['9223372036854775808ns', 'time: invalid duration "9223372036854775808ns"'],
    ['9223372036854775.808us', 'time: invalid duration "9223372036854775.808us"'],
    ['1s ', 'time: unknown unit "s " in duration "1s "'],
    ['"1s"', 'time: invalid duration "\\"1s\\""'],
    ['1µ', 'time: unknown unit "\\xc2\\xb5" in duration "1\\xc2\\xb5"'],
  ];
  for (const [s, msg] of cases) t.throws(() => parseGoDuration(s), { message: msg }, JSON.stringify(s));
});

t.test('formats like Go Duration.String()', async (t) => {
  const cases: [bigint, string][] = [
    [0n, '0s'],
    [1n, '1ns'],
    [5n, '5ns'],
    [1100n, '1.1µs'],
    [1000n, '1µs'],
    [2_200_000n, '2.2ms'],
    [1_500_000n, '1.5ms'],
    [122_690_655n, '122.690655ms'],
    [3_300_000_000n, '3.3s'],
    [5_000_000_000n, '5s'],
    [120_000_000_000n, '2m0s'],
    [4_500_000_000n * 60n, '4m30s'],
    [5_400_000_000_000n, '1h30m0s'],
    [3_723_500_000_000n, '1h2m3.5s'],
    [-1_000_000_000n, '-1s'],
    [-1_500_000n, '-1.5ms'],
    [9223372036854775807n, '2562047h47m16.854775807s'],
    [-9223372036854775808n, '-2562047h47m16.854775808s'],
  ];
  for (const [ns, s] of cases) t.equal(formatGoDuration(ns), s, s);
});

t.test('round trips', async (t) => {
  for (const s of ['1h2m3.5s', '1.5ms', '122.690655ms', '2m0s', '-1s', '5ns', '1µs', '0s']) {
    t.equal(formatGoDuration(parseGoDuration(s)), s);
  }
});

t.test('durationToMs takes Go strings or milliseconds and rejects negatives', async (t) => {
  t.equal(durationToMs('1.5s'), 1500);
  t.equal(durationToMs(250), 250);
  t.equal(durationToMs('-1s', { allowNegative: true }), -1000);
  t.throws(() => durationToMs('-1s'), /expected a duration >= 0/);
  t.throws(() => durationToMs(Number.NaN), /finite/);
  t.throws(() => durationToMs('5'), /missing unit/);
});
