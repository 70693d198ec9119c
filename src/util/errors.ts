// One way to turn validation failures into messages that name the field and what was expected,
// shared by the API (4xx bodies), config loading and the CLIs.
import { ZodError } from 'zod';

export interface ErrorDetail {
  path: string;
  message: string;
}

/** "links[0].upstream" style path; `prefix` names the enclosing object ("load" → "load.rate"). */
export function formatPath(path: (string | number)[], prefix = ''): string {
  let out = prefix;
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : (out ? '.' : '') + seg;
  return out;
}

export function zodDetails(err: ZodError, prefix = ''): ErrorDetail[] {
  return err.issues.map((i) => ({ path: formatPath(i.path, prefix), message: i.message }));
}

/** "field: message; other: message" for a ZodError, the message for anything else. */
export function describeError(err: unknown, prefix = ''): string {
  if (err instanceof ZodError) {
    return zodDetails(err, prefix)
      .map((d) => (d.path ? `${d.path}: ${d.message}` : d.message))
      .join('; ');
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * What the engine says when an operation cannot be done; the API maps each kind to an HTTP status
 * (NotFound 404, Conflict 409, Invalid 400, Unprocessable 422) and the CLIs to exit codes.
 */
export class DomainError extends Error {
  constructor(
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}
/** no such link, fault, member or run */
export class NotFound extends DomainError {}
/** a name or port in use, or a run already going */
export class Conflict extends DomainError {}
/** input the engine cannot take (beyond what the schemas check) */
export class Invalid extends DomainError {}
/** well-formed, but cannot be done in this state */
export class Unprocessable extends DomainError {}
