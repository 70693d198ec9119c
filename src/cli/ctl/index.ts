// `etcd-soak ctl`: a client of a running daemon's API for people (tables) and scripts (--json, exit
// codes, `wait`). One command group per file; members and partition are the `member` and `partition`
// commands under this roof.
import { EXIT } from '../../util/exit.js';
import { memberCommand } from '../member.js';
import { partitionCommand } from '../partition.js';
import { COMMON_HELP, CTL_EXIT_HELP } from './client.js';
import { faultCommand } from './faults.js';
import { linksCommand } from './links.js';
import { loadCtlCommand } from './load.js';
import { scenarioCommand } from './scenarios.js';
import { waitCommand, watchCommand } from './wait.js';

export const CTL_HELP = `Usage: etcd-soak ctl <command> [options]

A client of a running daemon (etcd-soak lab / run) through its HTTP API.

Commands:
  links       list (default), show NAME, create NAME --listen --upstream, delete NAME
  fault       add LINK TYPE --flags… (or --target-role/--target-kind … TYPE), list, remove ID, clear, reset
  members     list; kill, stop, freeze, continue, restart or start a member (as "etcd-soak member")
  partition   create, list, heal (as "etcd-soak partition")
  scenario    run FILE [--seed N] [--dry-run], status [ID], abort ID
  load        status (default), start [--profile FILE] [flags], rate N, stop (→ the summary)
  watch       a live status line of the load until it stops or Ctrl-C
  wait        healthy | load-stopped | scenario-done [ID] [--timeout D]: block until it holds

  etcd-soak ctl links
  etcd-soak ctl fault add s1-client delay --direction tx --latency 200ms --duration 30s
  etcd-soak ctl wait healthy --timeout 30s
  etcd-soak ctl load --json

Options (every command):
${COMMON_HELP}

Run "etcd-soak ctl <command> --help" for a command's options.

${CTL_EXIT_HELP}`;

export async function ctlCommand(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'links':
    case 'link':
      return linksCommand(rest);
    case 'fault':
    case 'faults':
      return faultCommand(rest);
    case 'members':
    case 'member':
      // "ctl members" alone lists them, like "ctl links"
      return memberCommand(rest.length === 0 || rest[0].startsWith('-') ? ['list', ...rest] : rest);
    case 'partition':
    case 'partitions':
      return partitionCommand(rest);
    case 'scenario':
    case 'scenarios':
      return scenarioCommand(rest);
    case 'load':
      return loadCtlCommand(rest);
    case 'watch':
      return watchCommand(rest);
    case 'wait':
      return waitCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(CTL_HELP + '\n');
      return cmd === undefined ? EXIT.usage : EXIT.ok;
    default:
      process.stderr.write(`etcd-soak ctl: unknown command ${JSON.stringify(cmd)}\n\n${CTL_HELP}\n`);
      return EXIT.usage;
  }
}
