// The run's gRPC connections, spread over the client endpoints; every workload shares them. When an
// endpoint goes away its connections move to the remaining ones (a new client each) and whoever holds
// a connection hears of the move.
import type { Logger } from '../util/log.js';
import { EtcdWireClient } from './wire/client.js';

export interface Connection {
  readonly idx: number;
  endpoint: string;
  client: EtcdWireClient;
}

export class ClientPool {
  readonly connections: Connection[];
  private readonly endpoints: string[];
  private readonly moveListeners: ((c: Connection) => void)[] = [];

  constructor(
    endpoints: string[],
    size: number,
    private readonly logger: Logger,
    /** the largest gRPC message a client accepts */
    private readonly maxMessageBytes: number,
  ) {
    this.endpoints = [...endpoints];
    this.connections = Array.from({ length: size }, (_, idx) => {
      const endpoint = this.endpoints[idx % this.endpoints.length];
      return { idx, endpoint, client: this.newClient(endpoint) };
    });
  }

  private newClient(endpoint: string): EtcdWireClient {
    return new EtcdWireClient(endpoint, { logger: this.logger, maxMessageBytes: this.maxMessageBytes });
  }

  /** the endpoints, in the order connections were spread over them */
  get endpointList(): readonly string[] {
    return this.endpoints;
  }

  clients(): EtcdWireClient[] {
    return this.connections.map((c) => c.client);
  }

  /** called after a connection moved (its new client in place; the old one is closed right after) */
  onMove(fn: (c: Connection) => void): void {
    this.moveListeners.push(fn);
  }

  /** Moves the endpoint's connections to the remaining endpoints. Throws when it is the last one. */
  removeEndpoint(endpoint: string): void {
    const i = this.endpoints.indexOf(endpoint);
    if (i < 0) return;
    if (this.endpoints.length === 1) throw new Error(`${endpoint} is the load's only endpoint`);
    this.endpoints.splice(i, 1);
    let n = 0;
    for (const c of this.connections) {
      if (c.endpoint !== endpoint) continue;
      const to = this.endpoints[(c.idx + n++) % this.endpoints.length];
      this.logger.warn({ connection: c.idx, from: endpoint, to }, 'endpoint removed; moving its connection');
      const old = c.client;
      c.endpoint = to;
      c.client = this.newClient(to);
      for (const fn of this.moveListeners) fn(c);
      old.close();
    }
  }

  close(): void {
    for (const c of this.connections) c.client.close();
  }
}
