// `etcd-soak`: the daemon's command with its subcommands.
import { loadCommand } from './load.js';

const HELP = `Usage: etcd-soak <command> [options]

Commands:
  load      run the watch/put load against etcd endpoints and check watch guarantees

Run "etcd-soak <command> --help" for a command's options.`;

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  let code: number;
  switch (cmd) {
    case 'load':
      code = await loadCommand(rest);
      break;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP + '\n');
      code = cmd === undefined ? 2 : 0;
      break;
    default:
      process.stderr.write(`etcd-soak: unknown command ${JSON.stringify(cmd)}\n\n${HELP}\n`);
      code = 2;
  }
  process.exitCode = code;
  // clients and timers are closed by then; exit explicitly so a stray handle cannot keep us alive
  setTimeout(() => process.exit(code), 200).unref();
}
