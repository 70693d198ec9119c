// The expanded plan of a scenario: what the runner (src/daemon/scenarios.ts) executes. See index.ts for
// the semantics the runner follows.
import type { FaultSpec } from '../proxy/faults/registry.js';
import type { MemberActionName, ScenarioPartition, ScenarioTarget } from '../schema/scenario.js';

export type ScenarioAction =
  | { type: 'fault'; target: ScenarioTarget; fault: FaultSpec }
  | { type: 'member'; action: MemberActionName; target: string }
  | { type: 'partition'; spec: ScenarioPartition }
  | { type: 'load'; rate: number };

export type TrackItem =
  | {
      kind: 'action';
      /** unique in the plan: "s3" (steps[2]), "s5#2" (its 2nd repeat), "s6.3" (item 3 of a sequence), "r7" (random) */
      step: string;
      label: string;
      action: ScenarioAction;
      /** ms: the action holds the track this long and is then undone */
      duration?: number;
    }
  | { kind: 'sleep'; ms: number }
  | { kind: 'wait'; condition: 'healthy' | 'leader'; timeout: number; onTimeout: 'fail' | 'continue' };

export interface Track {
  /** "s3", "s5#2" or "r7" */
  id: string;
  /** ms from the scenario start */
  at: number;
  label: string;
  items: TrackItem[];
}

export interface ScenarioPlan {
  name: string;
  description?: string;
  seed: number;
  /** first 16 hex digits of sha256 over the canonical JSON of name, seed, members, duration and tracks */
  hash: string;
  /** ms */
  duration?: number;
  members: number;
  /** sorted by `at` */
  tracks: Track[];
  /** random picks skipped by the quorum guard or maxConcurrent */
  skipped: number;
  /** explicit steps that together take more than a minority of members down or cut off, or run past the duration */
  warnings: string[];
}
