// The OpenAPI description of the JSON API (kept in the repo as config/openapi.json; a test checks the
// served document and the file agree).
const err = { $ref: '#/components/schemas/Error' };
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const text = { content: { 'text/plain': { schema: { type: 'string' } } } };
const errors = (...codes: number[]) =>
  Object.fromEntries(
    codes.map((c) => [
      String(c),
      {
        description:
          {
            400: 'bad input (the details name each field)',
            401: 'missing or wrong bearer token',
            404: 'unknown link, fault or route',
            409: 'name or port in use, or a load already running',
            413: 'request body over 1 MiB (not read past the limit)',
            422: 'cannot be done in this state',
          }[c] ?? 'error',
        ...json(err),
      },
    ]),
  );
const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'link name' };

export function openapiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'etcd-soak API',
      version: '0.1.0',
      description:
        'Fault proxy links, faults and the watch/put load of an etcd-soak daemon. JSON in and out; durations are Go durations ("250ms", "1h30m") or milliseconds. Request bodies are limited to 1 MiB (413); the etcd-proxy compat routes read forms up to 10 MiB like Go and always answer 200 text. With --token every route but /healthz needs "Authorization: Bearer <token>".',
    },
    servers: [{ url: 'http://127.0.0.1:8379' }],
    security: [{ bearer: [] }, {}],
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness',
          security: [],
          responses: {
            200: { description: 'ok', ...json({ type: 'object', properties: { ok: { type: 'boolean' } } }) },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (etcd_soak_* and process metrics)',
          responses: { 200: { description: 'text exposition format', ...text } },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          responses: { 200: { description: 'OpenAPI 3.1', ...json({ type: 'object' }) } },
        },
      },
      '/links': {
        get: {
          summary: 'List links with live stats and active faults',
          responses: {
            200: { description: 'links', ...json({ type: 'array', items: { $ref: '#/components/schemas/Link' } }) },
            ...errors(401),
          },
        },
        post: {
          summary: 'Create a link (listen → upstream)',
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/LinkCreate' }) },
          responses: {
            201: { description: 'created', ...json({ $ref: '#/components/schemas/Link' }) },
            ...errors(400, 401, 409, 413),
          },
        },
      },
      '/links/{name}': {
        parameters: [name],
        get: {
          summary: 'One link',
          responses: {
            200: { description: 'link', ...json({ $ref: '#/components/schemas/Link' }) },
            ...errors(401, 404),
          },
        },
        delete: {
          summary: 'Stop and remove a link (its connections are closed)',
          responses: { 204: { description: 'removed' }, ...errors(401, 404) },
        },
      },
      '/links/{name}/faults': {
        parameters: [name],
        get: {
          summary: 'Active faults',
          responses: {
            200: { description: 'faults', ...json({ type: 'array', items: { $ref: '#/components/schemas/Fault' } }) },
            ...errors(401, 404),
          },
        },
        post: {
          summary:
            'Add a fault (replaces one of the same type on the same direction); applies at once to open and new connections',
          requestBody: { required: true, ...json({ $ref: '#/components/schemas/FaultSpec' }) },
          responses: {
            201: { description: 'added', ...json({ $ref: '#/components/schemas/Fault' }) },
            ...errors(400, 401, 404, 413),
          },
        },
        delete: {
          summary: 'Remove every fault of the link',
          responses: {
            200: {
              description: 'how many were removed',
              ...json({ type: 'object', properties: { removed: { type: 'integer' } } }),
            },
            ...errors(401, 404),
          },
        },
      },
      '/links/{name}/faults/{id}': {
        parameters: [name, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        delete: { summary: 'Remove one fault', responses: { 204: { description: 'removed' }, ...errors(401, 404) } },
      },
      '/links/{name}/reset': {
        parameters: [name],
        post: {
          summary: 'RST every live connection of the link',
          responses: {
            200: { description: 'how many', ...json({ type: 'object', properties: { reset: { type: 'integer' } } }) },
            ...errors(401, 404),
          },
        },
      },
      '/links/{name}/{compatRoute}': {
        parameters: [
          name,
          {
            name: 'compatRoute',
            in: 'path',
            required: true,
            schema: {
              type: 'string',
              enum: [
                'delay-tx',
                'delay-rx',
                'pause-tx',
                'pause-rx',
                'blackhole-tx',
                'blackhole-rx',
                'drop-tx',
                'drop-rx',
                'corrupt-tx',
                'corrupt-rx',
                'bandwidth-tx',
                'bandwidth-rx',
                'accept-delay',
                'accept-pause',
                'refuse',
                'reset',
                'reset-listener',
              ],
            },
          },
        ],
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
      },
      '/reset': {
        post: {
          summary: 'Remove every fault on every link',
          responses: {
            200: { description: 'how many', ...json({ type: 'object', properties: { cleared: { type: 'integer' } } }) },
            ...errors(401),
          },
        },
      },
      '/load': {
        get: {
          summary: 'Load status: state, profile, live rates, latency percentiles, violations',
          responses: {
            200: { description: 'status', ...json({ $ref: '#/components/schemas/LoadStatus' }) },
            ...errors(401),
          },
        },
        put: {
          summary:
            'Start a load run (409 while one runs, unless replace is true: then the current run is stopped first)',
          requestBody: {
            required: true,
            ...json({
              type: 'object',
              additionalProperties: false,
              properties: {
                profile: { $ref: '#/components/schemas/LoadProfile' },
                endpoints: { type: 'array', items: { type: 'string', description: 'host:port' } },
                replace: {
                  type: 'boolean',
                  description: 'stop a running load and start this one instead of answering 409',
                },
              },
            }),
          },
          responses: {
            201: { description: 'started', ...json({ $ref: '#/components/schemas/LoadStatus' }) },
            ...errors(400, 401, 409, 413, 422),
          },
        },
        patch: {
          summary: 'Change the put rate live',
          requestBody: {
            required: true,
            ...json({
              type: 'object',
              required: ['rate'],
              additionalProperties: false,
              properties: { rate: { type: 'number', minimum: 0 } },
            }),
          },
          responses: {
            200: { description: 'status', ...json({ $ref: '#/components/schemas/LoadStatus' }) },
            ...errors(400, 401, 404, 413),
          },
        },
        delete: {
          summary: 'Stop the load (waits up to putTimeout + settle) and return the summary',
          responses: {
            200: { description: 'summary', ...json({ $ref: '#/components/schemas/LoadStatus' }) },
            ...errors(401, 404),
          },
        },
      },
      '/cluster': {
        get: {
          summary:
            "The members the daemon knows (launched, or an existing cluster's from its links) with each member's own status: id, leader, isLeader, revision, ok",
          responses: {
            200: { description: 'members', ...json({ type: 'array', items: { type: 'object' } }) },
            ...errors(401, 404),
          },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'details'],
          properties: {
            error: { type: 'string' },
            details: {
              type: 'array',
              items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
            },
          },
        },
        LinkCreate: {
          type: 'object',
          required: ['name', 'listen', 'upstream'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
            listen: { type: 'string', description: 'host:port (port 0 = any free port)' },
            upstream: { type: 'string', description: 'host:port' },
            kind: { enum: ['client', 'peer', 'custom'] },
            member: { type: 'string' },
            compatAdmin: { type: 'string', description: "host:port to serve this link's etcd-proxy admin API on" },
          },
        },
        Link: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            kind: { type: 'string' },
            member: { type: 'string' },
            listen: { type: 'string' },
            upstream: { type: 'string' },
            connections: { type: 'integer' },
            connectionsTotal: { type: 'integer' },
            dialFailures: { type: 'integer' },
            tx: { $ref: '#/components/schemas/DirectionStats' },
            rx: { $ref: '#/components/schemas/DirectionStats' },
            faults: { type: 'array', items: { $ref: '#/components/schemas/Fault' } },
            compatAdmin: { type: 'string' },
          },
        },
        DirectionStats: {
          type: 'object',
          properties: {
            read: { type: 'integer' },
            forwarded: { type: 'integer' },
            dropped: { type: 'integer' },
            corrupted: { type: 'integer' },
            blackholed: { type: 'integer' },
          },
        },
        Duration: {
          oneOf: [
            { type: 'string', description: 'Go duration, e.g. "250ms"' },
            { type: 'number', description: 'milliseconds' },
          ],
        },
        FaultSpec: {
          type: 'object',
          required: ['type'],
          description:
            "type delay: direction, latency, jitter, distribution (uniform|normal|pareto|paretonormal); pause, blackhole: direction; drop, corrupt: direction, probability (0,1]; bandwidth: direction, rate (bytes/s); reset (one shot); refuse: mode (rst|close); accept-delay: latency, jitter; accept-pause; reset-listener (one shot). Any may carry duration (removes itself). Latency and jitter: 0 up to Go's largest duration (2562047h47m16.854775807s); duration: 1ms to 168h (omit it for no expiry).",
          properties: {
            type: {
              enum: [
                'delay',
                'pause',
                'blackhole',
                'drop',
                'corrupt',
                'bandwidth',
                'reset',
                'refuse',
                'accept-delay',
                'accept-pause',
                'reset-listener',
              ],
            },
            direction: { enum: ['tx', 'rx'] },
            latency: { $ref: '#/components/schemas/Duration' },
            jitter: { $ref: '#/components/schemas/Duration' },
            distribution: { enum: ['uniform', 'normal', 'pareto', 'paretonormal'] },
            probability: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
            rate: { type: 'integer', minimum: 1, maximum: 10737418240 },
            mode: { enum: ['rst', 'close'] },
            duration: { $ref: '#/components/schemas/Duration', description: '1ms to 168h; omit it for no expiry' },
          },
        },
        Fault: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            type: { type: 'string' },
            scope: { enum: ['tx', 'rx', 'accept', 'link'] },
            spec: { type: 'object', description: 'the validated spec, durations in ms' },
            createdAt: { type: 'string' },
            expiresAt: { type: 'string' },
          },
        },
        LoadProfile: {
          type: 'object',
          additionalProperties: false,
          properties: {
            connections: { type: 'integer' },
            watchers: { type: 'integer' },
            keys: { type: 'integer' },
            rate: { type: 'number' },
            valueSize: { type: 'integer' },
            duration: { $ref: '#/components/schemas/Duration' },
            putTimeout: { $ref: '#/components/schemas/Duration' },
            settle: { $ref: '#/components/schemas/Duration' },
            prefix: { type: 'string' },
            maxInFlight: { type: 'integer' },
            watchMode: { enum: ['key', 'prefix'] },
            interval: { $ref: '#/components/schemas/Duration' },
          },
        },
        LoadStatus: {
          type: 'object',
          properties: {
            runId: { type: 'string' },
            state: { enum: ['idle', 'created', 'starting', 'running', 'stopping', 'stopped'] },
            rates: { type: 'object' },
            counts: { type: 'object' },
            violations: { type: 'object' },
            watchers: { type: 'object' },
            latency: { type: 'object' },
            verdict: { type: 'object' },
          },
        },
      },
    },
  };
}
