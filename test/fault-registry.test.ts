// The fault registry: the modules it lists, the one schema built from them (the same accepted and
// rejected inputs and messages as the JSON API and the compat routes have always had), and the compat
// routes the modules declare.
import t from 'tap';
import fc from 'fast-check';
import { z } from 'zod';
import {
  compatRouteTable,
  faultModules,
  faultScope,
  faultSpecSchema,
  faultTypes,
  MAX_RATE,
  parseFaultSpec,
} from '../src/proxy/faults/registry.js';

const GO_MAX = "expected a duration of at most 2562047h47m16.854775807s (Go's largest)";
const MIN_1MS = 'expected a duration of at least 1ms (omit it for no expiry)';
const PROBABILITY = 'expected a number in (0, 1]';

/** The first issue of a rejected input, as the API and the compat routes report it. */
function firstIssue(input: unknown): { path: string; message: string } | undefined {
  const r = faultSpecSchema.safeParse(input);
  if (r.success) return undefined;
  return { path: r.error.issues[0].path.join('.'), message: r.error.issues[0].message };
}

t.test('the modules: one per type, in pipe order, each describing itself', async (t) => {
  t.same(faultTypes, [
    'delay',
    'pause',
    'blackhole',
    'drop',
    'corrupt',
    'bandwidth',
    'reset',
    'refuse',
    'accept-delay',
    'accept-pause',
    'reset-listener',
    'slice',
  ]);
  const scopes: Record<string, string> = {};
  for (const m of faultModules) {
    scopes[m.type] = m.scope;
    t.ok(m.description.length > 10 && !m.description.includes('\n'), `${m.type}: a one-line description`);
    t.ok(m.params instanceof z.ZodObject, `${m.type}: params is a zod object`);
    t.ok(m.schema instanceof z.ZodObject, `${m.type}: schema is a zod object`);
    t.equal(m.schema.shape.type.value, m.type, `${m.type}: its schema names its type`);
    t.equal('direction' in m.schema.shape, m.scope === 'direction', `${m.type}: direction only on direction faults`);
    t.ok(!('type' in m.params.shape) && !('duration' in m.params.shape), `${m.type}: params are its own only`);
    t.ok(!!m.install !== !!m.once, `${m.type}: lasting or one-shot`);
  }
  t.same(scopes, {
    delay: 'direction',
    pause: 'direction',
    blackhole: 'direction',
    drop: 'direction',
    corrupt: 'direction',
    bandwidth: 'direction',
    reset: 'link',
    refuse: 'link',
    'accept-delay': 'accept',
    'accept-pause': 'accept',
    'reset-listener': 'link',
    slice: 'direction',
  });
  t.same(
    faultModules.filter((m) => m.once).map((m) => m.type),
    ['reset', 'reset-listener'],
    'one-shot faults',
  );
});

t.test('accepted specs come out normalised: durations in ms, defaults filled in', async (t) => {
  const cases: [unknown, unknown][] = [
    [
      { type: 'delay', direction: 'tx', latency: '50ms' },
      { type: 'delay', direction: 'tx', latency: 50, jitter: 0, distribution: 'uniform' },
    ],
    [
      { type: 'delay', direction: 'rx', latency: 30, jitter: '1s', distribution: 'pareto', duration: '1h' },
      { type: 'delay', direction: 'rx', latency: 30, jitter: 1000, distribution: 'pareto', duration: 3600000 },
    ],
    [
      { type: 'delay', direction: 'tx', latency: '200h', duration: '1ms' },
      { type: 'delay', direction: 'tx', latency: 720_000_000, jitter: 0, distribution: 'uniform', duration: 1 },
    ],
    [
      { type: 'pause', direction: 'rx', duration: '168h' },
      { type: 'pause', direction: 'rx', duration: 604800000 },
    ],
    [
      { type: 'blackhole', direction: 'tx' },
      { type: 'blackhole', direction: 'tx' },
    ],
    [
      { type: 'drop', direction: 'tx', probability: 1 },
      { type: 'drop', direction: 'tx', probability: 1 },
    ],
    [
      { type: 'corrupt', direction: 'rx', probability: 1e-9 },
      { type: 'corrupt', direction: 'rx', probability: 1e-9 },
    ],
    [
      { type: 'bandwidth', direction: 'rx', rate: MAX_RATE },
      { type: 'bandwidth', direction: 'rx', rate: MAX_RATE },
    ],
    [{ type: 'reset' }, { type: 'reset' }],
    [{ type: 'refuse' }, { type: 'refuse', mode: 'rst' }],
    [
      { type: 'refuse', mode: 'close', duration: 5 },
      { type: 'refuse', mode: 'close', duration: 5 },
    ],
    [
      { type: 'accept-delay', latency: '1s' },
      { type: 'accept-delay', latency: 1000, jitter: 0 },
    ],
    [{ type: 'accept-pause' }, { type: 'accept-pause' }],
    [{ type: 'reset-listener' }, { type: 'reset-listener' }],
    [
      { type: 'slice', direction: 'tx', size: 10 },
      { type: 'slice', direction: 'tx', size: 10, sizeVariation: 0, delay: 0 },
    ],
    [
      { type: 'slice', direction: 'rx', size: 65536, sizeVariation: 5, delay: '1ms' },
      { type: 'slice', direction: 'rx', size: 65536, sizeVariation: 5, delay: 1 },
    ],
  ];
  for (const [input, output] of cases) t.same(parseFaultSpec(input), output, JSON.stringify(input));
});

t.test('rejected specs: the first issue names the field and the bound, as before', async (t) => {
  const cases: [unknown, string, string | RegExp][] = [
    [
      { type: 'delay', direction: 'tx', latency: '5' },
      'latency',
      'time: missing unit in duration "5" (expected a Go duration such as "250ms" or a number of milliseconds)',
    ],
    [{ type: 'delay', direction: 'tx', latency: 'abc' }, 'latency', /invalid duration "abc"/],
    [{ type: 'delay', direction: 'tx', latency: 1e300 }, 'latency', GO_MAX],
    [{ type: 'delay', direction: 'tx', latency: '1s', jitter: '-1s' }, 'jitter', /./],
    [{ type: 'delay', direction: 'tx', latency: '1s', distribution: 'gauss' }, 'distribution', /Invalid enum value/],
    [{ type: 'delay', direction: 'tx' }, 'latency', 'Invalid input'],
    [{ type: 'pause', direction: 'tx', duration: 0 }, 'duration', MIN_1MS],
    [{ type: 'delay', direction: 'rx', latency: '1s', duration: '1ns' }, 'duration', MIN_1MS],
    [{ type: 'accept-pause', duration: '999us' }, 'duration', MIN_1MS],
    [{ type: 'pause', direction: 'tx', duration: '169h' }, 'duration', 'expected a duration of at most 168h'],
    [{ type: 'bandwidth', direction: 'tx', rate: 2e10 }, 'rate', `expected at most ${MAX_RATE} bytes/s (10 GiB/s)`],
    [{ type: 'bandwidth', direction: 'rx', rate: 0 }, 'rate', 'expected at least 1 byte/s'],
    [{ type: 'bandwidth', direction: 'rx', rate: 1.5 }, 'rate', 'expected a whole number of bytes per second'],
    [{ type: 'drop', direction: 'tx', probability: 0 }, 'probability', PROBABILITY],
    [{ type: 'corrupt', direction: 'tx', probability: 1.5 }, 'probability', PROBABILITY],
    [{ type: 'drop', direction: 'tx', probability: '0.5' }, 'probability', 'Expected number, received string'],
    [{ type: 'teleport' }, 'type', /^Invalid discriminator value\. Expected 'delay' \| 'pause' .* \| 'slice'$/],
    [{ type: 'pause' }, 'direction', 'Required'],
    [{ type: 'pause', direction: 'up' }, 'direction', /Invalid enum value/],
    [{ type: 'pause', direction: 'tx', bogus: 1 }, '', "Unrecognized key(s) in object: 'bogus'"],
    [{ type: 'reset', direction: 'tx' }, '', "Unrecognized key(s) in object: 'direction'"],
    [{ type: 'refuse', mode: 'fin' }, 'mode', /Invalid enum value/],
    [{ type: 'slice', direction: 'tx' }, 'size', 'Required'],
    [{ type: 'slice', direction: 'tx', size: 0 }, 'size', 'expected a size of at least 1 bytes'],
    [{ type: 'slice', direction: 'tx', size: 65537 }, 'size', 'expected a size of at most 65536 bytes'],
    [{ type: 'slice', direction: 'tx', size: 2.5 }, 'size', 'expected a whole number of bytes'],
    [{ type: 'slice', direction: 'tx', size: 8, sizeVariation: -1 }, 'sizeVariation', /at least 0 bytes/],
    [{ type: 'slice', direction: 'tx', size: 8, delay: 'soon' }, 'delay', /invalid duration "soon"/],
    [null, '', /Expected object/],
    ['pause', '', /Expected object/],
  ];
  for (const [input, path, message] of cases) {
    const issue = firstIssue(input);
    t.ok(issue, `${JSON.stringify(input)} is rejected`);
    t.equal(issue?.path, path, `${JSON.stringify(input)}: path`);
    if (typeof message === 'string') t.equal(issue?.message, message, `${JSON.stringify(input)}: message`);
    else t.match(issue?.message, message, `${JSON.stringify(input)}: message`);
  }
});

t.test('bounds, for any number: probability, rate, slice size', async () => {
  fc.assert(
    fc.property(fc.double(), fc.constantFrom('drop', 'corrupt'), fc.constantFrom('tx', 'rx'), (p, type, direction) => {
      const ok = faultSpecSchema.safeParse({ type, direction, probability: p }).success;
      return ok === (p > 0 && p <= 1);
    }),
  );
  fc.assert(
    fc.property(fc.oneof(fc.double(), fc.integer({ min: -10, max: MAX_RATE + 10 })), (rate) => {
      const ok = faultSpecSchema.safeParse({ type: 'bandwidth', direction: 'tx', rate }).success;
      return ok === (Number.isInteger(rate) && rate >= 1 && rate <= MAX_RATE);
    }),
  );
  fc.assert(
    fc.property(fc.integer({ min: -5, max: 70000 }), (size) => {
      const ok = faultSpecSchema.safeParse({ type: 'slice', direction: 'rx', size }).success;
      return ok === (size >= 1 && size <= 65536);
    }),
  );
});

t.test('each module parses its own params alone (what an API description shows)', async (t) => {
  const params: Record<string, unknown> = {
    delay: { latency: '5ms' },
    'accept-delay': { latency: 5, jitter: '1ms' },
    drop: { probability: 0.5 },
    corrupt: { probability: 0.5 },
    bandwidth: { rate: 1000 },
    refuse: { mode: 'close' },
    slice: { size: 1 },
  };
  for (const m of faultModules) {
    t.ok(m.params.safeParse(params[m.type] ?? {}).success, `${m.type} params`);
    t.notOk(m.params.safeParse({ ...((params[m.type] as object) ?? {}), other: 1 }).success, `${m.type}: strict`);
  }
});

t.test('compat routes: the Go tool six and the additive ones, each setting a fault of its scope', async (t) => {
  t.same(
    [...compatRouteTable.keys()].sort(),
    [
      '/delay-tx',
      '/delay-rx',
      '/pause-tx',
      '/pause-rx',
      '/blackhole-tx',
      '/blackhole-rx',
      '/drop-tx',
      '/drop-rx',
      '/corrupt-tx',
      '/corrupt-rx',
      '/bandwidth-tx',
      '/bandwidth-rx',
      '/reset',
      '/refuse',
      '/accept-delay',
      '/accept-pause',
      '/reset-listener',
    ].sort(),
  );
  for (const [path, { type, route: r }] of compatRouteTable) {
    const input = r.kind === 'latency' ? r.spec({ latency: 5, jitter: 1 }) : r.kind === 'value' ? r.spec(1) : r.spec();
    const spec = parseFaultSpec(input);
    t.equal(faultScope(spec), r.scope, `${path}: sets a fault on its scope`);
    t.equal(spec.type, type, `${path}: sets a ${type} fault`);
    t.ok(path.startsWith(`/${type}`), `${path}: named after it`);
  }
});
