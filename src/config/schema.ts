// Config files (YAML or JSON) for `etcd-soak run` and the lab: one schema, validated at load; an error
// names the file, the path inside it and what was expected.
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { durationInput } from '../schema/duration.js';
import { linkCreateSchema } from '../schema/link.js';
import { loadProfileSchema } from '../schema/load.js';
import { hostPortSchema } from '../schema/net.js';
import { partitionSpecSchema } from '../schema/partition.js';
import { zodDetails, type ErrorDetail } from '../util/errors.js';

const hostPort = hostPortSchema;

const memberName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, 'expected 1-32 characters [A-Za-z0-9_.-]');

export const launchSchema = z
  .object({
    members: z.number().int().min(1).max(7).default(3),
    /** peers over TLS (etcd --peer-auto-tls): a lossy fault then breaks a connection instead of feeding raft garbage */
    peerTls: z.boolean().default(true),
    etcdBin: z.string().min(1).optional(),
    dataDir: z.string().min(1).optional(),
    keep: z.boolean().default(false),
    /** procfile: member N uses N379/N3790/N380/N3800 (+ admin N378/N381); ephemeral: free ports */
    ports: z.enum(['procfile', 'ephemeral']).default('procfile'),
    portOffset: z.number().int().min(-1000).max(30000).default(0),
    /** serve each link's etcd-proxy admin API on the Procfile's ports (N378 client, N381 peer) */
    compatAdmin: z.boolean().default(true),
    partitions: z
      .boolean()
      .default(true)
      .describe(
        "each member dials its peers through its own egress listener in the daemon (HTTP(S)_PROXY, peer URLs on host 'localhost.'), so a partition knows who dialled whom",
      ),
  })
  .strict();

export const existingSchema = z
  .object({
    members: z
      .array(
        z
          .object({
            name: memberName,
            /** the member's client URL host:port */
            client: hostPort,
            /** the member's peer URL host:port (optional: the topology lists it) */
            peer: hostPort.optional(),
            /** where the client link listens (default: a free port on 127.0.0.1) */
            clientProxy: hostPort.optional(),
            /** serve the client link's etcd-proxy admin API here (unauthenticated, like etcd-proxy's) */
            compatAdmin: hostPort.optional(),
            /**
             * where a peer link in front of `peer` listens; advertise it as the member's peer URL and
             * partitions can be enforced by socket owner (members on this machine, as this user)
             */
            peerProxy: hostPort.optional(),
          })
          .strict()
          .refine((m) => !m.peerProxy || m.peer, { message: 'peerProxy needs the member\'s "peer"', path: ['peer'] }),
      )
      .min(1)
      .superRefine((members, ctx) => {
        // a member is addressed by its name (links, /cluster, faults by member)
        const seen = new Set<string>();
        members.forEach((m, i) => {
          if (seen.has(m.name))
            ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate member name "${m.name}"` });
          seen.add(m.name);
        });
      }),
  })
  .strict();

export const configSchema = z
  .object({
    api: z
      .object({
        listen: hostPort.default('127.0.0.1:8379'),
        token: z.string().min(8, 'expected at least 8 characters').optional(),
      })
      .strict()
      .default({}),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    reportDir: z.string().min(1).default('reports'),
    statusInterval: durationInput.default('5s'),
    cluster: z
      .object({ launch: launchSchema.optional(), existing: existingSchema.optional() })
      .strict()
      .refine((c) => !!c.launch !== !!c.existing, 'expected exactly one of "launch" or "existing"')
      .optional(),
    links: z.array(linkCreateSchema).default([]),
    load: loadProfileSchema.optional(),
    partitions: z
      .array(partitionSpecSchema)
      .max(64)
      .default([])
      .describe('partitions applied once the members are up (each as POST /partitions takes it)'),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly details: ErrorDetail[],
  ) {
    super(`${file}: ${details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ')}`);
  }
}

/** Validates a parsed config object; `file` names it in errors. */
export function parseConfig(raw: unknown, file = '<config>'): Config {
  const r = configSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(file, zodDetails(r.error));
  return r.data;
}

/** Reads a YAML or JSON file (JSON is YAML) and validates it. */
export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [
      { path: '', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` },
    ]);
  }
  return parseConfig(parseYamlText(text, file), file);
}

/** The document in a YAML or JSON text (JSON is YAML); a syntax error is a ConfigError naming the line. */
export function parseYamlText(text: string, file: string): unknown {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}` : '',
        message: e.message.split('\n')[0],
      })),
    );
  }
  return doc.toJS();
}
