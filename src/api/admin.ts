// A link's etcd-proxy admin API on a port of its own (the Procfile's N378/N381), with etcd-proxy's exact
// texts: the daemon is handed this function so that serving HTTP stays in the API layer.
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import type { Metrics } from '../metrics.js';
import type { Link } from '../proxy/link.js';
import { splitHostPort } from '../util/net.js';
import { compatApp } from './compat.js';

export async function serveCompatAdmin(link: Link, listen: string, metrics: Metrics): Promise<Server> {
  const { host, port } = splitHostPort(listen);
  const a = link.address();
  const from = `${a.host || 'localhost'}:${a.port}`;
  const server = createAdaptorServer({ fetch: compatApp(link, { from, to: link.upstream, metrics }).fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host || undefined, () => resolve());
  });
  return server;
}
