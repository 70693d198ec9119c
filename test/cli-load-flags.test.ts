// The load CLI's profile flags and their --help come from the load profile schema: every field has a
// flag, --help lists each, and every flag that worked before keeps its name and meaning.
import t from 'tap';
import { z } from 'zod';
import { LOAD_HELP, PROFILE_FLAGS, profileFlags, profileFromFlags, UsageError } from '../src/cli/load.js';
import { loadProfileSchema } from '../src/schema/load.js';

const fields = Object.keys(loadProfileSchema.innerType().shape);

t.test('every profile field has a flag, and --help lists it', async (t) => {
  t.same(
    PROFILE_FLAGS.map((f) => f.field),
    fields,
  );
  for (const f of PROFILE_FLAGS) {
    // a boolean flag (--serializable-reads) takes no value: no placeholder
    const meta = f.boolean ? '' : ' \\S+';
    t.match(LOAD_HELP, new RegExp(`^ {2}--${f.flag}${meta} +\\S`, 'm'), `--${f.flag} in --help`);
    t.ok(LOAD_HELP.includes(f.help), `--${f.flag}: its generated line`);
  }
  t.match(LOAD_HELP, /^ {2}--endpoints LIST +etcd client endpoints/m);
  const options = LOAD_HELP.slice(0, LOAD_HELP.indexOf('Exit status'));
  for (const line of options.split('\n')) t.ok(line.length <= 100, `--help fits 100 columns: ${line}`);
});

t.test('the flags of before keep their names and fields (numbers where they were numbers)', async (t) => {
  const before: [string, string, string, unknown][] = [
    ['connections', 'connections', '4', 4],
    ['watchers', 'watchers', '7', 7],
    ['keys', 'keys', '3', 3],
    ['rate', 'rate', '12.5', 12.5],
    ['value-size', 'valueSize', '300', 300],
    ['duration', 'duration', '3s', '3s'],
    ['put-timeout', 'putTimeout', '2s', '2s'],
    ['settle', 'settle', '1s', '1s'],
    ['stall-timeout', 'stallTimeout', '500ms', '500ms'],
    ['prefix', 'prefix', '/p', '/p'],
    ['max-in-flight', 'maxInFlight', '9', 9],
    ['watch-mode', 'watchMode', 'prefix', 'prefix'],
    ['interval', 'interval', '1s', '1s'],
  ];
  for (const [flag, field, raw, value] of before) {
    t.equal(PROFILE_FLAGS.find((f) => f.flag === flag)?.field, field, `--${flag} → ${field}`);
    t.same(profileFromFlags({ [flag]: raw }), { [field]: value }, `--${flag} ${raw}`);
  }
  const all = profileFromFlags(Object.fromEntries(before.map(([flag, , raw]) => [flag, raw])));
  t.ok(loadProfileSchema.safeParse(all).success, 'all of them together make a valid profile');
  let err: unknown;
  try {
    profileFromFlags({ rate: 'many' });
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof UsageError, 'a number flag that is no number is a usage error');
  t.throws(() => profileFromFlags({ watchers: ' ' }), /--watchers: expected a number, got " "/);
  t.same(profileFromFlags({ endpoints: '127.0.0.1:1', json: true }), {}, 'other options are not profile fields');
});

t.test('a field described in the schema is helped by its description; others keep the wording of before', async (t) => {
  const schema = z
    .object({
      rate: z.number().min(0).default(5).describe('puts per second, described'),
      maxInFlight: z.number().int().default(9),
      newThing: z.enum(['a', 'b']).optional().describe('a field added later'),
      bare: z.string().optional(),
    })
    .strict()
    .superRefine(() => undefined);
  const flags = profileFlags(schema);
  t.same(
    flags.map((f) => [f.flag, f.numeric]),
    [
      ['rate', true],
      ['max-in-flight', true],
      ['new-thing', false],
      ['bare', false],
    ],
  );
  t.equal(flags[0].help, '  --rate N              puts per second, described (default 5)');
  t.equal(
    flags[1].help,
    '  --max-in-flight N     puts in flight at most; puts due beyond it are counted as slips (default 9)',
  );
  t.equal(flags[2].help, '  --new-thing MODE      a field added later');
  t.equal(flags[3].help, '  --bare S              bare');
});

t.test('a list field takes comma-separated values (--workloads put,watch)', async (t) => {
  const flag = PROFILE_FLAGS.find((f) => f.field === 'workloads')!;
  t.ok(flag.list);
  t.match(flag.help, /--workloads LIST/);
  const profile = loadProfileSchema.parse(profileFromFlags({ workloads: 'put, watch' }));
  t.same(profile.workloads, ['put', 'watch']);
  t.same(loadProfileSchema.parse(profileFromFlags({ workloads: 'put' })).workloads, ['put']);
  t.throws(() => loadProfileSchema.parse(profileFromFlags({ workloads: 'put,put' })), /each workload once/);
});
