// The OpenAPI description of the JSON API (kept in the repo as config/openapi.json, written by
// `npm run openapi`; a test checks the served document and the file agree). Request bodies come from
// the zod schemas the routes validate with (schemadoc.ts); the routes are the small table below, and
// the responses, which have no zod schema, are the few hand-written components at the end.
import { MEMBER_ACTIONS } from '../daemon/members.js';
import { compatRoutes } from './compat.js';
import { requestSchemas, type JsonSchema } from './schemadoc.js';

type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';

interface Op {
  summary: string;
  /** a JSON request body: its component */
  body?: string;
  /** the success answer: status, description and (optional) JSON schema */
  ok: [number, string, JsonSchema?];
  /** error statuses, answered with the Error component */
  errors?: number[];
  /** the /healthz route needs no token */
  open?: true;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (name: string) => ({ type: 'array', items: ref(name) });
const counter = (field: string) => ({ type: 'object', properties: { [field]: { type: 'integer' } } });
const json = (schema: JsonSchema) => ({ content: { 'application/json': { schema } } });
const text = { content: { 'text/plain': { schema: { type: 'string' } } } };

const ERRORS: Record<number, string> = {
  400: 'bad input (the details name each field)',
  401: 'missing or wrong bearer token',
  404: 'unknown link, fault, member or route',
  409: 'name or port in use, or a load already running',
  413: 'request body over 1 MiB (not read past the limit)',
  422: 'cannot be done in this state',
};

const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'link name' };
const faultId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
/** the compat routes' names, from the compat layer's own table */
const COMPAT_ROUTES = Object.keys(compatRoutes).map((r) => r.slice(1));
const compatRoute = {
  name: 'compatRoute',
  in: 'path',
  required: true,
  schema: { type: 'string', enum: COMPAT_ROUTES },
};

const memberTarget = {
  name: 'target',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'a member name, or a role: leader, follower (the first by name), random-follower (seeded)',
};
const memberAction = {
  name: 'action',
  in: 'path',
  required: true,
  schema: { type: 'string', enum: [...MEMBER_ACTIONS] },
};

/** The routes: path → (path parameters, operations). */
const ROUTES: Record<string, { params?: object[]; ops: Partial<Record<Method, Op>> }> = {
  '/healthz': {
    ops: {
      get: {
        summary: 'Liveness',
        open: true,
        ok: [200, 'ok', { type: 'object', properties: { ok: { type: 'boolean' } } }],
      },
    },
  },
  '/metrics': {
    ops: {
      get: { summary: 'Prometheus metrics (etcd_soak_* and process metrics)', ok: [200, 'text exposition format'] },
    },
  },
  '/openapi.json': { ops: { get: { summary: 'This document', ok: [200, 'OpenAPI 3.1', { type: 'object' }] } } },
  // the live page: the HTML and its assets carry no secret (served without the token); its data is not
  '/': {
    ops: {
      get: { summary: 'The live page (HTML; asks for the token when one is set)', open: true, ok: [200, 'text/html'] },
    },
  },
  '/ui/{asset}': {
    params: [
      { name: 'asset', in: 'path', required: true, schema: { enum: ['app.js', 'uPlot.iife.min.js', 'uPlot.min.css'] } },
    ],
    ops: {
      get: {
        summary: "The live page's script and uPlot's script and style",
        open: true,
        ok: [200, 'JavaScript or CSS'],
      },
    },
  },
  '/live': {
    ops: {
      get: {
        summary:
          'What the live page starts from: the last 900 interval rows, recent and active fault windows, leader changes, violations, and the open event streams (clients, queued events and bytes, events dropped)',
        ok: [
          200,
          'snapshot',
          { type: 'object', required: ['rows', 'windows', 'leader', 'leaders', 'violations', 'streams', 'at'] },
        ],
        errors: [401],
      },
    },
  },
  '/events': {
    ops: {
      get: {
        summary:
          'Server-Sent Events for the live page: interval, window, leader, violation; resync when this client fell behind (its queue is bounded: fetch /live again)',
        ok: [200, 'text/event-stream'],
        errors: [401],
      },
    },
  },
  '/links': {
    ops: {
      get: {
        summary: 'List links with live stats and active faults',
        ok: [200, 'links', arrayOf('Link')],
        errors: [401],
      },
      post: {
        summary: 'Create a link (listen → upstream)',
        body: 'LinkCreate',
        ok: [201, 'created', ref('Link')],
        errors: [400, 401, 409, 413],
      },
    },
  },
  '/links/{name}': {
    params: [name],
    ops: {
      get: { summary: 'One link', ok: [200, 'link', ref('Link')], errors: [401, 404] },
      delete: {
        summary: 'Stop and remove a link (its connections are closed)',
        ok: [204, 'removed'],
        errors: [401, 404],
      },
    },
  },
  '/links/{name}/faults': {
    params: [name],
    ops: {
      get: { summary: 'Active faults', ok: [200, 'faults', arrayOf('Fault')], errors: [401, 404] },
      post: {
        summary:
          'Add a fault (replaces one of the same type on the same direction); applies at once to open and new connections',
        body: 'FaultSpec',
        ok: [201, 'added', ref('Fault')],
        errors: [400, 401, 404, 413],
      },
      delete: {
        summary: 'Remove every fault of the link',
        ok: [200, 'how many were removed', counter('removed')],
        errors: [401, 404],
      },
    },
  },
  '/links/{name}/faults/{id}': {
    params: [name, faultId],
    ops: { delete: { summary: 'Remove one fault', ok: [204, 'removed'], errors: [401, 404] } },
  },
  '/links/{name}/reset': {
    params: [name],
    ops: {
      post: {
        summary: 'RST every live connection of the link',
        ok: [200, 'how many', counter('reset')],
        errors: [401, 404],
      },
    },
  },
  '/faults': {
    ops: {
      get: {
        summary: 'Every active fault: those addressed to targets, and those added to one link (target: that link)',
        ok: [200, 'faults', arrayOf('TargetedFault')],
        errors: [401],
      },
      post: {
        summary:
          'Apply one fault to every link a target selects (links by name; members by name or role, resolved now; their client or peer links): one id, one expiry',
        body: 'TargetedFaultCreate',
        ok: [201, 'added', ref('TargetedFault')],
        errors: [400, 401, 404, 413, 422],
      },
      delete: { summary: 'Remove every fault', ok: [200, 'how many', counter('removed')], errors: [401] },
    },
  },
  '/faults/{id}': {
    params: [faultId],
    ops: {
      get: { summary: 'One fault', ok: [200, 'fault', ref('TargetedFault')], errors: [401, 404] },
      delete: { summary: 'Remove a fault from every link it is on', ok: [204, 'removed'], errors: [401, 404] },
    },
  },
  '/partitions': {
    ops: {
      get: { summary: 'Active partitions', ok: [200, 'partitions', arrayOf('Partition')], errors: [401] },
      post: {
        summary:
          "Cut members off from each other: isolate (a member or the leader, resolved now), groups, one-way from/to, or a preset (halves, ring, bridge); total or lossy; one id, optional duration, heals on delete. Enforced at the members' egress listeners (launched members only; otherwise 422 says why)",
        body: 'PartitionCreate',
        ok: [201, 'created', ref('Partition')],
        errors: [400, 401, 404, 413, 422],
      },
      delete: { summary: 'Heal every partition', ok: [200, 'how many', counter('healed')], errors: [401] },
    },
  },
  '/partitions/{id}': {
    params: [faultId],
    ops: {
      get: { summary: 'One partition', ok: [200, 'partition', ref('Partition')], errors: [401, 404] },
      delete: { summary: 'Heal a partition', ok: [204, 'healed'], errors: [401, 404] },
    },
  },
  '/peers': {
    ops: {
      get: {
        summary:
          'Peer traffic per (from, to) member pair through the egress listeners: bytes, live tunnels, refused dials, the effect in force',
        ok: [200, 'pairs', { type: 'array', items: { type: 'object' } }],
        errors: [401],
      },
    },
  },
  '/members': {
    ops: {
      get: {
        summary: 'The members the daemon knows (launched ones with pid and state) and the open member fault windows',
        ok: [200, 'members and windows', ref('MemberList')],
        errors: [401],
      },
    },
  },
  '/members/{target}/{action}': {
    params: [memberTarget, memberAction],
    ops: {
      post: {
        summary:
          'A member process fault on a launched member, by name or role (resolved now): kill (SIGKILL), stop (SIGTERM), freeze (SIGSTOP), continue (SIGCONT), restart (same data dir and flags; answers once it serves), start (an exited member; once it serves). kill/stop/freeze open a window (with duration: undone after it), start/restart/continue close it',
        body: 'MemberAction',
        ok: [200, 'applied', ref('MemberActionResult')],
        errors: [400, 401, 404, 409, 413, 422],
      },
    },
  },
  '/scenarios': {
    params: [
      {
        name: 'seed',
        in: 'query',
        schema: { type: 'integer', minimum: 0 },
        description: "replaces the scenario's random seed",
      },
      {
        name: 'dryRun',
        in: 'query',
        schema: { type: 'boolean' },
        description: 'answer the expanded plan; run nothing',
      },
    ],
    ops: {
      get: {
        summary: 'Scenario runs: the running one and the last finished ones',
        ok: [200, 'runs', arrayOf('ScenarioStatus')],
        errors: [401],
      },
      post: {
        summary:
          "Run a scenario (the document a scenario file holds, as JSON), expanded for the daemon's members: 201 with its progress; with dryRun, 200 with the plan and its hash. One runs at a time (409)",
        body: 'Scenario',
        ok: [201, 'started (dryRun: 200, the plan)', ref('ScenarioStatus')],
        errors: [400, 401, 409, 413],
      },
    },
  },
  '/scenarios/{id}': {
    params: [faultId],
    ops: {
      get: {
        summary: 'A scenario run: progress, active windows, step timings, errors',
        ok: [200, 'run', ref('ScenarioStatus')],
        errors: [401, 404],
      },
      delete: {
        summary: 'Abort a scenario run: its faults removed, its partitions healed, its members continued or started',
        ok: [200, 'the run, aborted', ref('ScenarioStatus')],
        errors: [401, 404],
      },
    },
  },
  '/reset': {
    ops: {
      post: { summary: 'Remove every fault on every link', ok: [200, 'how many', counter('cleared')], errors: [401] },
    },
  },
  '/load': {
    ops: {
      get: {
        summary: 'Load status: state, profile, live rates, latency percentiles, violations',
        ok: [200, 'status', ref('LoadStatus')],
        errors: [401],
      },
      put: {
        summary: 'Start a load run (409 while one runs, unless replace is true: then the current run is stopped first)',
        body: 'LoadStart',
        ok: [201, 'started', ref('LoadStatus')],
        errors: [400, 401, 409, 413, 422],
      },
      patch: {
        summary: 'Change the put rate live',
        body: 'Rate',
        ok: [200, 'status', ref('LoadStatus')],
        errors: [400, 401, 404, 413],
      },
      delete: {
        summary: 'Stop the load (waits up to putTimeout + settle) and return the summary',
        ok: [200, 'summary', ref('LoadStatus')],
        errors: [401, 404],
      },
    },
  },
  '/cluster': {
    ops: {
      get: {
        summary:
          "The members the daemon knows (launched, or an existing cluster's from its links) with each member's own status: id, leader, isLeader, revision, ok",
        ok: [200, 'members', { type: 'array', items: { type: 'object' } }],
        errors: [401, 404],
      },
    },
  },
};

function operation(op: Op): object {
  const [status, description, schema] = op.ok;
  const answer = schema
    ? { description, ...json(schema) }
    : status === 200
      ? { description, ...text }
      : { description };
  return {
    summary: op.summary,
    ...(op.open ? { security: [] } : {}),
    ...(op.body ? { requestBody: { required: true, ...json(ref(op.body)) } } : {}),
    responses: {
      [status]: answer,
      ...Object.fromEntries((op.errors ?? []).map((c) => [c, { description: ERRORS[c], ...json(ref('Error')) }])),
    },
  };
}

/** The etcd-proxy compatible routes under each link: Go's texts, always 200 text/plain. */
const compatPath = {
  parameters: [name, compatRoute],
  get: {
    summary: "etcd-proxy compatible route: same texts as etcd's etcd-proxy (always 200 text/plain)",
    responses: { 200: { description: 'text', ...text } },
  },
  put: {
    summary:
      'etcd-proxy compatible route; form body (latency, random-variable, probability, rate), at most 10 MiB as in Go; parameters are validated by the FaultSpec schema and errors answered as `wrong <param> form "..."` text',
    requestBody: { content: { 'application/x-www-form-urlencoded': { schema: { type: 'object' } } } },
    responses: { 200: { description: 'text', ...text } },
  },
  delete: { summary: 'etcd-proxy compatible route', responses: { 200: { description: 'text', ...text } } },
};

function paths(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [path, { params, ops }] of Object.entries(ROUTES)) {
    out[path] = {
      ...(params ? { parameters: params } : {}),
      ...Object.fromEntries(Object.entries(ops).map(([m, op]) => [m, operation(op)])),
    };
    // the compat routes share /links/{name}/ with the JSON routes; listed after them, as they are matched
    if (path === '/links/{name}/reset') out['/links/{name}/{compatRoute}'] = compatPath;
  }
  return out;
}

const integer = { type: 'integer' };
const object = { type: 'object' };
const string = { type: 'string' };

/** The answers' components (no zod schema describes them). */
const RESPONSE_SCHEMAS: Record<string, JsonSchema> = {
  Error: {
    type: 'object',
    required: ['error', 'details'],
    properties: {
      error: string,
      details: { type: 'array', items: { type: 'object', properties: { path: string, message: string } } },
    },
  },
  Link: {
    type: 'object',
    properties: {
      ...{ name: string, kind: string, member: string, listen: string, upstream: string },
      ...{ connections: integer, connectionsTotal: integer, dialFailures: integer },
      tx: ref('DirectionStats'),
      rx: ref('DirectionStats'),
      faults: arrayOf('Fault'),
      compatAdmin: string,
    },
  },
  DirectionStats: {
    type: 'object',
    properties: { read: integer, forwarded: integer, dropped: integer, corrupted: integer, blackholed: integer },
  },
  Fault: {
    type: 'object',
    properties: {
      id: string,
      type: string,
      scope: { enum: ['tx', 'rx', 'accept', 'link'] },
      spec: { type: 'object', description: 'the validated spec, durations in ms' },
      createdAt: string,
      expiresAt: string,
    },
  },
  Partition: {
    type: 'object',
    properties: {
      id: string,
      spec: { type: 'object', description: 'the request as parsed, durations in ms' },
      cut: {
        type: 'array',
        description: "the directed member pairs cut: from's traffic to `to`",
        items: { type: 'object', properties: { from: string, to: string } },
      },
      groups: { type: 'array', items: { type: 'array', items: string } },
      seed: { type: 'integer', description: 'presets: the seed of the choice of members' },
      summary: string,
      effect: {
        type: 'object',
        description: 'kind cut (established blackhole|reset), drop (probability) or delay (latency, jitter ms)',
      },
      createdAt: string,
      expiresAt: string,
    },
  },
  TargetedFault: {
    type: 'object',
    properties: {
      id: string,
      type: string,
      scope: { enum: ['tx', 'rx', 'accept', 'link'] },
      spec: { type: 'object', description: 'the validated spec, durations in ms' },
      target: ref('FaultTarget'),
      links: { type: 'array', items: string, description: 'the links it is on now' },
      createdAt: string,
      expiresAt: string,
    },
  },
  ScenarioStatus: {
    type: 'object',
    required: [
      'id',
      'name',
      'hash',
      'seed',
      'state',
      'startedAt',
      'elapsed',
      'steps',
      'active',
      'log',
      'errors',
      'skew',
    ],
    properties: {
      id: string,
      name: string,
      hash: { type: 'string', description: "the plan's hash (the same file and seed give the same hash)" },
      seed: integer,
      state: { enum: ['running', 'done', 'aborted'] },
      startedAt: string,
      endedAt: string,
      elapsed: { type: 'number', description: 'seconds' },
      tracks: { type: 'object', properties: { total: integer, done: integer } },
      steps: { type: 'object', properties: { planned: integer, applied: integer, failed: integer } },
      active: { type: 'array', items: { type: 'object' }, description: "this run's fault windows in force now" },
      log: {
        type: 'array',
        items: { type: 'object' },
        description: 'each step: planned and applied offsets (ms), skew, window, undo',
      },
      errors: { type: 'array', items: string },
      skew: {
        type: 'object',
        description: 'ms from when steps were due to when they took effect',
        properties: { p50: { type: 'number' }, p99: { type: 'number' }, max: { type: 'number' }, count: integer },
      },
    },
  },
  MemberActionResult: {
    type: 'object',
    required: ['member', 'action', 'state', 'at'],
    properties: {
      member: string,
      action: { enum: [...MEMBER_ACTIONS] },
      state: { enum: ['running', 'stopped', 'exited'], description: 'stopped: frozen (SIGSTOP)' },
      pid: integer,
      at: { type: 'string', description: 'when the action took effect (ISO time)' },
      window: { type: 'string', description: 'the member fault window it opened or closed (m1, m2, …)' },
    },
  },
  MemberList: {
    type: 'object',
    properties: {
      members: { type: 'array', items: object },
      windows: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: string,
            kind: { enum: ['kill', 'stop', 'freeze', 'restart'] },
            member: string,
            since: string,
          },
        },
      },
    },
  },
  LoadStatus: {
    type: 'object',
    properties: {
      runId: string,
      state: { enum: ['idle', 'created', 'starting', 'running', 'stopping', 'stopped'] },
      ...{ rates: object, counts: object, violations: object, watchers: object, latency: object, verdict: object },
      thresholds: {
        type: 'array',
        description: "the profile's thresholds judged on this status: {expr, value (null: not measured), ok, window?}",
        items: object,
      },
      passed: { type: 'boolean', description: 'every threshold holds (none stated: true)' },
    },
  },
};

export function openapiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'etcd-soak API',
      version: '0.1.0',
      description:
        'Fault proxy links, faults and the watch/put load of an etcd-soak daemon. JSON in and out; durations are Go durations ("250ms", "1h30m") or milliseconds. Request bodies are limited to 1 MiB (413); the etcd-proxy compat routes read forms up to 10 MiB like Go and always answer 200 text. With --token every route but /healthz and the live page with its assets (GET /, /ui/*) needs "Authorization: Bearer <token>".',
    },
    servers: [{ url: 'http://127.0.0.1:8379' }],
    security: [{ bearer: [] }, {}],
    paths: paths(),
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { ...requestSchemas(), ...RESPONSE_SCHEMAS },
    },
  };
}
