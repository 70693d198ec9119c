// `etcd-soak ctl links`: list (the default), show, create, delete.
import { linkCreateSchema } from '../../schema/link.js';
import { describeError } from '../../util/errors.js';
import { EXIT } from '../../util/exit.js';
import { Api, bytes, COMMON_HELP, CTL_EXIT_HELP, CtlUsage, parse, printJson, runCtl, table } from './client.js';
import { faultParams } from './faults.js';

export const LINKS_HELP = `Usage: etcd-soak ctl links [list|show NAME|create NAME|delete NAME] [options]

  etcd-soak ctl links                       every link: listen → upstream, connections, bytes, faults
  etcd-soak ctl links show s1-client        one link with its faults
  etcd-soak ctl links create my-link --listen 127.0.0.1:23790 --upstream 127.0.0.1:2379
  etcd-soak ctl links delete my-link

Options:
  --listen H:P       create: where the link listens (HOST:PORT)
  --upstream H:P     create: where it forwards (HOST:PORT)
  --kind K           create: client, peer or custom (default custom)
  --member M         create: the member it belongs to
${COMMON_HELP}

${CTL_EXIT_HELP}`;

interface DirStats {
  read: number;
  forwarded: number;
  dropped: number;
}
export interface LinkRow {
  name: string;
  kind: string;
  member?: string;
  listen: string;
  upstream: string;
  connections: number;
  connectionsTotal: number;
  tx: DirStats;
  rx: DirStats;
  faults: { id: string; type: string; scope: string; spec: Record<string, unknown>; expiresAt?: string }[];
}

function linkRows(links: LinkRow[]): string {
  return table(
    ['NAME', 'KIND', 'MEMBER', 'LISTEN', 'UPSTREAM', 'CONN', 'TX', 'RX', 'FAULTS'],
    links.map((l) => [
      l.name,
      l.kind,
      l.member ?? '-',
      l.listen,
      l.upstream,
      String(l.connections),
      bytes(l.tx.forwarded),
      bytes(l.rx.forwarded),
      l.faults.length ? l.faults.map((f) => `${f.type}/${f.scope}`).join(',') : '-',
    ]),
  );
}

function showLink(l: LinkRow): string {
  const lines = [
    `${l.name} (${l.kind}${l.member ? `, member ${l.member}` : ''}): ${l.listen} → ${l.upstream}`,
    `  connections ${l.connections} open, ${l.connectionsTotal} total`,
    `  tx ${bytes(l.tx.read)} read, ${bytes(l.tx.forwarded)} forwarded, ${l.tx.dropped} dropped`,
    `  rx ${bytes(l.rx.read)} read, ${bytes(l.rx.forwarded)} forwarded, ${l.rx.dropped} dropped`,
    `  faults: ${l.faults.length ? '' : 'none'}`,
    ...l.faults.map(
      (f) => `    ${f.id}  ${f.type} ${f.scope}  ${faultParams(f.spec)}${f.expiresAt ? `  until ${f.expiresAt}` : ''}`,
    ),
  ];
  return lines.join('\n') + '\n';
}

export function linksCommand(argv: string[]): Promise<number> {
  return runCtl('links', LINKS_HELP, async () => {
    const { values, positionals } = parse(argv, {
      listen: { type: 'string' },
      upstream: { type: 'string' },
      kind: { type: 'string' },
      member: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(LINKS_HELP + '\n');
      return EXIT.ok;
    }
    const [verb = 'list', name, extra] = positionals;
    const api = new Api(values);
    const needName = () => {
      if (!name || extra !== undefined) throw new CtlUsage(`${verb}: expected one link name`);
      return encodeURIComponent(name);
    };
    switch (verb) {
      case 'list': {
        if (name !== undefined) throw new CtlUsage('list: expected no argument (show NAME for one link)');
        const links = await api.ok<LinkRow[]>('GET', '/links');
        if (values.json) printJson(links);
        else process.stdout.write(linkRows(links));
        return EXIT.ok;
      }
      case 'show': {
        const link = await api.ok<LinkRow>('GET', `/links/${needName()}`);
        if (values.json) printJson(link);
        else process.stdout.write(showLink(link));
        return EXIT.ok;
      }
      case 'create': {
        needName();
        const body = {
          name,
          listen: values.listen,
          upstream: values.upstream,
          ...(values.kind !== undefined ? { kind: values.kind } : {}),
          ...(values.member !== undefined ? { member: values.member } : {}),
        };
        const r = linkCreateSchema.safeParse(body);
        if (!r.success)
          throw new CtlUsage(
            describeError(r.error).replace(/(^|; )(listen|upstream|kind|member):/g, (_, sep, f) => `${sep}--${f}:`),
          );
        const link = await api.ok<LinkRow>('POST', '/links', body);
        if (values.json) printJson(link);
        else process.stdout.write(`created ${link.name}: ${link.listen} → ${link.upstream}\n`);
        return EXIT.ok;
      }
      case 'delete': {
        await api.ok('DELETE', `/links/${needName()}`);
        if (values.json) printJson({ deleted: name });
        else process.stdout.write(`deleted ${name}\n`);
        return EXIT.ok;
      }
    }
    throw new CtlUsage(`unknown action ${JSON.stringify(verb)}`, true);
  });
}
