// `etcd-soak ctl scenario`: run FILE (parsed and checked here, then POST /scenarios), status [ID], abort ID.
import fs from 'node:fs';
import { parseYamlText } from '../../config/schema.js';
import type { ScenarioStatus } from '../../daemon/scenarios.js';
import { parseScenarioObject } from '../../scenario/index.js';
import { EXIT } from '../../util/exit.js';
import { Api, COMMON_HELP, CTL_EXIT_HELP, CtlUsage, parse, printJson, runCtl, table } from './client.js';

export const SCENARIO_HELP = `Usage: etcd-soak ctl scenario <run FILE|status [ID]|abort ID> [options]

  etcd-soak ctl scenario run config/scenarios/leader-flap.yaml --seed 7
  etcd-soak ctl scenario run my.yaml --dry-run        the expanded plan and its hash; nothing runs
  etcd-soak ctl scenario status                       every scenario run
  etcd-soak ctl scenario status sc1                   one, with its active windows and errors
  etcd-soak ctl scenario abort sc1                    its faults removed, its members restored

Options:
  --seed N           run: replace the file's random seed
  --dry-run          run: print the plan, start nothing
${COMMON_HELP}

${CTL_EXIT_HELP}`;

const line = (s: ScenarioStatus) =>
  `${s.id}  ${s.name}  ${s.state} after ${s.elapsed}s: ${s.steps.applied}/${s.steps.planned} steps applied, ${s.steps.failed} failed, ${s.active.length} window(s) active`;

export function scenarioCommand(argv: string[]): Promise<number> {
  return runCtl('scenario', SCENARIO_HELP, async () => {
    const { values, positionals } = parse(argv, { seed: { type: 'string' }, 'dry-run': { type: 'boolean' } });
    const [verb, arg, extra] = positionals;
    if (values.help || verb === undefined) {
      process.stdout.write(SCENARIO_HELP + '\n');
      return values.help ? EXIT.ok : EXIT.usage;
    }
    if (extra !== undefined) throw new CtlUsage(`${verb}: unexpected argument ${JSON.stringify(extra)}`);
    if (verb !== 'run' && (values.seed !== undefined || values['dry-run']))
      throw new CtlUsage('--seed and --dry-run: only with run');
    const api = new Api(values);
    switch (verb) {
      case 'run': {
        if (!arg) throw new CtlUsage('run: expected the scenario FILE');
        let doc: unknown;
        try {
          doc = parseYamlText(fs.readFileSync(arg, 'utf8'), arg);
          parseScenarioObject(doc, arg); // the file's mistakes, named, before anything is sent
        } catch (err) {
          throw new CtlUsage((err as Error).message);
        }
        const q = new URLSearchParams();
        if (values.seed !== undefined) {
          const seed = Number(values.seed);
          if (!Number.isSafeInteger(seed) || seed < 0) throw new CtlUsage('--seed: expected a non-negative integer');
          q.set('seed', String(seed));
        }
        if (values['dry-run']) q.set('dryRun', 'true');
        const r = await api.ok<ScenarioStatus>('POST', `/scenarios${q.size ? `?${q}` : ''}`, doc);
        if (values.json || values['dry-run']) printJson(r);
        else process.stdout.write(`started ${line(r)}\n`);
        return EXIT.ok;
      }
      case 'status': {
        if (arg) {
          const s = await api.ok<ScenarioStatus>('GET', `/scenarios/${encodeURIComponent(arg)}`);
          if (values.json) printJson(s);
          else
            process.stdout.write(
              [
                line(s),
                ...s.active.map((w) => `  active: ${JSON.stringify(w)}`),
                ...s.errors.map((e) => `  error: ${e}`),
              ]
                .map((l) => l + '\n')
                .join(''),
            );
          return EXIT.ok;
        }
        const runs = await api.ok<ScenarioStatus[]>('GET', '/scenarios');
        if (values.json) printJson(runs);
        else
          process.stdout.write(
            runs.length
              ? table(
                  ['ID', 'NAME', 'STATE', 'ELAPSED', 'STEPS', 'FAILED', 'ACTIVE'],
                  runs.map((s) => [
                    s.id,
                    s.name,
                    s.state,
                    `${s.elapsed}s`,
                    `${s.steps.applied}/${s.steps.planned}`,
                    String(s.steps.failed),
                    String(s.active.length),
                  ]),
                )
              : 'no scenarios\n',
          );
        return EXIT.ok;
      }
      case 'abort': {
        if (!arg) throw new CtlUsage('abort: expected a scenario id');
        const s = await api.ok<ScenarioStatus>('DELETE', `/scenarios/${encodeURIComponent(arg)}`);
        if (values.json) printJson(s);
        else process.stdout.write(`aborted ${line(s)}\n`);
        return EXIT.ok;
      }
    }
    throw new CtlUsage(`unknown action ${JSON.stringify(verb)}`, true);
  });
}
