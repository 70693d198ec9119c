// Property tests of the Go form parser (src/api/goform.ts): any way a client may encode a list of
// key/value pairs (percent escapes in either case, '+' or %20 for a space, literal characters where
// url.ParseQuery allows them) parses back to the same values in order, ';' parts are refused as Go
// refuses them while the rest still parse, and arbitrary bytes never make it throw.
import t from 'tap';
import fc from 'fast-check';
import { parseGoForm, parseQuery, queryUnescape } from '../src/api/goform.js';

const RUNS = { numRuns: 1000 };

/** characters with a meaning in a query, and a few from beyond ASCII */
const unit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('&', ';', '=', '%', '+', ' ', 'a', 'Z', '0', '~', 'é', '€', '😀') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const text = fc.string({ unit, maxLength: 12 });

/** One way to encode `s` as a key (inKey: '=' must be escaped) or a value. */
function encoding(s: string, inKey: boolean): fc.Arbitrary<string> {
  const chars = [...s].map((ch) => {
    const bytes = [...Buffer.from(ch, 'utf8')];
    const escaped = (upper: boolean) =>
      bytes.map((b) => '%' + b.toString(16).padStart(2, '0')[upper ? 'toUpperCase' : 'toLowerCase']()).join('');
    const ways = [fc.constant(escaped(true)), fc.constant(escaped(false))];
    if (ch === ' ') ways.push(fc.constant('+'));
    else if (!'&;%+'.includes(ch) && !(inKey && ch === '=')) ways.push(fc.constant(ch));
    return fc.oneof(...ways);
  });
  return fc.tuple(...chars).map((parts) => parts.join(''));
}

const pairs = fc.array(fc.tuple(text, text), { maxLength: 6 });

/** pairs and one encoding of them as a query; a pair with an empty value may drop its '=' */
const encoded = pairs.chain((ps) =>
  fc
    .tuple(
      ...ps.map(([k, v]) =>
        fc
          .tuple(encoding(k, true), encoding(v, false), fc.boolean())
          .map(([ek, ev, bare]) => (bare && v === '' && ek !== '' ? ek : `${ek}=${ev}`)),
      ),
      fc.array(fc.constant(''), { maxLength: 2 }),
    )
    .map((parts) => ({ pairs: ps, query: [...parts.slice(0, -1), ...(parts.at(-1) as string[])].join('&') })),
);

function expected(ps: [string, string][]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const [k, v] of ps) m.set(k, [...(m.get(k) ?? []), v]);
  return m;
}

t.test('any encoding of key/value pairs parses back to the same values, in order', async (t) => {
  fc.assert(
    fc.property(encoded, ({ pairs: ps, query }) => {
      const got = new Map<string, string[]>();
      const err = parseQuery(query, got);
      if (err !== undefined) return false;
      const want = expected(ps);
      if (JSON.stringify([...got]) !== JSON.stringify([...want])) return false;
      // PostForm.Get: the first value, '' when absent
      const form = parseGoForm('PUT', 'application/x-www-form-urlencoded; charset=utf-8', query, '');
      return (
        form.error === undefined &&
        [...want].every(([k, vs]) => form.get(k) === vs[0]) &&
        form.get('\u0001absent') === ''
      );
    }),
    RUNS,
  );
  t.pass('round trips held');
});

t.test("a part with ';' is refused as Go refuses it, and the other parts still parse", async (t) => {
  fc.assert(
    fc.property(encoded, text, fc.nat(), ({ pairs: ps, query }, junk, at) => {
      const parts = query === '' ? [] : query.split('&');
      const bad = `${junk.replace(/[&]/g, '')};`;
      parts.splice(at % (parts.length + 1), 0, bad);
      const got = new Map<string, string[]>();
      const err = parseQuery(parts.join('&'), got);
      return (
        err === 'invalid semicolon separator in query' && JSON.stringify([...got]) === JSON.stringify([...expected(ps)])
      );
    }),
    RUNS,
  );
  t.pass('semicolons held');
});

t.test('a bad escape is reported with its first three bytes, quoted as Go quotes them', async (t) => {
  // Go cuts the escape at 3 bytes, so a character beyond ASCII may be cut: its bytes then read \xNN
  const tails = ['', 'g', 'z', '&', '%', '"', 'é', '€', '😀'];
  fc.assert(
    fc.property(text, fc.stringMatching(/^[0-9a-fA-F]?$/), fc.constantFrom(...tails), (pre, h, tail) => {
      const s = encodeURIComponent(pre) + '%' + h + tail;
      const room = 2 - h.length;
      const cut = Buffer.from(tail).subarray(0, room);
      const shown =
        cut.length === Buffer.byteLength(tail)
          ? tail.replace('"', '\\"')
          : [...cut].map((b) => `\\x${b.toString(16)}`).join('');
      try {
        queryUnescape(s);
        return false;
      } catch (err) {
        return (err as Error).message === `invalid URL escape "%${h}${shown}"`;
      }
    }),
    RUNS,
  );
  t.pass('escapes held');
});

t.test('arbitrary bytes, methods and content types never make it throw', async (t) => {
  const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
  fc.assert(
    fc.property(
      bytes,
      bytes,
      fc.constantFrom('GET', 'PUT', 'POST', 'PATCH', 'DELETE'),
      fc.option(
        fc.constantFrom(
          'application/x-www-form-urlencoded',
          '',
          ';',
          'text/plain',
          'APPLICATION/X-WWW-FORM-URLENCODED ; x',
        ),
      ),
      fc.constantFrom('utf8', 'latin1') as fc.Arbitrary<BufferEncoding>,
      (body, query, method, ct, enc) => {
        const form = parseGoForm(method, ct ?? undefined, body.toString(enc), query.toString(enc));
        return (form.error === undefined || typeof form.error === 'string') && typeof form.get('latency') === 'string';
      },
    ),
    { numRuns: 3000 },
  );
  t.pass('never threw');
});
