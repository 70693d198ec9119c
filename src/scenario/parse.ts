// Reading a scenario file: YAML or JSON, validated against the scenario schema with the proxy's fault
// registry; an error is the config's (file, path, expectation).
import type { z } from 'zod';
import { ConfigError, parseYamlText } from '../config/schema.js';
import { faultSpecSchema } from '../proxy/faults/registry.js';
import { makeScenarioSchema } from '../schema/scenario.js';
import { zodDetails } from '../util/errors.js';

export const scenarioSchema = makeScenarioSchema(faultSpecSchema);
export type ScenarioInput = z.input<typeof scenarioSchema>;
/** A validated scenario (durations in milliseconds, faults parsed, menu templates checked at both ends). */
export type Scenario = z.output<typeof scenarioSchema>;
export type ScenarioStep = Scenario['steps'][number];
export type MenuItem = NonNullable<Scenario['random']>['menu'][number];

/** Validates a parsed scenario document; `file` names it in errors (a ConfigError). */
export function parseScenarioObject(raw: unknown, file = '<scenario>'): Scenario {
  const r = scenarioSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(file, zodDetails(r.error));
  return r.data;
}

/** Parses a scenario file's text (YAML or JSON); throws a ConfigError naming the file, path and expectation. */
export function parseScenario(text: string, file: string): Scenario {
  return parseScenarioObject(parseYamlText(text, file), file);
}
