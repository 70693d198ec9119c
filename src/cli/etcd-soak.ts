// `etcd-soak`: the daemon's command with its subcommands.
import { EXIT, EXIT_HELP, exitAfterFlush } from '../util/exit.js';
import { packageVersion } from '../util/pkg.js';
import { checkCommand } from './check.js';
import { ctlCommand } from './ctl/index.js';
import { daemonCommand } from './daemon.js';
import { loadCommand } from './load.js';
import { memberCommand } from './member.js';
import { partitionCommand } from './partition.js';
import { reportCommand } from './report.js';

const HELP = `Usage: etcd-soak <command> [options]

Commands:
  lab       local 3-member etcd cluster, every client and peer link proxied, load, HTTP API
  run       the same daemon from a config file (--config FILE)
  load      run the watch/put load against etcd endpoints and check watch guarantees
  partition cut members of a running daemon's cluster off from each other (create, list, heal)
  member    kill, stop, freeze, continue, restart or start a running daemon's member (or list them)
  report    (re)render a run's report.html from its report folder (reports/<runId>/)
  check     re-check a run's kv history (reports/<runId>/history.jsonl) for linearizability offline
  ctl       a client of a running daemon: links, faults, members, partitions, scenarios, load, watch, wait

Options:
  --version   print the version and exit
  -h, --help  this text

Run "etcd-soak <command> --help" for a command's options.

${EXIT_HELP}`;

async function dispatch(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'load':
      return loadCommand(rest);
    case 'partition':
      return partitionCommand(rest);
    case 'member':
      return memberCommand(rest);
    case 'report':
      return reportCommand(rest);
    case 'check':
      return checkCommand(rest);
    case 'ctl':
      return ctlCommand(rest);
    case 'lab':
    case 'run':
      return daemonCommand(cmd, rest);
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`etcd-soak ${packageVersion()}\n`);
      return EXIT.ok;
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP + '\n');
      return cmd === undefined ? EXIT.usage : EXIT.ok;
    default:
      process.stderr.write(`etcd-soak: unknown command ${JSON.stringify(cmd)}\n\n${HELP}\n`);
      return EXIT.usage;
  }
}

export async function main(argv: string[]): Promise<void> {
  let code: number;
  try {
    code = await dispatch(argv);
  } catch (err) {
    // a command is meant to return its code; anything thrown up to here is a bug of ours
    process.stderr.write(
      `etcd-soak: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    code = EXIT.internal;
  }
  // Exit now, explicitly, once stdout and stderr are written (a pipe read slowly queues them). Never
  // let the process end by draining its event loop: Node then closes every remaining handle and waits
  // for each to report closed, and a socket whose reset libuv refused (a reset while its shutdown is
  // pending fails with EINVAL, yet Node marks the handle closing) never does: the process would spin
  // at 100% CPU in that wait, after the report, until killed.
  await exitAfterFlush(code);
}
