// The lab's banner: the members (an existing cluster's with what each says of itself, or the launched
// ones with their links and pids), the endpoints, the API and the web page, and a few commands to try.
import type { Daemon } from '../daemon.js';

export function printBanner(
  out: (l: string) => void,
  daemon: Daemon,
  apiUrl: string,
  token: boolean,
  existing: Awaited<ReturnType<Daemon['clusterStatus']>>,
): void {
  const lines = ['', 'etcd-soak is running', ''];
  const links = daemon.listLinks();
  if (existing.length) {
    lines.push('  member  client                 client link            id                leader  revision  health');
    for (const m of existing) {
      const link = m.clientLink ? links.find((l) => l.name === m.clientLink)?.listen : undefined;
      const health = m.ok ? 'ok' : `unreachable (${(m.error ?? '').slice(0, 60)})`;
      // etcd prints member ids in hex (etcdctl member list); the topology learned them so
      const id = m.id ?? '-';
      lines.push(
        `  ${m.name.padEnd(8)}${(m.client ?? '-').padEnd(23)}${(link ?? '-').padEnd(23)}${id.padEnd(18)}${(m.isLeader ? 'yes' : m.ok ? 'no' : '-').padEnd(8)}${String(m.revision ?? '-').padEnd(10)}${health}`,
      );
    }
  }
  const listenOf = (link: string | undefined) => links.find((l) => l.name === link)?.listen ?? '-';
  const launched = daemon.topology.list().filter((m) => m.process);
  if (launched.length) {
    lines.push('  member  client          client link (proxy)  peer            peer link (advertised)  pid');
    for (const m of launched) {
      lines.push(
        `  ${m.name.padEnd(8)}${(m.client ?? '-').padEnd(16)}${listenOf(m.clientLink).padEnd(21)}${(m.peer ?? '-').padEnd(16)}${listenOf(m.peerLink).padEnd(24)}${m.process!.pid}`,
      );
    }
  }
  const eps = daemon.clientEndpoints();
  lines.push('', `  endpoints (through the links): ${eps.join(',')}`);
  lines.push(
    `  API: ${apiUrl}   metrics: ${apiUrl}/metrics   OpenAPI: ${apiUrl}/openapi.json${token ? '   (bearer token required)' : ''}`,
    `  web page: ${apiUrl}/   (live charts, faults and partitions${token ? '; it asks for the token' : ''})`,
  );
  const admin = links.find((l) => l.kind === 'client' && l.compatAdmin);
  const peerLink = links.find((l) => l.kind === 'peer');
  // the token itself is never printed: the lines read it from the shell
  const auth = token ? ' -H "Authorization: Bearer $ETCD_SOAK_TOKEN"' : '';
  lines.push('', token ? '  try (with ETCD_SOAK_TOKEN set to the token in your shell):' : '  try:');
  lines.push(`    ETCDCTL_API=3 etcdctl --endpoints ${eps[0] ?? '127.0.0.1:23790'} put foo bar`);
  if (admin?.compatAdmin)
    lines.push(
      `    curl -L http://localhost:${admin.compatAdmin.split(':').pop()}/delay-tx -X PUT -d "latency=5s&random-variable=100ms"`,
    );
  if (peerLink)
    lines.push(
      `    curl${auth} -X POST ${apiUrl}/links/${peerLink.name}/faults -d '{"type":"blackhole","direction":"tx","duration":"10s"}'`,
    );
  lines.push(`    curl${auth} ${apiUrl}/load`, '');
  out(lines.join('\n'));
}
