// Parse at the edge, checked by the compiler: Link.addFault takes only a spec that went through the
// fault schema (parseFaultSpec / faultSpecSchema), never raw JSON. The fixture below is type-checked
// with the project's own tsconfig; each `@ts-expect-error` must really be an error.
import t from 'tap';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from './helpers/proc.js';

const fixture = `
import { Link } from '${path.join(root, 'src/proxy/link.js')}';
import { faultSpecSchema, parseFaultSpec } from '${path.join(root, 'src/proxy/faults/registry.js')}';

export function uses(link: Link, body: unknown): void {
  // @ts-expect-error raw JSON is not a validated spec
  link.addFault(body);
  // @ts-expect-error an input-shaped literal (Go duration strings) is not a validated spec either
  link.addFault({ type: 'delay', direction: 'tx', latency: '5ms' });
  // @ts-expect-error nor an output-shaped literal that skipped the schema
  link.addFault({ type: 'drop', direction: 'tx', probability: 7 });
  link.addFault(parseFaultSpec(body));
  link.addFault(faultSpecSchema.parse(body));
  const r = faultSpecSchema.safeParse(body);
  if (r.success) link.addFault(r.data);
}
`;

t.test('Link.addFault accepts only schema-validated specs', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-types-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'fixture.ts'), fixture);
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(root, 'tsconfig.json'),
      compilerOptions: { noEmit: true, rootDir: '/', typeRoots: [path.join(root, 'node_modules/@types')] },
      include: [path.join(dir, 'fixture.ts')],
    }),
  );
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
  const out = await new Promise<{ code: number; text: string }>((resolve) =>
    execFile(
      process.execPath,
      [tsc, '-p', path.join(dir, 'tsconfig.json')],
      { timeout: 120000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
    ),
  );
  t.equal(out.text, '', 'no type errors, and no unused @ts-expect-error');
  t.equal(out.code, 0);
});
