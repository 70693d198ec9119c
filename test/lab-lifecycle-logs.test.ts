// Status lines and log records share stderr: each must arrive whole. A record written from another thread
// (an asynchronous destination) into a full pipe takes turns with the main thread's status lines, so a
// status line can land inside a log record. The daemon's logger writes whole records from the main
// thread, as the status lines are written.
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { root } from './helpers/proc.js';

t.test(
  'a status line written while a large log record is on its way does not land inside it, nor is lost at exit',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'etcd-soak-logs-test-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const script = path.join(dir, 'writer.mjs');
    // the daemon's logger, as src/cli/daemon.ts creates it
    fs.writeFileSync(
      script,
      `const { exitAfterFlush } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/src/util/exit.js')).href)});
const { createLogger } = await import(${JSON.stringify(pathToFileURL(path.join(root, 'dist/src/util/log.js')).href)});
const logger = createLogger({ name: 'etcd-soak', level: 'info', lines: true, format: 'json' });
for (let i = 0; i < 3; i++) logger.warn({ detail: String(i).repeat(200000) }, 'a large record');
setTimeout(() => {
  for (let i = 0; i < 3; i++) process.stderr.write('[1s] puts 200/s p99 9.8ms | status line ' + i + '\\n');
  // as the commands end: exit once what stderr holds is written (a pipe read slowly queues it)
  setTimeout(() => void exitAfterFlush(0), 300);
}, 100);
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
    // nobody reads for a while: the pipe fills while the records and the status lines are being written
    child.stderr!.pause();
    await new Promise((r) => setTimeout(r, 600));
    let err = '';
    child.stderr!.on('data', (b) => (err += b));
    child.stderr!.resume();
    // 'close', not 'exit': the pipe may still hold output when the process is gone (a loaded machine)
    const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    t.equal(code, 0);
    const lines = err.split('\n').filter(Boolean);
    const status = lines.filter((l) => l.startsWith('[1s] '));
    const records = lines.filter((l) => l.startsWith('{'));
    t.equal(status.length, 3, 'three whole status lines');
    t.equal(records.length, 3, 'three log records');
    t.equal(lines.length, 6, 'nothing else');
    const broken = records.filter((l) => {
      try {
        return JSON.parse(l).msg !== 'a large record';
      } catch {
        return true;
      }
    });
    t.equal(broken.length, 0, 'every record is whole JSON');
    t.ok(
      status.every((l) => /^\[1s\] puts 200\/s p99 9\.8ms \| status line \d$/.test(l)),
      'every status line is whole',
    );
  },
);
