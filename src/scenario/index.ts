// Scenarios: a file (YAML or JSON) parsed into a Scenario, expanded purely into a ScenarioPlan that the
// daemon's runner executes. Nothing here touches sockets, timers or processes.
//
// How the runner follows a plan:
// - Each track starts at its `at` (ms from the scenario start); tracks run side by side and may overlap.
// - Inside a track, items run one after another: `sleep` waits its ms; `wait` polls its condition
//   (healthy: every member answers health; leader: a leader is elected and every running member agrees)
//   until `timeout`; a failed wait with onTimeout `fail` ends that track only (`continue` goes on).
// - An action with a `duration` holds its track that long and is then undone: faults removed, a frozen
//   member continued, a killed or stopped member started, a partition healed. Without a duration it stays
//   (faults and partitions until the scenario ends or is aborted; a member until a later start).
// - Roles (leader, follower, random-follower) resolve when the action is applied; a fault target's
//   random-follower becomes a member by name through `concreteTarget`.
// - A load action changes the running load's rate and stays until the next change.
// Same file and same seed give the same plan and hash; the quorum guard is applied here (random picks
// skipped, warnings for explicit steps), not by the runner.
export { parseScenario, parseScenarioObject, scenarioSchema } from './parse.js';
export type { MenuItem, Scenario, ScenarioInput, ScenarioStep } from './parse.js';
export { expandScenario, canonicalJson, planHash, type ExpandOptions } from './expand.js';
export { formatPlan, planKinds, actionKind } from './format.js';
export { actionLabel, actionText, targetText } from './labels.js';
export { affectedMembers, minority, trackHolds, peak, RESTART_HOLD_MS, CUTTING_FAULTS, type Hold } from './guard.js';
export { drawTemplate, drawPick } from './random.js';
export { concreteTarget } from './target.js';
export type { ScenarioAction, ScenarioPlan, Track, TrackItem } from './types.js';
