// `etcd-soak`: the daemon's command with its subcommands.
import { daemonCommand } from './daemon.js';
import { loadCommand } from './load.js';

const HELP = `Usage: etcd-soak <command> [options]

Commands:
  lab       local 3-member etcd cluster, every client and peer link proxied, load, HTTP API
  run       the same daemon from a config file (--config FILE)
  load      run the watch/put load against etcd endpoints and check watch guarantees

Run "etcd-soak <command> --help" for a command's options.`;

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  let code: number;
  switch (cmd) {
    case 'load':
      code = await loadCommand(rest);
      break;
    case 'lab':
    case 'run':
      code = await daemonCommand(cmd, rest);
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
