// What a link reports: its faults as applied and its byte counts. The fault schema itself is built by
// the fault registry (faults/registry.ts; parsed at the edge, the engine takes only validated specs).
import type { FaultScope, FaultSpec, FaultType } from './faults/registry.js';

export type { Direction, FaultScope, FaultSpec, FaultSpecInput, FaultType } from './faults/registry.js';

/** A fault as reported by a link (durations normalised to milliseconds). */
export interface FaultInfo {
  id: string;
  type: FaultType;
  scope: FaultScope;
  /** The validated spec, durations in milliseconds. */
  spec: FaultSpec;
  createdAt: string; // ISO time
  expiresAt?: string; // ISO time, when `duration` was given
}

export interface DirectionStats {
  /** bytes read from the source of this direction */
  read: number;
  forwarded: number;
  dropped: number; // drop fault
  corrupted: number; // corrupt fault (still forwarded, counted in forwarded too)
  blackholed: number;
}

export interface LinkStats {
  name: string;
  kind?: 'client' | 'peer' | 'custom';
  member?: string;
  listen: string; // host:port actually bound
  upstream: string; // host:port
  connections: number; // live
  connectionsTotal: number;
  dialFailures: number;
  tx: DirectionStats;
  rx: DirectionStats;
  faults: FaultInfo[];
  /** where this link's etcd-proxy admin API is served, when the daemon serves one */
  compatAdmin?: string;
}
